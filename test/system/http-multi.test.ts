// Several HTTP components with real processes: routes by Host and by path prefix reach exactly the component they name, on the gateway's node or on another peer; a route to a component loaded nowhere is 503 with the reason; SIGTERM drains a request in flight.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { eventually } from '../support/eventually.ts'
import { scratchDir, type ScratchDir } from '../support/scratch.ts'
import { httpUrlOf, Processes } from './processes.ts'

const run = promisify(execFile)

/** `curl` with a Host header: status line number and body. */
async function curl (url: string, host: string, body?: string): Promise<{ status: number, body: string }> {
  const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '-H', `Host: ${host}`, ...(body !== undefined ? ['--data-binary', body] : []), url]
  const { stdout } = await run('curl', args, { timeout: 30_000 })
  const cut = stdout.lastIndexOf('\n')
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) }
}

const routes = [
  '--http-route', 'host=a.example=component=alpha',
  '--http-route', 'host=b.example=component=beta',
  '--http-route', 'path=/api=component=beta',
  '--http-route', 'path=/ghost=component=ghost',
  '--http-route', 'default=component=alpha'
]

/** alpha is http-hello (it names the path it was asked for), beta is http-echo (it sends the body back). */
async function expectRouted (url: string): Promise<void> {
  const hello = (path: string): string => `Hello from wasmesh! You asked for ${path}\n`
  // By Host (curl sets it), whatever the path.
  expect(await curl(`${url}/api/x`, 'a.example', 'to alpha')).toEqual({ status: 200, body: hello('/api/x') })
  expect(await curl(`${url}/anything`, 'b.example', 'to beta')).toEqual({ status: 200, body: 'to beta' })
  expect(await curl(`${url}/anything`, 'B.Example:8080', 'port and case')).toEqual({ status: 200, body: 'port and case' })
  // By path prefix (fetch, Host is the gateway's address).
  for (let i = 0; i < 4; i++) {
    const api = await fetch(`${url}/api/echo?i=${i}`, { method: 'POST', body: `beta ${i}` })
    expect([api.status, await api.text()]).toEqual([200, `beta ${i}`])
    const other = await fetch(`${url}/apix/${i}`, { method: 'POST', body: 'not beta' })
    expect([other.status, await other.text()]).toEqual([200, hello(`/apix/${i}`)])
  }
  // A component loaded nowhere: 503 naming it, at once.
  const ghost = await fetch(`${url}/ghost/1`)
  expect(ghost.status).toBe(503)
  expect(await ghost.text()).toMatch(/^no-server: no server alive for component ghost/)
  expect((await curl(`${url}/ghost`, 'localhost')).status).toBe(503)
}

describe('routes to several HTTP components (real processes)', () => {
  const processes = new Processes()
  let dir: ScratchDir
  let paths: Record<string, string>

  beforeAll(async () => {
    paths = await ensureExamples({ names: ['http-hello', 'http-echo'] })
    dir = await scratchDir('http-multi')
  }, 300_000)

  afterAll(async () => {
    await processes.killAll()
    await dir?.remove()
  })

  const common = (name: string): string[] => ['--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(dir.path, name), '--cache-dir', join(dir.path, 'cache'), '--no-demo-host']
  const components = (): string[] => ['--component', `alpha=${paths['http-hello']}`, '--component', `beta=${paths['http-echo']}`]

  it('routes by Host and path prefix to two HTTP components on the gateway\'s own node', async () => {
    const a = await processes.node('one', [...common('one'), '--http', '127.0.0.1:0', ...routes, ...components()])
    const url = await eventually('the gateway address', () => httpUrlOf(a))
    await eventually('both components answering', async () =>
      (await fetch(`${url}/api`, { method: 'POST', body: 'x' })).status === 200 && (await fetch(`${url}/`)).status === 200, { timeoutMs: 30_000, intervalMs: 200 })
    await expectRouted(url)
    a.kill('SIGTERM')
    expect((await a.exited).code).toBe(0)
  }, 120_000)

  it('routes the same way to the two components on another peer (the call names the component on the wire)', async () => {
    const gw = await processes.node('gw', [...common('gw'), '--http', '127.0.0.1:0', ...routes])
    const url = await eventually('the gateway address', () => httpUrlOf(gw))
    const b = await processes.node('b', [...common('b'), '--bootstrap', gw.addresses[0], ...components()])
    await eventually('both remote components answering', async () =>
      (await fetch(`${url}/api`, { method: 'POST', body: 'x' })).status === 200 && (await fetch(`${url}/`)).status === 200, { timeoutMs: 30_000, intervalMs: 200 })
    await expectRouted(url)
    b.kill('SIGTERM')
    gw.kill('SIGTERM')
    expect((await b.exited).code).toBe(0)
    expect((await gw.exited).code).toBe(0)
  }, 120_000)

  it('finishes a streaming request in flight when the node gets SIGTERM, and refuses new connections meanwhile', async () => {
    const a = await processes.node('drain', [...common('drain'), '--http', '127.0.0.1:0', '--component', `echo=${paths['http-echo']}`, '--drain-timeout', '60000'])
    const url = await eventually('the gateway address', () => httpUrlOf(a))
    await eventually('the echo answering', async () => (await fetch(`${url}/`, { method: 'POST', body: 'x' })).status === 200, { timeoutMs: 30_000, intervalMs: 200 })
    // An upload the test feeds part by part; the echo streams it back as it reads it.
    const encoder = new TextEncoder()
    let feed: ReadableStreamDefaultController<Uint8Array> | undefined
    const upload = new ReadableStream<Uint8Array>({ start (controller) { feed = controller } })
    // A first part large enough that the echo's first read is full whatever its buffering, so its response head comes.
    const first = 'a'.repeat(2 * 1024 * 1024) + '\n'
    feed?.enqueue(encoder.encode(first))
    const response = await fetch(`${url}/slow`, { method: 'POST', body: upload, duplex: 'half' } as RequestInit)
    expect(response.status).toBe(200)
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let received = ''
    // The response has begun (the echo holds back a tail until more comes): the request is in flight.
    const next = await reader.read()
    expect(next.done).toBe(false)
    received += decoder.decode(next.value, { stream: true })

    a.kill('SIGTERM')
    await eventually('new connections refused', async () => {
      try {
        await fetch(`${url}/new`, { signal: AbortSignal.timeout(5_000) })
        return false
      } catch (err) {
        return (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED'
      }
    }, { timeoutMs: 30_000, intervalMs: 100 })
    feed?.enqueue(encoder.encode('part 1\n'))
    feed?.enqueue(encoder.encode('part 2\n'))
    feed?.close()
    for (;;) {
      const more = await reader.read()
      if (more.done) break
      received += decoder.decode(more.value, { stream: true })
    }
    expect(received).toBe(`${first}part 1\npart 2\n`)
    expect((await a.exited).code).toBe(0)
  }, 120_000)
})
