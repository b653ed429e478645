// The HTTP gateway with real nodes and real clients (fetch, curl, raw sockets): local and remote components, routes, every error status, and hostile clients.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { promisify } from 'node:util'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../../examples/build.ts'
import { HTTP_HANDLER_IFACE, httpHandlerInterface, httpWitText, type HttpLimits, type WireRequest } from '../../../node/http/index.ts'
import type { LocalService, MeshNode } from '../../../node/index.ts'
import { createMesh, eventually, keyvalueProvider, type Mesh } from '../../support/mesh.ts'

const run = promisify(execFile)
let paths: Record<string, string>
let mesh: Mesh
const sockets = new Set<Socket>()

beforeAll(async () => {
  paths = await ensureExamples({ names: ['http-hello', 'http-echo', 'http-counter'] })
}, 300_000)

afterEach(async () => {
  for (const s of sockets) s.destroy()
  sockets.clear()
  await mesh?.stop()
})

afterAll(async () => { await mesh?.stop() })

const encoder = new TextEncoder()

/** A native server of the handler interface: what `answer` does with each request decides the test. */
function nativeHttp (name: string, answer: (req: WireRequest) => Promise<unknown[]>): LocalService {
  return {
    digest: createHash('sha256').update(name).digest('hex'),
    name,
    interfaces: [httpHandlerInterface()],
    wit: httpWitText(),
    capacity: 16,
    call: async (_iface, _func, params) => await answer(params[0] as WireRequest)
  }
}

/** A server whose response body never ends; `onCancel` runs when its reader stops. */
function endlessService (onCancel: () => void): LocalService {
  return nativeHttp('endless', async () => {
    async function * endless (): AsyncGenerator<Uint8Array> {
      try {
        for (;;) yield new Uint8Array(64 * 1024)
      } finally {
        onCancel()
      }
    }
    return [{ tag: 'ok', val: { status: 200, headers: [['content-type', [encoder.encode('application/octet-stream')]]], body: endless(), trailers: Promise.resolve(undefined) } }]
  })
}

async function gateway (limits: Partial<HttpLimits> = {}, routes: string[] = []): Promise<{ node: MeshNode, url: string }> {
  const { parseRoute } = await import('../../../node/http/index.ts')
  const node = await mesh.add({ http: { listen: '127.0.0.1:0', routes: routes.map(parseRoute) }, httpLimits: limits })
  return { node, url: node.httpUrl() as string }
}

async function joined (gw: MeshNode, count: number): Promise<void> {
  await eventually(`${count} servers of ${HTTP_HANDLER_IFACE}`, () => gw.servers(HTTP_HANDLER_IFACE).length >= count)
}

/** A raw TCP client: what it sends is up to the test; `text` is everything it got, `closed` when the gateway hung up. */
function rawClient (url: string): { socket: Socket, text: () => string, closed: Promise<void> } {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  sockets.add(socket)
  let got = ''
  socket.on('data', d => { got += d.toString('latin1') })
  socket.on('error', () => {})
  const closed = new Promise<void>(resolve => { socket.once('close', () => { resolve() }) })
  return { socket, text: () => got, closed }
}

describe('HTTP gateway', () => {
  it('serves an HTTP component on its own node, and one on another node (fetch and curl)', async () => {
    mesh = await createMesh()
    const local = await mesh.add({ components: [{ source: paths['http-hello'] }], http: { listen: '127.0.0.1:0' } })
    const hello = await fetch(`${local.httpUrl() as string}/there?x=1`)
    expect(hello.status).toBe(200)
    expect(await hello.text()).toBe('Hello from wasmesh! You asked for /there\n')
    // A body the component finished before its response left goes out whole: a length, not chunked framing.
    expect(hello.headers.get('content-length')).toBe(String(Buffer.byteLength('Hello from wasmesh! You asked for /there\n')))
    expect(hello.headers.get('transfer-encoding')).toBeNull()

    const b = await mesh.add({ components: [{ source: paths['http-echo'] }], bootstrap: local.addresses() })
    const { node: a, url } = await gateway({}, ['default=name=http-echo'])
    await a.dial(b.addresses()[0])
    await eventually('the echo server', () => a.servers(HTTP_HANDLER_IFACE, { component: 'http-echo' }).length > 0)
    const body = 'x'.repeat(200_000)
    const echoed = await fetch(`${url}/echo`, { method: 'POST', body, headers: { 'content-type': 'text/x-test' } })
    expect(echoed.status).toBe(200)
    expect(echoed.headers.get('content-type')).toBe('text/x-test')
    expect(await echoed.text()).toBe(body)
    const curl = await run('curl', ['-sS', '-d', 'from curl', `${url}/c`])
    expect(curl.stdout).toBe('from curl')
  }, 120_000)

  it('routes by Host and path prefix to components by name or node label; no route is 404 with the reason', async () => {
    mesh = await createMesh()
    const { node: a, url } = await gateway({}, ['path=/echo=name=http-echo', 'host=hello.test=zone=blue'])
    await mesh.add({ components: [{ source: paths['http-echo'] }], bootstrap: a.addresses() })
    await mesh.add({ components: [{ source: paths['http-hello'] }], bootstrap: a.addresses(), labels: { zone: 'blue' } })
    await joined(a, 2)
    const echo = await fetch(`${url}/echo/1`, { method: 'POST', body: 'routed' })
    expect(await echo.text()).toBe('routed')
    const hello = await run('curl', ['-sS', '-H', 'Host: hello.test', `${url}/h`])
    expect(hello.stdout).toBe('Hello from wasmesh! You asked for /h\n')
    const none = await fetch(`${url}/elsewhere`)
    expect(none.status).toBe(404)
    expect(await none.text()).toMatch(/^no route for host 127\.0\.0\.1:\d+ and path \/elsewhere\n$/)
  }, 120_000)

  it('answers 503 with no server alive, 504 past its deadline, 500 on a trap, 502 on an error code', async () => {
    mesh = await createMesh()
    const { node: a, url } = await gateway({ httpResponseTimeoutMs: 300 }, ['path=/slow=name=slow', 'path=/fail=name=fail', 'path=/kv=name=http-counter', 'default=name=gone'])
    const none = await fetch(`${url}/x`)
    expect(none.status).toBe(503)
    expect(await none.text()).toMatch(/no server alive for component gone/)

    const hold = Promise.withResolvers<unknown[]>()
    a.serve(nativeHttp('slow', async () => await hold.promise))
    const slow = await fetch(`${url}/slow`)
    expect(slow.status).toBe(504)
    hold.resolve([{ tag: 'err', val: { tag: 'internal-error', val: 'late' } }])

    a.serve(nativeHttp('fail', async () => [{ tag: 'err', val: { tag: 'HTTP-request-denied' } }]))
    // The gateway's node serves two native HTTP services side by side: the route names the one each request reaches.
    const failed = await fetch(`${url}/fail`)
    expect(failed.status).toBe(502)
    expect(await failed.text()).toBe('the component answered error-code HTTP-request-denied\n')

    // The counter imports wasi:keyvalue, which nobody serves: its import fails, a 500, and the gateway lives on.
    await mesh.add({ components: [{ source: paths['http-counter'] }], bootstrap: a.addresses() })
    await eventually('the counter', () => a.servers(HTTP_HANDLER_IFACE, { component: 'http-counter' }).length > 0)
    const trapped = await fetch(`${url}/kv/visits`)
    expect(trapped.status).toBe(500)
    expect(await trapped.text()).toMatch(/unresolved-import.*wasi:keyvalue/)
    expect(a.httpUrl()).toBe(url)
  }, 120_000)

  it('counts visits in wasi:keyvalue through a link to builtin:keyvalue, request after request', async () => {
    mesh = await createMesh()
    const kv = await keyvalueProvider()
    try {
      const store = await mesh.add({ labels: { tier: 'cache' } })
      store.serve(kv.service)
      const node = await mesh.add({
        bootstrap: store.addresses(),
        components: [{ source: paths['http-counter'], links: [{ target: 'wasi:keyvalue', labels: { tier: 'cache' } }] }],
        http: { listen: '127.0.0.1:0' }
      })
      await eventually('the key-value store', () => node.servers('wasi:keyvalue/store@0.2.0-draft').length > 0)
      const url = node.httpUrl() as string
      const seen: string[] = []
      for (let i = 0; i < 3; i++) seen.push(await (await fetch(`${url}/visits`)).text())
      seen.push(await (await fetch(`${url}/other`)).text())
      expect(seen).toEqual(['visits: 1\n', 'visits: 2\n', 'visits: 3\n', 'other: 1\n'])
    } finally {
      await kv.stop()
    }
  }, 120_000)

  it('refuses past maxHttpConcurrentRequests with 503 at once, and serves again when one finishes', async () => {
    mesh = await createMesh()
    const { node: a, url } = await gateway({ maxHttpConcurrentRequests: 1 })
    const hold = Promise.withResolvers<void>()
    a.serve(nativeHttp('held', async () => {
      await hold.promise
      return [{ tag: 'ok', val: { status: 204, headers: [], body: [], trailers: Promise.resolve(undefined) } }]
    }))
    const first = fetch(`${url}/1`)
    await eventually('one request in flight', async () => (await fetch(`${url}/2`)).status === 503)
    hold.resolve()
    expect((await first).status).toBe(204)
    expect((await fetch(`${url}/3`)).status).toBe(204)
  }, 60_000)
})

describe('HTTP gateway against hostile clients', () => {
  async function helloGateway (limits: Partial<HttpLimits>): Promise<{ node: MeshNode, url: string }> {
    mesh = await createMesh()
    const node = await mesh.add({ components: [{ source: paths['http-hello'] }], http: { listen: '127.0.0.1:0' }, httpLimits: limits })
    return { node, url: node.httpUrl() as string }
  }

  async function stillServes (url: string): Promise<void> {
    const r = await fetch(`${url}/after`)
    expect(r.status).toBe(200)
    await r.text()
  }

  it('answers garbage with 400 and closes', async () => {
    const { url } = await helloGateway({})
    const c = rawClient(url)
    c.socket.write('\x00\x01GARBAGE \xff\r\n\r\n')
    await c.closed
    expect(c.text()).toMatch(/^HTTP\/1\.1 400/)
    await stillServes(url)
  }, 60_000)

  it('answers a header section past maxHttpHeaderBytes, or more than maxHttpHeaders fields, with 431', async () => {
    const { node, url } = await helloGateway({ maxHttpHeaderBytes: 4096, maxHttpHeaders: 20 })
    const big = await fetch(url, { headers: { 'x-big': 'y'.repeat(8000) } })
    expect(big.status).toBe(431)
    const headers: Record<string, string> = {}
    for (let i = 0; i < 30; i++) headers[`x-h${i}`] = 'v'
    const many = await fetch(url, { headers })
    expect(many.status).toBe(431)
    await many.text()
    const refused = node.httpStats()?.refused ?? {}
    expect((refused.maxHttpHeaders ?? 0) + (refused.maxHttpHeaderBytes ?? 0)).toBeGreaterThanOrEqual(2)
    expect(node.httpUrl()).toBe(url)
    await stillServes(url)
  }, 60_000)

  it('cuts off a client that sends its head slowly (httpHeadersTimeoutMs)', async () => {
    const { url } = await helloGateway({ httpHeadersTimeoutMs: 500 })
    const c = rawClient(url)
    c.socket.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ')
    const trickle = setInterval(() => { if (!c.socket.destroyed) c.socket.write('a') }, 100)
    try {
      await c.closed
    } finally {
      clearInterval(trickle)
    }
    expect(c.text()).not.toMatch(/200 OK/)
    await stillServes(url)
  }, 60_000)

  it('cuts off a client whose body stalls or trickles while the component waits for it (408)', async () => {
    const { url } = await helloGateway({ httpBodyIdleTimeoutMs: 400, minHttpBodyBytes: 1000 })
    // The echo waits for the body; the hello does not read it, so the echo is served on a second node.
    const b = await mesh.add({ components: [{ source: paths['http-echo'] }] })
    const { node: a, url: gw } = await gateway({ httpBodyIdleTimeoutMs: 400, minHttpBodyBytes: 1000 })
    await a.dial(b.addresses()[0])
    await joined(a, 1)
    for (const pace of ['stall', 'trickle'] as const) {
      const c = rawClient(gw)
      c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc')
      const trickle = pace === 'trickle' ? setInterval(() => { if (!c.socket.destroyed) c.socket.write('z') }, 50) : undefined
      try {
        await c.closed
      } finally {
        clearInterval(trickle)
      }
      expect(c.text()).not.toMatch(/content-length: 100000/i)
    }
    await eventually('no request in flight', () => a.httpStats()?.inflight === 0)
    await stillServes(url)
  }, 120_000)

  it('stops a remote server sending a body once the client has gone away', async () => {
    mesh = await createMesh()
    const b = await mesh.add()
    let cancelled = 0
    b.serve(endlessService(() => { cancelled++ }))
    const { node: a, url } = await gateway()
    await a.dial(b.addresses()[0])
    await joined(a, 1)
    const abort = new AbortController()
    const r = await fetch(url, { signal: abort.signal })
    await r.body?.getReader().read()
    abort.abort()
    await eventually('the remote body cancelled', () => cancelled === 1)
    await eventually('no request in flight', () => a.httpStats()?.inflight === 0)
  }, 60_000)

  it('survives truncated bodies, clients aborting mid-response, and more connections than maxHttpConnections', async () => {
    mesh = await createMesh()
    const { node: a, url } = await gateway({ maxHttpConnections: 4 })
    let cancelled = 0
    a.serve(endlessService(() => { cancelled++ }))
    // A body cut short: the client promised 1000 bytes and hung up after 10.
    const t = rawClient(url)
    t.socket.end('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789')
    await t.closed

    // A client that takes one chunk of an endless response and goes away.
    const abort = new AbortController()
    const r = await fetch(url, { signal: abort.signal })
    const reader = r.body?.getReader()
    await reader?.read()
    abort.abort()
    await eventually('the response body cancelled', () => cancelled === 1)

    // Ten connections at once against a limit of four: the extra ones are closed at once, the gateway lives.
    const many = Array.from({ length: 10 }, () => rawClient(url))
    await eventually('connections refused', () => (a.httpStats()?.refused.maxHttpConnections ?? 0) >= 6)
    await Promise.all(many.map(async c => { c.socket.destroy(); await c.closed }))
    const after = await fetch(url, { signal: AbortSignal.timeout(10_000) })
    expect(after.status).toBe(200)
    await after.body?.cancel()
    await eventually('no request in flight', () => a.httpStats()?.inflight === 0)
  }, 60_000)
})
