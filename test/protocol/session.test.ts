import { concat } from '../support/bytes.ts'
import { describe, it, expect, vi, afterEach } from 'vitest'
import { invoke, serve, RemoteError, SessionError } from '../../protocol/session.ts'
import type { Handlers, ServedFunction, CallContext } from '../../protocol/session.ts'
import { createTransportPair } from '../../protocol/transport.ts'
import type { Transport } from '../../protocol/transport.ts'
import { FrameDecoder, encodeFrame, encodeHeader, ERROR_PATH_INDEX } from '../../protocol/frame.ts'
import type { Type, FutureType, StreamType } from '../../protocol/wit/model.ts'

const u8: Type = { kind: 'u8' }
const u32: Type = { kind: 'u32' }
const s64: Type = { kind: 's64' }
const bool: Type = { kind: 'bool' }
const str: Type = { kind: 'string' }
const f64: Type = { kind: 'f64' }
const list = (element: Type): Type => ({ kind: 'list', element })
const option = (some: Type): Type => ({ kind: 'option', some })
const tuple = (...elements: Type[]): Type => ({ kind: 'tuple', elements })
const future = (element: Type | null): FutureType => ({ kind: 'future', element })
const stream = (element: Type | null): StreamType => ({ kind: 'stream', element })
const record = (fields: Record<string, Type>): Type => ({ kind: 'record', name: 'rec', fields: Object.entries(fields).map(([name, type]) => ({ name, type })) })
const resultT = (ok: Type | null, err: Type | null): Type => ({ kind: 'result', ok, err })
const variant = (cases: Record<string, Type | null>): Type => ({ kind: 'variant', name: 'v', cases: Object.entries(cases).map(([name, type]) => ({ name, type })) })
const enumT = (...cases: string[]): Type => ({ kind: 'enum', name: 'e', cases })
const flags = (...names: string[]): Type => ({ kind: 'flags', name: 'f', flags: names })

const INSTANCE = 'wasmesh:test/echo@0.1.0'
const utf8 = new TextEncoder()

function fn (params: readonly Type[], results: readonly Type[], call: (params: unknown[], ctx: CallContext) => Promise<unknown[]> | unknown[]): ServedFunction {
  return { params, results, call }
}

function handlersOf (fns: Record<string, ServedFunction>): Handlers {
  return { lookup: (instance, name) => instance === INSTANCE ? fns[name] : undefined }
}

/** Runs one invocation over an in-memory pair; resolves with the results and the serve outcome. */
async function roundTrip (
  f: ServedFunction, params: unknown[], opts: { clientTypes?: readonly Type[], resultTypes?: readonly Type[] } = {}
): Promise<{ results: unknown[], serveErrors: Error[], served: Promise<void> }> {
  const [client, server] = createTransportPair()
  const serveErrors: Error[] = []
  const served = serve(server, handlersOf({ f }), { onError: err => { serveErrors.push(err) } })
  const results = await invoke(client, INSTANCE, 'f', opts.clientTypes ?? f.params, params, opts.resultTypes ?? f.results)
  return { results, serveErrors, served }
}

async function invokeError (promise: Promise<unknown>): Promise<RemoteError | SessionError> {
  try {
    await promise
  } catch (err) {
    expect(err instanceof RemoteError || err instanceof SessionError).toBe(true)
    return err as RemoteError | SessionError
  }
  throw new Error('expected invoke to fail')
}

async function collect (iterable: unknown): Promise<unknown[]> {
  const chunks: unknown[] = []
  for await (const chunk of iterable as AsyncIterable<unknown>) chunks.push(chunk)
  return chunks
}

function flatten (chunks: unknown[]): unknown[] {
  return chunks.flatMap(c => Array.from(c as ArrayLike<unknown>))
}

async function * chunksOf (chunks: unknown[]): AsyncGenerator<unknown> {
  for (const c of chunks) {
    await Promise.resolve()
    yield c
  }
}

function opening (instance: string, name: string): Uint8Array {
  return concat(Uint8Array.of(0), encodeHeader({ instance, name }))
}

interface RawAnswer {
  frames: Array<{ path: readonly number[], data: Uint8Array }>
  /** The JSON body of an error frame, if one came. */
  error?: { code: string, message: string }
  /** True when the transport was reset rather than closed. */
  reset: boolean
}

/** Reads everything a peer sends until it closes or resets; decodes the frames. */
async function readAnswer (t: Transport): Promise<RawAnswer> {
  const dec = new FrameDecoder()
  const answer: RawAnswer = { frames: [], reset: false }
  while (true) {
    let chunk: Uint8Array | null
    try {
      chunk = await t.read()
    } catch {
      answer.reset = true
      break
    }
    if (chunk == null) break
    dec.push(chunk)
    for (let item = dec.next(); item != null; item = dec.next()) {
      if (item.type !== 'frame') continue
      answer.frames.push({ path: item.path, data: item.data })
      if (item.path.length === 1 && item.path[0] === ERROR_PATH_INDEX) {
        answer.error = JSON.parse(new TextDecoder().decode(item.data))
      }
    }
  }
  return answer
}

/** A hand-written wRPC peer: sends raw bytes to `serve`, reads its raw answer. */
async function rawCall (handlers: Handlers, chunks: Uint8Array[], opts: { close?: boolean, idleTimeoutMs?: number } = {}): Promise<{ answer: RawAnswer, errors: Error[] }> {
  const [client, server] = createTransportPair()
  const errors: Error[] = []
  const served = serve(server, handlers, { onError: err => { errors.push(err) }, idleTimeoutMs: opts.idleTimeoutMs })
  for (const c of chunks) await client.write(c)
  if (opts.close !== false) await client.closeWrite()
  const answer = await readAnswer(client)
  await served
  return { answer, errors }
}

const echoTypes: Array<[string, Type, unknown]> = [
  ['bool', bool, true],
  ['u8', u8, 255],
  ['u32', u32, 4_000_000_000],
  ['s64', s64, -(2n ** 63n)],
  ['f64', f64, 1.5],
  ['string', str, 'héllo 𐍈'],
  ['list<u8>', list(u8), Uint8Array.of(1, 2, 3)],
  ['list<string>', list(str), ['a', '', 'c']],
  ['tuple', tuple(u32, str), [7, 'x']],
  ['record', record({ a: u32, b: list(str) }), { a: 1, b: ['z'] }],
  ['option some', option(u32), 5],
  ['option none', option(u32), undefined],
  ['result ok', resultT(u32, str), { tag: 'ok', val: 3 }],
  ['result err', resultT(u32, str), { tag: 'err', val: 'bad' }],
  ['variant', variant({ none: null, some: str }), { tag: 'some', val: 'v' }],
  ['enum', enumT('red', 'green'), 'green'],
  ['flags', flags('read', 'write'), { read: true, write: false }],
  ['ready future', future(u32), 9],
  ['ready stream (numbers arrive as a typed array)', stream(u32), Uint32Array.of(1, 2, 3)],
  ['ready stream of strings', stream(str), ['a', 'b']]
]

afterEach(() => {
  vi.useRealTimers()
})

describe('invoke / serve round trips', () => {
  it.each(echoTypes)('echoes %s', async (_name, type, value) => {
    let received: unknown
    const { results, serveErrors, served } = await roundTrip(fn([type], [type], params => {
      received = params[0]
      return [params[0]]
    }), [value])
    await served
    expect(serveErrors).toEqual([])
    expect(received).toEqual(value)
    expect(results).toEqual([value])
  })

  it('calls a function with several params and several results', async () => {
    const { results, served } = await roundTrip(fn([u32, str, list(u32)], [str, u32], ([a, b, c]) => [
      `${String(b)}:${String(a)}`, (c as number[]).reduce((x, y) => x + y, 0)
    ]), [1, 'x', [1, 2, 3]])
    await served
    expect(results).toEqual(['x:1', 6])
  })

  it('calls a function with no params and no results', async () => {
    let called = 0
    const { results, served } = await roundTrip(fn([], [], () => { called++; return [] }), [])
    await served
    expect(results).toEqual([])
    expect(called).toBe(1)
  })

  it('carries a large value split over many transport chunks', async () => {
    const big = new Uint8Array(300_000).map((_, i) => i % 251)
    const { results, served } = await roundTrip(fn([list(u8)], [u32], ([b]) => [(b as Uint8Array).length]), [big])
    await served
    expect(results).toEqual([300_000])
  })

  it('passes the header to the handler and aborts its signal when the caller goes away', async () => {
    const [client, server] = createTransportPair()
    let ctxSeen: CallContext | undefined
    const started = Promise.withResolvers<void>()
    const served = serve(server, handlersOf({
      f: fn([], [u32], async (_params, ctx) => {
        ctxSeen = ctx
        started.resolve()
        await new Promise<void>(resolve => { ctx.signal.addEventListener('abort', () => { resolve() }) })
        return [1]
      })
    }))
    const controller = new AbortController()
    const call = invoke(client, INSTANCE, 'f', [], [], [u32], { signal: controller.signal })
    await started.promise
    expect(ctxSeen?.instance).toBe(INSTANCE)
    expect(ctxSeen?.name).toBe('f')
    controller.abort(new Error('caller gave up'))
    const err = await invokeError(call)
    expect(err.code).toBe('aborted')
    expect(err.resultStarted).toBe(false)
    await served
    expect(ctxSeen?.signal.aborted).toBe(true)
  })

  it('writes a small call as one chunk and answers it with one chunk', async () => {
    const [client, server] = createTransportPair()
    const clientWrites: Uint8Array[] = []
    const serverWrites: Uint8Array[] = []
    const spy = (t: Transport, log: Uint8Array[]): Transport => ({
      read: () => t.read(),
      write: b => { log.push(b); return t.write(b) },
      closeWrite: () => t.closeWrite(),
      abort: e => { t.abort(e) }
    })
    const served = serve(spy(server, serverWrites), handlersOf({ f: fn([u32, str], [str], ([a, b]) => [`${String(b)}${String(a)}`]) }))
    const results = await invoke(spy(client, clientWrites), INSTANCE, 'f', [u32, str], [1, 'a'], [str])
    await served
    expect(results).toEqual(['a1'])
    expect(clientWrites).toHaveLength(1)
    expect(serverWrites).toHaveLength(1)
    expect(clientWrites[0][0]).toBe(0x00)
  })
})

describe('remote errors', () => {
  it.each(['overloaded', 'trap', 'timeout', 'refused', 'invalid-params'])('turns a handler error with code %s into a RemoteError', async (code) => {
    const [client, server] = createTransportPair()
    const served = serve(server, handlersOf({ f: fn([], [u32], () => { throw Object.assign(new Error(`it failed: ${code}`), { code }) }) }))
    const err = await invokeError(invoke(client, INSTANCE, 'f', [], [], [u32]))
    await served
    expect(err).toBeInstanceOf(RemoteError)
    expect(err.name).toBe('RemoteError')
    expect(err.code).toBe(code)
    expect(err.message).toBe(`it failed: ${code}`)
    expect(err.resultStarted).toBe(false)
  })

  it('answers an unknown function with no-such-function', async () => {
    const [client, server] = createTransportPair()
    const served = serve(server, handlersOf({}))
    const err = await invokeError(invoke(client, INSTANCE, 'nope', [u32], [1], [u32]))
    await served
    expect(err.code).toBe('no-such-function')
    expect(err.resultStarted).toBe(false)
  })

  it('answers a lookup that throws a coded error with that code (e.g. overloaded)', async () => {
    const [client, server] = createTransportPair()
    const served = serve(server, { lookup: () => { throw Object.assign(new Error('too busy'), { code: 'overloaded' }) } })
    const err = await invokeError(invoke(client, INSTANCE, 'f', [], [], []))
    await served
    expect(err.code).toBe('overloaded')
  })

  it('supports an async lookup', async () => {
    const [client, server] = createTransportPair()
    const f = fn([u32], [u32], ([a]) => [(a as number) + 1])
    const served = serve(server, { lookup: async () => { await new Promise(resolve => setTimeout(resolve, 1)); return f } })
    expect(await invoke(client, INSTANCE, 'f', [u32], [1], [u32])).toEqual([2])
    await served
  })

  it('answers params that do not decode with invalid-params', async () => {
    const [client, server] = createTransportPair()
    const served = serve(server, handlersOf({ f: fn([u32], [u32], ([a]) => [a]) }))
    const err = await invokeError(invoke(client, INSTANCE, 'f', [str], ['abc'], [u32]))
    await served
    expect(err.code).toBe('invalid-params')
  })

  it('answers a plain handler error with internal and the message only', async () => {
    const [client, server] = createTransportPair()
    const served = serve(server, handlersOf({ f: fn([], [u32], () => { throw new Error('boom') }) }))
    const err = await invokeError(invoke(client, INSTANCE, 'f', [], [], [u32]))
    await served
    expect(err.code).toBe('internal')
    expect(err.message).toBe('boom')
    expect(err.message).not.toContain('at ')
  })

  it('answers results that do not match their types with internal', async () => {
    const [client, server] = createTransportPair()
    const served = serve(server, handlersOf({ f: fn([], [u32], () => ['not a number']) }))
    const err = await invokeError(invoke(client, INSTANCE, 'f', [], [], [u32]))
    await served
    expect(err.code).toBe('internal')
  })

  it('rejects params that do not encode locally without sending anything', async () => {
    const [client, server] = createTransportPair()
    const served = serve(server, handlersOf({}), { idleTimeoutMs: 0 })
    const err = await invokeError(invoke(client, INSTANCE, 'f', [u32], ['x'], [u32]))
    expect(err).toBeInstanceOf(SessionError)
    expect(err.resultStarted).toBe(false)
    await served
  })

  it('fails cleanly on a malformed error frame', async () => {
    const [client, server] = createTransportPair()
    const call = invoke(client, INSTANCE, 'f', [], [], [u32])
    await server.write(encodeFrame([ERROR_PATH_INDEX], utf8.encode('{not json')))
    await server.closeWrite()
    const err = await invokeError(call)
    expect(err.code).toBe('invalid-frame')
    expect(err.resultStarted).toBe(false)
  })

  it('fails with unexpected-path when the server answers on a path nothing waits for', async () => {
    const [client, server] = createTransportPair()
    const call = invoke(client, INSTANCE, 'f', [], [], [u32])
    await server.write(encodeFrame([3], Uint8Array.of(1)))
    const err = await invokeError(call)
    expect(err.code).toBe('unexpected-path')
    expect(err.resultStarted).toBe(true)
  })

  it('fails with truncated when the server closes before the results are complete', async () => {
    const [client, server] = createTransportPair()
    const call = invoke(client, INSTANCE, 'f', [], [], [str])
    await server.write(encodeFrame([], Uint8Array.of(5, 0x61)))
    await server.closeWrite()
    const err = await invokeError(call)
    expect(err.code).toBe('truncated')
    expect(err.resultStarted).toBe(true)
  })

  it('fails when the server resets the stream', async () => {
    const [client, server] = createTransportPair()
    const call = invoke(client, INSTANCE, 'f', [], [], [str])
    server.abort(new Error('gone'))
    const err = await invokeError(call)
    expect(err.code).toBe('closed')
    expect(err.resultStarted).toBe(false)
  })
})

describe('async values', () => {
  it('sends a pending future param and a pending future result', async () => {
    const later = Promise.withResolvers<number>()
    const { results, served } = await roundTrip(fn([future(u32)], [future(str)], async ([f]) => {
      return [Promise.resolve(f).then(v => `got ${String(v)}`)]
    }), [later.promise])
    const out = results[0]
    expect(out).toBeInstanceOf(Promise)
    later.resolve(42)
    expect(await out).toBe('got 42')
    await served
  })

  it('sends a unit future both ways', async () => {
    const later = Promise.withResolvers<undefined>()
    let paramValue: unknown = 'unset'
    setTimeout(() => { later.resolve(undefined) }, 1)
    const { results, served } = await roundTrip(fn([future(null)], [future(null)], async ([f]) => {
      paramValue = await f
      return [Promise.resolve(undefined)]
    }), [later.promise])
    expect(paramValue).toBeUndefined()
    expect(await results[0]).toBeUndefined()
    await served
  })

  it('sends a pending stream param and a pending stream result', async () => {
    const { results, served } = await roundTrip(fn([stream(u32)], [u32, stream(str)], async ([s]) => {
      const items = flatten(await collect(s)) as number[]
      return [items.length, chunksOf([items.map(String), ['end']])]
    }), [chunksOf([[1, 2], [], [3]])])
    expect(results[0]).toBe(3)
    expect(flatten(await collect(results[1]))).toEqual(['1', '2', '3', 'end'])
    await served
  })

  it('sends a pending byte stream', async () => {
    const { results, served } = await roundTrip(fn([stream(u8)], [stream(u8)], ([s]) => [s]), [chunksOf([Uint8Array.of(1, 2), Uint8Array.of(3)])])
    const chunks = await collect(results[0])
    expect(flatten(chunks)).toEqual([1, 2, 3])
    await served
  })

  it('keeps async results readable after invoke resolved, and fails them when the server errors mid-stream', async () => {
    async function * failing (): AsyncGenerator<unknown> {
      yield [1]
      await Promise.resolve()
      throw Object.assign(new Error('source broke'), { code: 'trap' })
    }
    const { results, served } = await roundTrip(fn([], [stream(u32)], () => [failing()]), [])
    const seen: unknown[] = []
    let error: unknown
    try {
      for await (const chunk of results[0] as AsyncIterable<unknown>) seen.push(chunk)
    } catch (err) {
      error = err
    }
    expect(flatten(seen)).toEqual([1])
    expect(error).toBeInstanceOf(RemoteError)
    expect((error as RemoteError).code).toBe('trap')
    expect((error as RemoteError).resultStarted).toBe(true)
    await served
  })

  it('echoes a stream param into a stream result chunk by chunk while the client is still sending', async () => {
    const N = 20
    const echoed: Array<PromiseWithResolvers<void>> = Array.from({ length: N }, () => Promise.withResolvers<void>())
    async function * source (): AsyncGenerator<number[]> {
      for (let i = 0; i < N; i++) {
        yield [i]
        // the next chunk goes only once this one came back: impossible unless both directions flow at once
        await echoed[i].promise
      }
    }
    const [client, server] = createTransportPair({ highWaterMarkBytes: 64 })
    const served = serve(server, handlersOf({
      f: fn([stream(u32)], [stream(u32)], ([s]) => {
        async function * echo (): AsyncGenerator<unknown> {
          for await (const chunk of s as AsyncIterable<unknown>) yield chunk
        }
        return [echo()]
      })
    }))
    const [out] = await invoke(client, INSTANCE, 'f', [stream(u32)], [source()], [stream(u32)])
    const got: number[] = []
    for await (const chunk of out as AsyncIterable<ArrayLike<number>>) {
      for (const v of Array.from(chunk)) {
        got.push(v)
        echoed[v].resolve()
      }
    }
    expect(got).toEqual(Array.from({ length: N }, (_, i) => i))
    await served
  })

  it('carries a stream of records that each hold a pending future', async () => {
    const item = record({ id: u32, later: future(str) })
    const { results, served } = await roundTrip(fn([stream(item)], [list(str)], async ([s]) => {
      const out: string[] = []
      for await (const chunk of s as AsyncIterable<Array<{ id: number, later: unknown }>>) {
        for (const r of chunk) out.push(`${r.id}=${String(await r.later)}`)
      }
      return [out]
    }), [chunksOf([
      [{ id: 1, later: Promise.resolve('a') }, { id: 2, later: Promise.resolve('b') }],
      [{ id: 3, later: new Promise(resolve => setTimeout(() => { resolve('c') }, 5)) }]
    ])])
    expect(results).toEqual([['1=a', '2=b', '3=c']])
    await served
  })

  it('sends an empty stream (which wRPC can only send as pending, then the end chunk)', async () => {
    const { results, served } = await roundTrip(fn([stream(u32)], [stream(u32)], ([s]) => [s]), [[]])
    expect(await collect(results[0])).toEqual([])
    await served
  })

  it('accepts a nested async value whose frames arrive before the chunk that announces it', async () => {
    const item = record({ id: u32, later: future(str) })
    let got: unknown
    const handlers = handlersOf({
      f: fn([stream(item)], [], async ([s]) => {
        const out: string[] = []
        for await (const chunk of s as AsyncIterable<Array<{ id: number, later: unknown }>>) {
          for (const r of chunk) out.push(`${r.id}=${String(await r.later)}`)
        }
        got = out
        return []
      })
    })
    const { answer, errors } = await rawCall(handlers, [concat(
      opening(INSTANCE, 'f'),
      encodeFrame([], Uint8Array.of(0x00)), // param 0: pending stream
      encodeFrame([0, 0, 1], Uint8Array.of(0x01, 0x61)), // element 0's field 1 (a future): "a", before the chunk
      encodeFrame([0], Uint8Array.of(0x01, 0x07, 0x00)), // chunk [{id: 7, later: pending}]
      encodeFrame([0], Uint8Array.of(0x00)) // end of stream
    )])
    expect(errors).toEqual([])
    expect(answer.error).toBeUndefined()
    expect(got).toEqual(['7=a'])
  })

  it('lets the caller abandon a stream result without stalling the session', async () => {
    const { results, served } = await roundTrip(fn([], [stream(u32)], () => [chunksOf([[1], [2], [3]])]), [])
    for await (const chunk of results[0] as AsyncIterable<unknown>) {
      expect(Array.from(chunk as ArrayLike<number>)).toEqual([1])
      break
    }
    await served
  })
})

describe('idle timeout', () => {
  it('aborts a server session whose client stops sending mid-invocation', async () => {
    const { answer, errors } = await rawCall(handlersOf({ f: fn([str], [u32], () => [1]) }), [
      opening(INSTANCE, 'f'), encodeFrame([], Uint8Array.of(10, 0x61))
    ], { close: false, idleTimeoutMs: 50 })
    expect(answer.reset).toBe(true)
    expect(errors.map(e => (e as SessionError).code)).toEqual(['idle-timeout'])
  })

  it('aborts a server session that never gets a header', async () => {
    const { answer, errors } = await rawCall(handlersOf({}), [], { close: false, idleTimeoutMs: 50 })
    expect(answer.reset).toBe(true)
    expect(errors.map(e => (e as SessionError).code)).toEqual(['idle-timeout'])
  })

  it('fails a call whose server stops in the middle of the results', async () => {
    const [client, server] = createTransportPair()
    const call = invoke(client, INSTANCE, 'f', [], [], [str], { idleTimeoutMs: 50 })
    await server.write(encodeFrame([], Uint8Array.of(10, 0x61)))
    const err = await invokeError(call)
    expect(err.code).toBe('idle-timeout')
    expect(err.resultStarted).toBe(true)
    await expect(server.read()).rejects.toThrow()
  })

  it('leaves no timer behind after sessions end, well or badly', async () => {
    vi.useFakeTimers()
    const f = fn([u32], [u32], ([a]) => [(a as number) * 2])
    expect((await roundTrip(f, [21])).results).toEqual([42])
    const [client, server] = createTransportPair()
    const served = serve(server, handlersOf({ f }))
    const err = await invokeError(invoke(client, INSTANCE, 'g', [u32], [1], [u32]))
    expect(err.code).toBe('no-such-function')
    await served
    const stalled = createTransportPair()
    const stalledCall = invoke(stalled[0], INSTANCE, 'f', [], [], [str], { idleTimeoutMs: 50 })
    const stalledError = invokeError(stalledCall)
    await stalled[1].write(encodeFrame([], Uint8Array.of(10, 0x61)))
    await vi.advanceTimersByTimeAsync(100)
    expect((await stalledError).code).toBe('idle-timeout')
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('bad input from a peer never escapes serve and never hangs', () => {
  const handlers = handlersOf({ f: fn([u32], [u32], ([a]) => [a]), s: fn([stream(u8)], [u32], async ([s]) => [(await collect(s)).length]) })

  it('answers garbage with an error frame', async () => {
    const { answer, errors } = await rawCall(handlers, [Uint8Array.of(0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)])
    expect(answer.error?.code).toBe('invalid-leb128')
    expect(errors).toHaveLength(1)
  })

  it('answers a wrong version byte with invalid-version', async () => {
    const { answer } = await rawCall(handlers, [Uint8Array.of(0x01, 0x00, 0x00)])
    expect(answer.error?.code).toBe('invalid-version')
  })

  it('handles a truncated header', async () => {
    const { answer, errors } = await rawCall(handlers, [Uint8Array.of(0x00, 0x10, 0x61)])
    expect(answer.error?.code).toBe('truncated')
    expect(errors).toHaveLength(1)
  })

  it('answers a frame for a path no pending value waits for with unexpected-path', async () => {
    const before = await rawCall(handlers, [concat(opening(INSTANCE, 'f'), encodeFrame([0], Uint8Array.of(1)), encodeFrame([], Uint8Array.of(1)))])
    expect(before.answer.error?.code).toBe('unexpected-path')
    const after = await rawCall(handlers, [concat(opening(INSTANCE, 'f'), encodeFrame([], Uint8Array.of(1)), encodeFrame([7, 1], Uint8Array.of(1)))])
    expect(after.answer.error?.code).toBe('unexpected-path')
  })

  it('answers params that never complete before close with invalid-params', async () => {
    const { answer } = await rawCall(handlers, [opening(INSTANCE, 'f'), encodeFrame([], Uint8Array.of(0x80))])
    expect(answer.error?.code).toBe('invalid-params')
  })

  it('answers a pending stream param that never ends before close with invalid-params', async () => {
    const { answer } = await rawCall(handlers, [opening(INSTANCE, 's'), encodeFrame([], Uint8Array.of(0x00)), encodeFrame([0], Uint8Array.of(1, 9))])
    expect(answer.error?.code).toBe('invalid-params')
  })

  it('answers a close in the middle of a frame with truncated', async () => {
    const { answer } = await rawCall(handlers, [opening(INSTANCE, 'f'), Uint8Array.of(0x00, 0x05, 0x01)])
    expect(answer.error?.code).toBe('truncated')
  })

  it('answers trailing bytes after the params with invalid-params', async () => {
    const { answer } = await rawCall(handlers, [opening(INSTANCE, 'f'), encodeFrame([], Uint8Array.of(1, 2))])
    expect(answer.error?.code).toBe('invalid-params')
  })

  it('answers a frame larger than maxFrameBytes with limit-exceeded', async () => {
    const [client, server] = createTransportPair()
    const errors: Error[] = []
    const served = serve(server, handlers, { limits: { maxFrameBytes: 8 }, onError: e => { errors.push(e) } })
    await client.write(concat(opening(INSTANCE, 'f'), encodeFrame([], new Uint8Array(9))))
    const answer = await readAnswer(client)
    await served
    expect(answer.error?.code).toBe('limit-exceeded')
  })

  it('survives a client that resets the stream', async () => {
    const [client, server] = createTransportPair()
    const errors: Error[] = []
    const served = serve(server, handlers, { onError: e => { errors.push(e) } })
    await client.write(opening(INSTANCE, 'f'))
    client.abort(new Error('bye'))
    await served
    expect((errors[0] as SessionError).code).toBe('closed')
  })
})

describe('a wRPC client written from SPEC.md bytes', () => {
  const handlers = handlersOf({ add: fn([u32, u32], [u32], ([a, b]) => [(a as number) + (b as number)]) })

  it('calls add(2, 300) and reads the framed result', async () => {
    const instance = utf8.encode(INSTANCE)
    const request = Uint8Array.of(
      0x00, // version
      instance.length, ...instance, 3, ...utf8.encode('add'), // header {instance, name}
      0x00, 0x03, 0x02, 0xac, 0x02 // frame {path: [], data: [u32 2, u32 300]}
    )
    const { answer, errors } = await rawCall(handlers, [request])
    expect(errors).toEqual([])
    expect(answer.reset).toBe(false)
    expect(answer.frames).toHaveLength(1)
    expect(answer.frames[0].path).toEqual([])
    expect([...answer.frames[0].data]).toEqual([0xae, 0x02]) // 302
  })

  it('accepts the request split into single bytes', async () => {
    const instance = utf8.encode(INSTANCE)
    const request = Uint8Array.of(0x00, instance.length, ...instance, 3, ...utf8.encode('add'), 0x00, 0x02, 0x01, 0x01)
    const { answer } = await rawCall(handlers, Array.from(request, b => Uint8Array.of(b)))
    expect(answer.frames.map(f => [...f.data])).toEqual([[2]])
  })

  it('gets an error frame for an unknown function', async () => {
    const request = concat(opening(INSTANCE, 'sub'), encodeFrame([], Uint8Array.of(1, 1)))
    const { answer } = await rawCall(handlers, [request])
    expect(answer.frames).toHaveLength(1)
    expect(answer.frames[0].path).toEqual([ERROR_PATH_INDEX])
    expect(answer.error?.code).toBe('no-such-function')
    expect(typeof answer.error?.message).toBe('string')
  })
})
