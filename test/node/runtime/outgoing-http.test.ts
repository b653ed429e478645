// Outgoing HTTP of a component (wasi:http/outgoing-handler through fetch()) against a real local server: grants, denials, limits.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../../support/eventually.ts'
import { examplePaths, startRuntime, type TestRuntime } from './helpers.ts'

const CLIENT = 'wasmesh:examples/http-client'

/** A node:http server that prints its port, then each request as `METHOD /path` when it arrives. */
const serverScript = `
import { createServer } from 'node:http'
const server = createServer((req, res) => {
  process.stdout.write(req.method + ' ' + req.url + '\\n')
  if (req.url === '/big') {
    // chunked, no content-length: only counting what the guest reads can stop it
    res.writeHead(200, { 'content-type': 'text/plain' })
    for (let i = 0; i < 64; i++) res.write('y'.repeat(1024))
    res.end()
  } else if (req.url === '/declared') {
    res.writeHead(200, { 'content-length': String(64 * 1024) })
    res.end('z'.repeat(64 * 1024))
  } else {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('hello from the test server')
  }
})
server.listen(0, '127.0.0.1', () => { process.stdout.write('port ' + server.address().port + '\\n') })
`

describe.each(['worker', 'inline'] as const)('outgoing HTTP (%s)', isolation => {
  let path: string
  let server: ChildProcess
  let port = 0
  let t: TestRuntime
  const seen: string[] = []

  beforeAll(async () => {
    path = (await examplePaths(['http-client']))['http-client']
    // In a process of its own: an inline instance's request blocks the node's thread until the answer (preview2-shim's
    // requests are synchronous calls to its I/O thread), so a server on the test's thread would never answer.
    server = spawn(process.execPath, ['--input-type=module', '-e', serverScript], { stdio: ['ignore', 'pipe', 'inherit'] })
    const lines = createInterface({ input: server.stdout as NodeJS.ReadableStream })
    lines.on('line', line => {
      if (line.startsWith('port ')) port = Number(line.slice(5))
      else seen.push(line)
    })
    await eventually('the test server to listen', () => port > 0)
    t = await startRuntime({ limits: { callTimeoutMs: 20_000, maxOutgoingHttpResponseBytes: 16 * 1024 } })
  }, 300_000)

  afterAll(async () => {
    await t?.close()
    if (server !== undefined && server.exitCode === null) {
      const exited = new Promise(resolve => server.once('exit', resolve))
      server.kill()
      await exited
    }
  })

  const get = async (name: string, grants: object | undefined, url: string): Promise<{ tag: string, val: string }> => {
    // one component per digest: loaded with these grants, unloaded after
    const c = await t.runtime.load(path, { isolation, name, ...(grants === undefined ? {} : { grants }) })
    try {
      return (await t.runtime.call(c.id, CLIENT, 'get', [url]))[0] as { tag: string, val: string }
    } finally {
      await t.runtime.unload(c.id)
    }
  }

  /**
   * The server's log of requests arrives on its stdout, later than the answers: a granted request after the
   * others, once logged, proves that whatever came before it has been logged too.
   */
  const barrier = async (tag: string): Promise<void> => {
    expect((await get('barrier', { http: [`127.0.0.1:${port}`] }, `http://127.0.0.1:${port}/barrier-${tag}`)).tag).toBe('ok')
    await eventually(`the server to log /barrier-${tag}`, () => seen.includes(`GET /barrier-${tag}`))
  }

  it('reaches a granted host', async () => {
    const r = await get('granted', { http: [`127.0.0.1:${port}`] }, `http://127.0.0.1:${port}/hi`)
    expect(r).toEqual({ tag: 'ok', val: '200 hello from the test server' })
    await eventually('the server to log GET /hi', () => seen.includes('GET /hi'))
  })

  it('without a grant, nothing goes out: the request fails as HTTP-request-denied, not a trap', async () => {
    const r = await get('ungranted', undefined, `http://127.0.0.1:${port}/ungranted`)
    expect(r.tag).toBe('err')
    expect(r.val).toMatch(/^fetch: /)
    await barrier('ungranted')
    expect(seen).not.toContain('GET /ungranted')
  })

  it('a grant of another host or port is no grant for this one', async () => {
    for (const grant of [['127.0.0.1'], [`127.0.0.1:${port + 1 === 65536 ? 1 : port + 1}`], ['*.127.0.0.1:*'], ['localhost:*']]) {
      const r = await get(`other-${grant[0].replace(/[^a-z0-9]/g, '')}`, { http: grant }, `http://127.0.0.1:${port}/other`)
      expect(r.tag, grant[0]).toBe('err')
    }
    await barrier('other')
    expect(seen).not.toContain('GET /other')
  })

  it('any port of a granted host with host:*', async () => {
    expect((await get('any-port', { http: ['127.0.0.1:*'] }, `http://127.0.0.1:${port}/any`)).tag).toBe('ok')
  })

  it('a body over maxOutgoingHttpResponseBytes fails the read, declared or streamed', async () => {
    const streamed = await get('big', { http: [`127.0.0.1:${port}`] }, `http://127.0.0.1:${port}/big`)
    expect(streamed.tag).toBe('err')
    const declared = await get('declared', { http: [`127.0.0.1:${port}`] }, `http://127.0.0.1:${port}/declared`)
    expect(declared.tag).toBe('err')
    // the instance survived both: the next request works
    expect((await get('big', { http: [`127.0.0.1:${port}`] }, `http://127.0.0.1:${port}/after`)).tag).toBe('ok')
  })
})
