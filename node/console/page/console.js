// The console page: renders the node's snapshots and live events from /api/feed. Everything a peer sent is set as text, never as markup.

const $ = id => document.getElementById(id)
const SVG = 'http://www.w3.org/2000/svg'
const MAX_EVENTS = 50
const MAX_LOG = 200
const MAX_DRAWN = 60

let previous // the last snapshot's call counts, for rates over the refresh
let names = new Map() // peer id -> a short name for events

function el (tag, text, cls) {
  const e = document.createElement(tag)
  if (text !== undefined) e.textContent = text
  if (cls !== undefined) e.className = cls
  return e
}

function short (peer) {
  return peer.length > 14 ? `${peer.slice(0, 6)}…${peer.slice(-6)}` : peer
}

function duration (ms) {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
}

function seconds (s) {
  if (s === undefined) return '—'
  if (s === Infinity) return '> 30 s'
  return s < 0.001 ? `≤ ${Math.round(s * 1e6)} µs` : s < 1 ? `≤ ${+(s * 1000).toPrecision(3)} ms` : `≤ ${s} s`
}

function replaceRows (tbody, rows) {
  tbody.replaceChildren(...rows)
}

function row (cells) {
  const tr = document.createElement('tr')
  for (const c of cells) {
    if (c instanceof Node) {
      const td = document.createElement('td')
      td.append(c)
      tr.append(td)
    } else if (typeof c === 'object' && c !== null) {
      tr.append(el('td', c.text, c.cls))
    } else {
      tr.append(el('td', String(c)))
    }
  }
  return tr
}

function labels (obj) {
  const span = document.createElement('span')
  for (const [k, v] of Object.entries(obj)) span.append(el('span', `${k}=${v}`, 'label'))
  return span
}

/** The addresses without the peer id they all end in; the full list on hover. */
function addresses (list) {
  const span = el('span', list.length === 0 ? '—' : list.map(a => a.replace(/\/p2p\/[^/]+$/, '')).join(' '), 'mono')
  span.title = list.join('\n')
  return span
}

function nameOf (p) {
  return p.labels.name ?? p.labels.host ?? short(p.peer)
}

function renderNode (state) {
  $('lattice').textContent = `lattice ${state.node.lattice}`
  $('peer').textContent = state.node.peer
  $('version').textContent = state.node.version !== undefined ? `v${state.node.version}` : ''
  $('uptime').textContent = duration(state.node.uptimeMs)
  $('http').textContent = state.node.http !== undefined ? `HTTP at ${state.node.http}` : 'no HTTP gateway'
}

function renderPeers (state) {
  const nodes = state.peers.filter(p => !p.client)
  $('peer-count').textContent = `(${nodes.length}${state.omittedPeers > 0 ? ` + ${state.omittedPeers} not listed` : ''})`
  replaceRows($('peer-rows'), state.peers.map(p => {
    const peerCell = el('code', short(p.peer))
    peerCell.title = p.peer
    const stateText = p.local ? 'this node' : `${p.connected ? 'connected' : 'known'}${p.healthy ? '' : ', backing off'}${p.client ? ' (client)' : ''}`
    const tr = row([
      peerCell,
      { text: stateText, cls: p.local || (p.connected && p.healthy) ? 'up' : p.healthy ? '' : 'down' },
      labels(p.labels),
      addresses(p.addresses),
      { text: p.latencyMs === undefined ? '—' : `${p.latencyMs.toFixed(1)} ms`, cls: 'num' },
      { text: String(p.inflight), cls: 'num' }
    ])
    tr.dataset.peer = p.peer
    return tr
  }))
}

function renderInterfaces (state) {
  const rows = []
  const byIface = new Map()
  for (const p of state.peers) {
    for (const e of p.exports) {
      if (!byIface.has(e.iface)) byIface.set(e.iface, [])
      byIface.get(e.iface).push({ p, e })
    }
  }
  for (const iface of [...byIface.keys()].sort()) {
    for (const { p, e } of byIface.get(iface)) {
      const tr = row([el('code', iface), p.local ? 'this node' : nameOf(p), e.name ?? '—', el('code', e.digest.slice(0, 12)), { text: `${e.load}/${e.capacity}`, cls: 'num' }])
      tr.dataset.iface = iface
      rows.push(tr)
    }
  }
  replaceRows($('iface-rows'), rows)
}

/** Per interface and direction, what changed since the last snapshot: calls and errors per second, p50 and p99 by bucket. */
function renderCalls (state) {
  if (state.calls === undefined) return
  const bounds = state.calls.boundsSeconds
  const now = new Map()
  for (const s of state.calls.series) {
    const key = `${s.direction}\n${s.iface}`
    const agg = now.get(key) ?? { direction: s.direction, iface: s.iface, count: 0, errors: 0, buckets: new Array(bounds.length + 1).fill(0) }
    agg.count += s.count
    agg.errors += s.errors
    s.buckets.forEach((n, i) => { agg.buckets[i] += n })
    now.set(key, agg)
  }
  const dt = previous === undefined ? 0 : (state.at - previous.at) / 1000
  const rows = []
  for (const [key, s] of [...now].sort(([a], [b]) => a.localeCompare(b))) {
    const before = previous?.series.get(key)
    const calls = s.count - (before?.count ?? 0)
    const errors = s.errors - (before?.errors ?? 0)
    const window = s.buckets.map((n, i) => n - (before?.buckets[i] ?? 0))
    const quantile = q => {
      if (calls <= 0) return undefined
      let seen = 0
      for (let i = 0; i < window.length; i++) {
        seen += window[i]
        if (seen >= q * calls) return i < bounds.length ? bounds[i] : Infinity
      }
      return Infinity
    }
    const tr = row([
      el('code', s.iface), s.direction,
      { text: dt > 0 ? (calls / dt).toFixed(1) : '—', cls: 'num' },
      { text: dt > 0 ? (errors / dt).toFixed(1) : '—', cls: errors > 0 ? 'num down' : 'num' },
      { text: seconds(quantile(0.5)), cls: 'num' },
      { text: seconds(quantile(0.99)), cls: 'num' },
      { text: String(s.count), cls: 'num' }
    ])
    tr.dataset.iface = s.iface
    tr.dataset.direction = s.direction
    rows.push(tr)
  }
  replaceRows($('call-rows'), rows)
  previous = { at: state.at, series: now }
}

function renderTopology (state) {
  const svg = $('topology')
  const self = state.peers.find(p => p.local)
  const others = state.peers.filter(p => !p.local).slice(0, MAX_DRAWN)
  const cx = 300
  const cy = 180
  const shapes = []
  const place = (p, i, n) => {
    const r = p.connected ? 120 : 160
    const a = (2 * Math.PI * i) / Math.max(n, 1) - Math.PI / 2
    return { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a) }
  }
  const points = others.map((p, i) => ({ p, ...place(p, i, others.length) }))
  for (const { p, x, y } of points) {
    if (!p.connected) continue
    const line = document.createElementNS(SVG, 'line')
    line.setAttribute('x1', String(cx)); line.setAttribute('y1', String(cy))
    line.setAttribute('x2', x.toFixed(1)); line.setAttribute('y2', y.toFixed(1))
    shapes.push(line)
  }
  const dot = (x, y, cls, label, title) => {
    const g = document.createElementNS(SVG, 'g')
    const c = document.createElementNS(SVG, 'circle')
    c.setAttribute('cx', x.toFixed(1)); c.setAttribute('cy', y.toFixed(1)); c.setAttribute('r', '9')
    if (cls !== '') c.setAttribute('class', cls)
    const t = document.createElementNS(SVG, 'title')
    t.textContent = title
    c.append(t)
    const text = document.createElementNS(SVG, 'text')
    text.setAttribute('x', (x + 12).toFixed(1)); text.setAttribute('y', (y + 4).toFixed(1))
    text.textContent = label
    g.append(c, text)
    shapes.push(g)
  }
  for (const { p, x, y } of points) dot(x, y, p.connected ? '' : 'known', nameOf(p), p.peer)
  if (self !== undefined) dot(cx, cy, 'self', 'this node', self.peer)
  const desc = document.createElementNS(SVG, 'desc')
  desc.id = 'topo-desc'
  const connected = others.filter(p => p.connected).length
  desc.textContent = `This node is connected to ${connected} of ${others.length} peers shown.`
  svg.replaceChildren(desc, ...shapes)
}

function renderComponents (state) {
  replaceRows($('comp-rows'), state.components.map(c => row([c.name, el('code', c.digest.slice(0, 12)), { text: String(c.instances), cls: 'num' }, { text: String(c.busy), cls: 'num' }, { text: String(c.queued), cls: 'num' }])))
}

function render (state) {
  names = new Map(state.peers.map(p => [p.peer, p.local ? 'this node' : nameOf(p)]))
  renderNode(state)
  renderPeers(state)
  renderInterfaces(state)
  renderCalls(state)
  renderTopology(state)
  renderComponents(state)
}

function prepend (list, item, max) {
  list.prepend(item)
  while (list.children.length > max) list.lastElementChild.remove()
}

function time (at) {
  return new Date(at).toISOString().slice(11, 23)
}

function onAdvert (event) {
  const text = event.kind === 'local'
    ? 'this node changed what it serves'
    : `${names.get(event.peer) ?? short(event.peer)}: ${event.change}`
  const li = el('li', `${time(event.at)} ${text}`)
  li.dataset.kind = event.kind
  if (event.change !== undefined) li.dataset.change = event.change
  prepend($('adverts'), li, MAX_EVENTS)
}

function onLog (line) {
  const li = el('li', `${time(line.time)} ${line.level.toUpperCase().padEnd(5)} ${line.name !== undefined ? `[${line.name}] ` : ''}${line.message}`, line.level)
  $('log').append(li)
  while ($('log').children.length > MAX_LOG) $('log').firstElementChild.remove()
}

function connect () {
  const feed = new EventSource('/api/feed')
  const status = $('feed')
  feed.addEventListener('open', () => { status.textContent = 'live'; status.className = 'feed live' })
  feed.addEventListener('error', () => { status.textContent = 'connection to the node lost: retrying…'; status.className = 'feed lost' })
  feed.addEventListener('state', e => { render(JSON.parse(e.data)) })
  feed.addEventListener('advert', e => { onAdvert(JSON.parse(e.data)) })
  feed.addEventListener('connection', e => {
    const c = JSON.parse(e.data)
    prepend($('adverts'), el('li', `${time(c.at)} ${names.get(c.peer) ?? short(c.peer)}: connected (${c.direction})`), MAX_EVENTS)
  })
  feed.addEventListener('log', e => { onLog(JSON.parse(e.data)) })
}

connect()
