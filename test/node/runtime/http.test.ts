// The runtime's wasi:http mapping: HTTP components driven through an exchange in both isolations, bodies in bounded steps, one instance per request for the fetch event.
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { FieldEntries, HttpExchange, Isolation } from '../../../node/runtime/index.ts'
import { examplePaths, failure, startRuntime, type TestRuntime } from './helpers.ts'

let paths: Record<string, string>
let rt: TestRuntime | undefined

beforeAll(async () => { paths = await examplePaths(['http-hello', 'http-echo', 'hello']) }, 300_000)
afterEach(async () => { await rt?.close(); rt = undefined })

const text = new TextDecoder()
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

interface Recorded { status?: number, headers?: FieldEntries, body: Uint8Array[], finished: boolean, error?: unknown, reads: number[] }

/** An exchange over an in-memory request body; records what the component answers. */
function exchange (path: string, body: Uint8Array[] = [], method = 'get'): { ex: HttpExchange, got: Recorded } {
  const got: Recorded = { body: [], finished: false, reads: [] }
  const rest = [...body]
  return {
    got,
    ex: {
      head: { method: { tag: method }, pathWithQuery: path, scheme: { tag: 'HTTP' }, authority: 'example.test', headers: [['content-type', bytes('text/x-test')], ['host', bytes('dropped')]] },
      async read (max) { got.reads.push(max); return rest.shift() },
      async trailers () { return undefined },
      respond (status, headers) { got.status = status; got.headers = headers },
      respondError (code) { got.error = code },
      async write (chunk) { got.body.push(chunk) },
      finish () { got.finished = true }
    }
  }
}

describe.each<Isolation>(['worker', 'inline'])('HTTP components (%s)', isolation => {
  it('answers with status, headers and body set through wasi:http/types, request after request on one instance', async () => {
    rt = await startRuntime()
    const c = await rt.runtime.load(paths['http-hello'], { isolation })
    expect(c.http).toBe('wasi:http/incoming-handler@0.2.10')
    for (const path of ['/a?x=1', '/b']) {
      const { ex, got } = exchange(path)
      await rt.runtime.handleHttp(c.id, ex)
      expect(got.status).toBe(200)
      expect(Object.fromEntries((got.headers ?? []).map(([k, v]) => [k.toLowerCase(), text.decode(v)]))).toMatchObject({ 'content-type': 'text/plain; charset=utf-8' })
      expect(text.decode(Buffer.concat(got.body))).toBe(`Hello from wasmesh! You asked for ${path.split('?')[0]}\n`)
      expect(got.finished).toBe(true)
    }
    expect(rt.runtime.stats(c.id).instances).toBe(1)
  }, 120_000)

  it('streams a body back in bounded reads, and gives a fetch-event component a fresh instance per request', async () => {
    rt = await startRuntime()
    const c = await rt.runtime.load(paths['http-echo'], { isolation })
    const chunks = Array.from({ length: 40 }, (_, i) => new Uint8Array(100_000).fill(i))
    for (let round = 0; round < 3; round++) {
      const { ex, got } = exchange('/', chunks, 'post')
      await rt.runtime.handleHttp(c.id, ex)
      expect(got.status).toBe(200)
      const echoed = Buffer.concat(got.body)
      expect(echoed.equals(Buffer.concat(chunks))).toBe(true)
      expect(Math.max(...got.reads)).toBeLessThanOrEqual(1024 * 1024)
    }
    // No "did not answer a second one": the listener was seen when the component loaded.
    expect(rt.logs.filter(l => l.includes('one HTTP request per instance'))).toEqual([])
  }, 120_000)
})

describe('handleHttp refusals', () => {
  it('refuses a component without an incoming-handler export and an unknown component, with codes', async () => {
    rt = await startRuntime()
    const c = await rt.runtime.load(paths.hello)
    expect(c.http).toBeUndefined()
    expect((await failure(rt.runtime.handleHttp(c.id, exchange('/').ex))).code).toBe('no-such-export')
    expect((await failure(rt.runtime.handleHttp('0'.repeat(64), exchange('/').ex))).code).toBe('no-such-component')
  }, 60_000)
})
