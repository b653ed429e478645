// `wasmesh mesh --bootstrap <addr>`: the lattice as a short-lived client sees it after its sync (peers and interfaces), once or live with --watch.

import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { parseLatticeArg } from '../config.ts'
import type { MeshNode } from '../../node/index.ts'
import type { PeerView } from '../../node/registry.ts'
import { startClient } from '../client.ts'
import type { CommandContext } from '../context.ts'
import { CliError } from '../errors.ts'
import { bootstrapOf, clientFlags, flag, latticeKeyOf, logFormatOf, logLevelOf, loggerOf, positiveMsOf } from '../options.ts'
import { clientMemberCertOf } from '../security.ts'
import { stopRequests } from '../signals.ts'
import { table } from '../output.ts'

export const meshHelp = `Usage: wasmesh mesh --bootstrap <multiaddr> [--json] [--watch] [options]

Joins the lattice as a short-lived client (a fresh identity, no components, no
listening port), takes the bootstrap peer's view of the mesh (its sync reply:
every live peer's signed advert), and prints it: the peers with their
addresses, labels, calls and health, then every interface with the peers that
serve it and the component each serves it with (name and digest prefix).
CALLS is in flight/capacity: calls running when the peer last advertised over
the instances it can run at once (a peer's row: summed over what it serves).
Clients like this one (wasmesh call, wasmesh mesh) are counted, not listed.

Options:
  --bootstrap <multiaddr>  a peer of the mesh, ending in /p2p/<peer-id> (repeatable;
                           default: $WASMESH_BOOTSTRAP, comma-separated)
  --lattice-key <file>     the key of a private lattice (default: $WASMESH_LATTICE_KEY_FILE)
  --data-dir <dir>         keep the client's identity (identity.key) there instead of a fresh
                           one per run: for nodes that let in only listed peers (--allow-peer,
                           --trust-file). A folder of its own, not a node's
  --member-cert <file>     the member certificate issued to that identity (wasmesh key
                           sign-member), for nodes whose policy admits peers by label
  --lattice <name>         the lattice to look at (default "default")
  --json                   one JSON object: {lattice, peers: [...], interfaces: [...]}
  --watch                  keep following: print again whenever the mesh changes
                           (JSON: one object per line) until Ctrl-C
  --timeout <ms>           how long to wait for the first view (default 30000)
  --log-level <level>      debug, info, warn, error or silent (default warn)
  --log-format <fmt>       text or json (default: text on a terminal, else json)

Examples:
  wasmesh mesh --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...
  wasmesh mesh --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW... --json | jq '.interfaces'
  WASMESH_BOOTSTRAP=/ip4/192.0.2.1/tcp/4001/p2p/12D3KooW... wasmesh mesh --watch`

/** Changes are coalesced for this long before a --watch reprint. */
const watchDebounceMs = 100

export interface MeshPeer {
  readonly peer: string
  readonly addresses: readonly string[]
  readonly labels: Readonly<Record<string, string>>
  /** `name`: the serving component's, when its advert carries one. */
  readonly exports: ReadonlyArray<{ readonly iface: string, readonly digest: string, readonly name?: string, readonly capacity: number, readonly load: number }>
  /** Calls in flight it advertised, over all its exports, and their summed capacity. */
  readonly load: number
  readonly capacity: number
  readonly healthy: boolean
  readonly failures: number
  readonly ageMs?: number
  readonly expiresInMs?: number
}

export interface MeshView {
  readonly lattice: string
  readonly peers: readonly MeshPeer[]
  /** Other short-lived clients in the lattice now (their adverts say so); they serve nothing. */
  readonly clients: number
  readonly interfaces: ReadonlyArray<{ readonly iface: string, readonly peers: readonly string[] }>
}

/** What the node knows of the others (itself excluded), peers and interfaces sorted. */
export function meshView (node: MeshNode): MeshView {
  const others = node.peers().filter(p => !p.local)
  const peers = others.filter(p => p.client !== true).map(peerOf).sort((a, b) => a.peer.localeCompare(b.peer))
  const interfaces = [...node.interfaces()]
    .map(([iface, servers]) => ({ iface, peers: servers.filter(p => p !== node.peerId).sort() }))
    .filter(i => i.peers.length > 0)
    .sort((a, b) => a.iface.localeCompare(b.iface))
  return { lattice: node.lattice, peers, clients: others.length - peers.length, interfaces }
}

function peerOf (p: PeerView): MeshPeer {
  return {
    peer: p.peer,
    addresses: [...p.addresses],
    labels: { ...p.labels },
    exports: p.exports.map(e => ({ iface: e.iface, digest: e.digest, ...(e.name !== undefined ? { name: e.name } : {}), capacity: e.capacity, load: e.load })),
    load: p.exports.reduce((n, e) => n + e.load, 0),
    capacity: p.exports.reduce((n, e) => n + e.capacity, 0),
    healthy: p.healthy,
    failures: p.failures,
    ageMs: p.ageMs === undefined ? undefined : Math.round(p.ageMs),
    expiresInMs: p.expiresInMs === undefined ? undefined : Math.round(p.expiresInMs)
  }
}

/**
 * What a --watch reprint waits for a change in: not ages (heartbeats), and not clients coming and going (a
 * `wasmesh call` each), which would reprint the whole mesh twice per call.
 */
export function watchChange (view: MeshView): string {
  return JSON.stringify({ ...view, clients: 0, peers: view.peers.map(p => ({ ...p, ageMs: 0, expiresInMs: 0 })) })
}

/** Digits of a component's digest the table shows, as `inspect` and the metrics' `digest` label do. */
const digestPrefixChars = 12

/** The readable tables; they leave out ages, so that they only change when the mesh does. */
export function formatMesh (view: MeshView): string {
  const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`
  const clients = view.clients === 0 ? '' : ` (and ${plural(view.clients, 'other client')})`
  const lines = [`lattice ${view.lattice}: ${plural(view.peers.length, 'peer')}, ${plural(view.interfaces.length, 'interface')}${clients}`, '']
  const calls = (load: number, capacity: number): string => capacity === 0 ? '-' : `${load}/${capacity}`
  const rows = [['PEER', 'CALLS', 'HEALTH', 'LABELS', 'ADDRESSES']]
  for (const p of view.peers) {
    const labels = Object.entries(p.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-'
    const health = p.healthy ? 'ok' : `failing (${p.failures})`
    const [first = '-', ...rest] = p.addresses
    rows.push([p.peer, calls(p.load, p.capacity), health, labels, first])
    for (const a of rest) rows.push(['', '', '', '', a])
  }
  lines.push(...table(rows), '')
  const byPeer = new Map(view.peers.map(p => [p.peer, p]))
  const irows = [['INTERFACE', 'SERVED BY', 'COMPONENT', 'CALLS']]
  for (const i of view.interfaces) {
    i.peers.forEach((peer, n) => {
      const e = byPeer.get(peer)?.exports.find(x => x.iface === i.iface)
      const digest = e?.digest.slice(0, digestPrefixChars)
      const component = e === undefined ? '-' : e.name === undefined ? digest ?? '-' : `${e.name} ${digest ?? ''}`
      irows.push([n === 0 ? i.iface : '', peer, component, e === undefined ? '-' : calls(e.load, e.capacity)])
    })
  }
  if (view.interfaces.length === 0) irows.push(['(none)', '', '', ''])
  lines.push(...table(irows), '', 'CALLS: in flight/capacity, as last advertised: calls running / instances that can run at once')
  return lines.join('\n')
}

export async function mesh (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...clientFlags,
      watch: { type: 'boolean' }
    }
  })
  if (positionals.length > 0) throw new CliError('usage', `mesh takes no arguments (got ${JSON.stringify(positionals[0])})\n\n${meshHelp}`)
  const bootstrap = bootstrapOf(values.bootstrap, ctx.env)
  if (bootstrap === undefined) throw new CliError('usage', `give a peer of the mesh with --bootstrap <multiaddr> (or WASMESH_BOOTSTRAP)\n\n${meshHelp}`)
  const timeoutMs = positiveMsOf('timeout', values.timeout, 30_000)
  const lattice = values.lattice === undefined ? undefined : flag('lattice', () => parseLatticeArg(values.lattice as string))
  const json = values.json === true
  const latticeKey = await latticeKeyOf(values['lattice-key'], ctx.env)
  const logger = loggerOf(ctx, logLevelOf(values['log-level'], 'warn'), logFormatOf(values['log-format']))

  const stop = values.watch === true ? stopRequests(ctx) : undefined
  const client = await startClient({ bootstrap, lattice, latticeKey, identityDir: values['data-dir'] === undefined ? undefined : resolve(values['data-dir']), memberCert: await clientMemberCertOf(values['member-cert'], values['data-dir']), logger })
  try {
    const node = client.node
    const deadline = performance.now() + timeoutMs
    const synced = await client.until(() => client.synced(), deadline, ctx.signal)
    if (!synced) {
      if (ctx.signal?.aborted === true) return 0
      throw client.unreachable(timeoutMs) ?? new CliError('sync-timeout', `connected, but no bootstrap peer sent its view of lattice ${node.lattice} within ${timeoutMs} ms: is it a wasmesh node of this lattice (--lattice)?`)
    }
    await client.settle(() => false, ctx.signal)
    const render = (view: MeshView): string => json ? JSON.stringify(view, null, values.watch === true ? undefined : 2) : formatMesh(view)
    const first = meshView(node)
    let last = watchChange(first)
    ctx.out(render(first))
    if (stop === undefined) return 0

    // --watch: reprint when the mesh changes (heartbeats that change nothing print nothing).
    let timer: ReturnType<typeof setTimeout> | undefined
    const off = node.on('change', change => {
      if (change.kind !== 'peer' || timer !== undefined) return
      timer = setTimeout(() => {
        timer = undefined
        const view = meshView(node)
        const next = watchChange(view)
        if (next === last) return
        last = next
        if (!json) ctx.out(`\n--- ${new Date().toISOString()}`)
        ctx.out(render(view))
      }, watchDebounceMs)
    })
    try {
      await stop.requested
    } finally {
      off()
      clearTimeout(timer)
    }
    return 0
  } finally {
    stop?.dispose()
    await client.stop()
  }
}

