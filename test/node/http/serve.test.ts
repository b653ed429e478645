// The serving side's answer: a response the component finished before its head went out travels whole (a ready body and trailers), a longer one as a stream; in both isolations.
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { defaultHttpLimits } from '../../../node/http/limits.ts'
import { serveHttp, type WireRequest, type WireResponse } from '../../../node/http/serve.ts'
import type { Isolation } from '../../../node/runtime/index.ts'
import { examplePaths, startRuntime, type TestRuntime } from '../runtime/helpers.ts'

let paths: Record<string, string>
let rt: TestRuntime | undefined

beforeAll(async () => { paths = await examplePaths(['http-hello', 'http-echo']) }, 300_000)
afterEach(async () => { await rt?.close(); rt = undefined })

const text = new TextDecoder()

function request (path: string, body: AsyncIterable<unknown> | Uint8Array, method = 'get'): WireRequest {
  return { body, trailers: undefined, method: { tag: method }, pathWithQuery: path, scheme: { tag: 'HTTP' }, authority: 'example.test', headers: [['accept', [new TextEncoder().encode('*/*')]]] }
}

async function answerOf (p: Promise<unknown[]>): Promise<WireResponse> {
  const [result] = await p as [{ tag: string, val: WireResponse }]
  expect(result.tag).toBe('ok')
  return result.val
}

describe.each<Isolation>(['worker', 'inline'])('serveHttp (%s)', isolation => {
  it('answers a body finished with the head as one ready chunk and ready trailers, request after request', async () => {
    rt = await startRuntime()
    const c = await rt.runtime.load(paths['http-hello'], { isolation })
    for (const path of ['/one', '/two']) {
      const res = await answerOf(serveHttp(rt.runtime, c.id, [request(path, new Uint8Array(0))], {}, defaultHttpLimits))
      expect(res.status).toBe(200)
      expect(res.body).toBeInstanceOf(Uint8Array)
      expect(text.decode(res.body as Uint8Array)).toBe(`Hello from wasmesh! You asked for ${path}\n`)
      expect(res.trailers).toBeUndefined()
    }
  }, 120_000)

  it('streams a body still being written when the head goes out, whole and in order', async () => {
    rt = await startRuntime()
    const c = await rt.runtime.load(paths['http-echo'], { isolation })
    const chunks = Array.from({ length: 12 }, (_, i) => new Uint8Array(100_000).fill(i))
    async function * slow (): AsyncIterable<Uint8Array> { for (const ch of chunks) { await new Promise(resolve => setImmediate(resolve)); yield ch } }
    const res = await answerOf(serveHttp(rt.runtime, c.id, [request('/', slow(), 'post')], {}, defaultHttpLimits))
    expect(res.status).toBe(200)
    expect(res.body).not.toBeInstanceOf(Uint8Array)
    const got: Uint8Array[] = []
    for await (const ch of res.body as AsyncIterable<Uint8Array>) got.push(ch)
    expect(Buffer.concat(got).equals(Buffer.concat(chunks))).toBe(true)
    expect(await res.trailers).toBeUndefined()
  }, 120_000)
})
