// The console's listener against what a viewer could send: the page and its data, and every refusal and bound.

import { afterEach, describe, expect, it } from 'vitest'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { createLogTail, defaultConsoleLimits, startConsoleServer } from '../../../node/console/index.ts'
import type { ConsoleLimits, ConsoleServer, ConsoleState } from '../../../node/console/index.ts'
import { createMetrics } from '../../../node/metrics.ts'
import { createMesh, eventually } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'

let mesh: Mesh | undefined
let server: ConsoleServer | undefined
const sockets: Socket[] = []

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await server?.close()
  server = undefined
  await mesh?.stop()
  mesh = undefined
})

async function consoleOn (limits: Partial<ConsoleLimits> = {}, labels: Record<string, string> = {}): Promise<{ url: string, tail: ReturnType<typeof createLogTail> }> {
  mesh = await createMesh()
  const metrics = createMetrics()
  const node = await mesh.add({ labels, observer: metrics.observer })
  const tail = createLogTail(50, 100)
  server = await startConsoleServer({ node, host: '127.0.0.1', port: 0, limits: { ...defaultConsoleLimits, ...limits }, metrics, logTail: tail, version: '9.9.9' })
  return { url: server.url, tail }
}

/** A raw request on a socket of its own: what a browser would not send. */
async function raw (url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  sockets.push(socket)
  socket.write(text)
  let got = ''
  socket.on('data', d => { got += d.toString('latin1') })
  await new Promise(resolve => socket.once('close', resolve))
  return got
}

describe('the console listener', () => {
  it('serves the page, its script and style, and a snapshot of the node as JSON, with a policy that loads nothing from elsewhere', async () => {
    const { url } = await consoleOn({}, { zone: 'a' })
    const page = await fetch(`${url}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/)
    const html = await page.text()
    expect(html).toContain('<script type="module" src="/console.js">')
    expect(html).not.toMatch(/https?:\/\//)
    for (const [path, type] of [['/console.js', /javascript/], ['/console.css', /text\/css/]] as const) {
      const r = await fetch(`${url}${path}`)
      expect([r.status, r.headers.get('content-type')]).toEqual([200, expect.stringMatching(type)])
      expect(await r.text()).not.toMatch(/https?:\/\/(?!www\.w3\.org)/)
    }
    const state = await (await fetch(`${url}/api/state`)).json() as ConsoleState
    expect(state.node).toMatchObject({ peer: mesh?.nodes[0].peerId, lattice: 'default', version: '9.9.9' })
    expect(state.peers).toEqual([expect.objectContaining({ local: true, labels: { zone: 'a' } })])
    expect(state.calls?.boundsSeconds.length).toBeGreaterThan(0)
  })

  it('is read-only, refuses long targets, and finds no file by a path it was not built with', async () => {
    const { url } = await consoleOn()
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await fetch(`${url}/api/state`, { method, body: method === 'DELETE' ? undefined : 'x' })
      expect([method, r.status, r.headers.get('allow')]).toEqual([method, 405, 'GET, HEAD'])
    }
    expect((await fetch(`${url}/${'a'.repeat(5000)}`)).status).toBe(414)
    for (const path of ['/../package.json', '/%2e%2e/%2e%2e/package.json', '/page/index.html', '/console.js/', '/node/console/page/console.js']) {
      expect([path, (await fetch(`${url}${path}`)).status]).toEqual([path, 404])
    }
    // garbage instead of HTTP: 400 and the connection closed, the server still up
    expect(await raw(url, '\x16\x03\x01\x02\x00garbage\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/)
    expect((await fetch(`${url}/api/state`)).status).toBe(200)
  })

  it('cuts off a client that sends its head too slowly, and keeps serving others', async () => {
    const { url } = await consoleOn({ requestTimeoutMs: 300 })
    const { hostname, port } = new URL(url)
    const slow = connect(Number(port), hostname)
    sockets.push(slow)
    slow.write('GET /api/state HTTP/1.1\r\nHost: x\r\n')
    // the server's close makes a write fail (EPIPE): that is the outcome awaited, not an error of the test
    slow.on('error', () => {})
    // read what comes back: a socket nobody reads never sees the server's close
    let answer = ''
    slow.on('data', d => { answer += d.toString('latin1') })
    const dripping = setInterval(() => { if (slow.writable) slow.write('X-Drip: 1\r\n') }, 50)
    try {
      // never finishing the head, it is closed by the server (408 or a bare close), not held
      await new Promise(resolve => slow.once('close', resolve))
    } finally {
      clearInterval(dripping)
    }
    expect(answer).toMatch(/^HTTP\/1\.1 408 /)
    expect((await fetch(`${url}/api/state`)).status).toBe(200)
  })

  it('streams the state, the log tail and new lines to a viewer, and refuses viewers past maxViewers', async () => {
    const { url, tail } = await consoleOn({ maxViewers: 1 })
    tail.tap({ time: Date.now(), level: 'info', message: 'before the viewer' })
    const controller = new AbortController()
    try {
      const feed = await fetch(`${url}/api/feed`, { signal: controller.signal })
      expect(feed.headers.get('content-type')).toMatch(/^text\/event-stream/)
      const reader = feed.body!.getReader()
      let text = ''
      const until = async (test: (t: string) => boolean): Promise<void> => {
        while (!test(text)) {
          const { value, done } = await reader.read()
          if (done === true) throw new Error(`feed ended: ${text}`)
          text += new TextDecoder().decode(value)
        }
      }
      await until(t => t.includes('before the viewer'))
      expect(text).toMatch(/^retry: \d+\n\nevent: state\ndata: \{/)
      tail.tap({ time: Date.now(), level: 'warn', message: 'x'.repeat(500) })
      // cut to the tail's line bound (100 characters here)
      await until(t => t.includes(`"${'x'.repeat(100)}…"`))
      await until(t => (t.match(/event: state/g) ?? []).length >= 2)
      const second = await fetch(`${url}/api/feed`)
      expect([second.status, second.headers.get('retry-after')]).toEqual([503, '5'])
      expect(await second.text()).toMatch(/maxViewers/)
    } finally {
      controller.abort()
    }
    await eventually('the viewer to be gone', () => server?.viewers() === 0)
  })

  it('drops a viewer that stops reading instead of buffering for it without bound', async () => {
    const { url, tail } = await consoleOn({ maxFeedBufferedBytes: 64 * 1024 })
    const { hostname, port } = new URL(url)
    const stalled = connect(Number(port), hostname)
    sockets.push(stalled)
    stalled.write('GET /api/feed HTTP/1.1\r\nHost: x\r\n\r\n')
    await eventually('the viewer to be counted', () => server?.viewers() === 1)
    stalled.pause()
    const closed = new Promise(resolve => stalled.once('close', resolve))
    // lines keep coming (each cut to 100 characters): the kernel's buffers fill, then the server's, then it lets go
    let written = 0
    await eventually('the stalled viewer to be dropped', () => {
      for (let i = 0; i < 2_000; i++) tail.tap({ time: Date.now(), level: 'info', message: `line ${written++} ${'y'.repeat(100)}` })
      return server?.viewers() === 0
    }, { timeoutMs: 60_000, intervalMs: 5 })
    stalled.resume()
    await closed
  })
})
