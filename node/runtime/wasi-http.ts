// (guest side) A component's wasi:http/incoming-handler export driven by one exchange at a time: the wasi:http/types resources of an incoming request, backed by the runtime's exchange imports rather than preview2-shim's I/O thread.
import { types as shimTypes } from '@bytecodealliance/preview2-shim/http'
import { streams } from '@bytecodealliance/preview2-shim/io'
import { monotonicClock } from '@bytecodealliance/preview2-shim/clocks'

// The internal interface of the exchange: defined in messages.ts so that the main thread knows it without loading preview2-shim.
import { EXCHANGE_IFACE } from './messages.ts'
export { EXCHANGE_IFACE }

/** `[name, value]` pairs as wasi:http `fields.entries()` lists them. */
export type FieldEntries = Array<[string, Uint8Array]>

/** What the runtime sends the guest for one request: the head; the body and trailers are pulled through the exchange. */
export interface HttpRequestHead {
  /** The exchange's id: every exchange import names it. */
  readonly exchange: string
  /** wasi:http `method` in jco's form: `{ tag: 'get' }`, `{ tag: 'other', val: 'PURGE' }`. */
  readonly method: { readonly tag: string, readonly val?: string }
  readonly pathWithQuery?: string
  readonly scheme?: { readonly tag: string, readonly val?: string }
  readonly authority?: string
  readonly headers: FieldEntries
}

/** The first element of a result, as the guest's `importCall` answers. */
type ImportCall = (iface: string, func: string, params: unknown[]) => Promise<unknown[]>

/**
 * Exchange calls that need no answer (`respond`, `respond-error`, `write`, `finish`), gathered and sent as one
 * `batch` call: `[exchange, [[func, ...params], ...]]`, answered in order. A worker's import is a message each way,
 * and a small response (head, one chunk, end) made in one go is one batch, or none when it rides on the end of
 * `handle` (see `IncomingHttp.handle`).
 */
export type ExchangeOps = Array<[string, ...unknown[]]>

// preview2-shim's classes, as they are (jco checks host resources with `instanceof` against the import object's
// classes, and outgoing HTTP shares IncomingBody, FutureTrailers, OutgoingBody, Fields and the streams with us).
interface ShimTypes {
  Fields: { fromList (entries: FieldEntries): object, prototype: { entries (): FieldEntries } }
  IncomingBody: { prototype: object, finish (b: object): unknown }
  IncomingRequest: new () => object
  FutureTrailers: { prototype: object }
  OutgoingBody: { prototype: object, finish (b: object, trailers?: object): void }
  OutgoingResponse: new (headers: object) => { statusCode (): number, headers (): { entries (): FieldEntries } }
  ResponseOutparam: { prototype: object, set (param: object, response: unknown): void }
}
const shim = shimTypes as unknown as ShimTypes

/** Our own objects among the shim's: their static calls (`finish`, `set`) are answered here, the shim's others by the shim. */
const ownStatics = new WeakMap<object, (...args: unknown[]) => unknown>()

let patched = false
/** Once per thread: the shim's statics first ask whether the object is one of ours (idempotent, and harmless to the shim's own objects). */
function patchStatics (): void {
  if (patched) return
  patched = true
  const incomingFinish = shim.IncomingBody.finish.bind(shim.IncomingBody)
  shim.IncomingBody.finish = (b: object) => { const own = ownStatics.get(b); return own !== undefined ? own() : incomingFinish(b) }
  const outgoingFinish = shim.OutgoingBody.finish.bind(shim.OutgoingBody)
  shim.OutgoingBody.finish = (b: object, trailers?: object) => { const own = ownStatics.get(b); if (own !== undefined) own(trailers); else outgoingFinish(b, trailers) }
}

const closed = (): never => { throw { tag: 'closed' } }
const ready = (): object => monotonicClock.subscribeDuration(0n)

function withDispose (obj: Record<string | symbol, unknown>): Record<string | symbol, unknown> {
  obj[Symbol.dispose] = () => {}
  return obj
}

export interface IncomingHttp {
  /** Overrides of the WASI import object for a component exporting wasi:http/incoming-handler. */
  readonly imports: Record<string, unknown>
  /**
   * Runs one request through the export `handler` (jco's `{ handle }`); settles when the guest's `handle` returns,
   * with the exchange calls not sent yet (the runtime applies them, in order, as a `batch`), or none.
   */
  handle (handler: { handle: (req: object, out: object) => unknown }, head: HttpRequestHead): Promise<ExchangeOps | undefined>
}

/**
 * The wasi:http/types resources of incoming requests for one guest. The request body is an input-stream whose
 * reads await the exchange (JSPI-suspended: runtime/component.ts lists these stream methods as async imports of an
 * HTTP component), and the response body an output-stream whose writes resolve once the runtime has room for them,
 * so bodies move chunk by chunk in both directions and neither side buffers one whole.
 */
export function createIncomingHttp (importCall: ImportCall, wasi: Record<string, unknown>): IncomingHttp {
  patchStatics()
  /**
   * The exchange calls of the request in flight not sent yet. They go out as one `batch` before any call that needs
   * an answer, when the guest next lets the event loop run (it suspends: the head is not held while it waits), or
   * with the end of `handle`, whichever is first.
   */
  let outbox: { exchange: string, ops: ExchangeOps, timer: NodeJS.Immediate } | undefined
  const sendOutbox = (): Promise<unknown> | undefined => {
    const o = outbox
    if (o === undefined) return undefined
    outbox = undefined
    clearImmediate(o.timer)
    return importCall(EXCHANGE_IFACE, 'batch', [o.exchange, o.ops])
  }
  const post = (exchange: string, op: [string, ...unknown[]]): void => {
    // Another exchange's calls (a response set after its handle returned) go first, in their own batch.
    if (outbox !== undefined && outbox.exchange !== exchange) sendOutbox()?.catch(() => {})
    if (outbox === undefined) outbox = { exchange, ops: [], timer: setImmediate(() => { sendOutbox()?.catch(() => {}) }) }
    outbox.ops.push(op)
  }
  const call = async (func: string, params: unknown[]): Promise<unknown> => {
    // What the guest did before this call is sent first: the exchange answers in the order it is called.
    sendOutbox()?.catch(() => {})
    return (await importCall(EXCHANGE_IFACE, func, params))[0]
  }
  const cast = (v: unknown): never => { throw new Error(`wasi:http: ${String(v)}`) }

  /** The response bodies of the call in flight, flushed when its `handle` returns (a guest may not finish its body). */
  const unflushed = new Set<{ flush: () => void }>()

  /** Bytes asked of the exchange per read, and written to it per write: the guest's 8 KiB steps are served from these without a suspension each. */
  const FETCH_BYTES = 1024 * 1024
  const FLUSH_BYTES = 256 * 1024

  function inputStream (exchange: string): object {
    let ended = false
    let pending: Uint8Array | undefined
    const take = (max: number): Uint8Array => {
      const p = pending as Uint8Array
      if (p.byteLength <= max) { pending = undefined; return p }
      pending = p.subarray(max)
      return p.subarray(0, max)
    }
    // Synchronous while bytes are at hand (JSPI suspends only on a promise), a promise when the exchange must be asked.
    const read = (len: bigint): Uint8Array | Promise<Uint8Array> => {
      const max = Number(len > BigInt(FETCH_BYTES) ? BigInt(FETCH_BYTES) : len)
      if (max === 0) return new Uint8Array(0)
      if (pending !== undefined) return take(max)
      if (ended) closed()
      return call('read', [exchange, FETCH_BYTES]).then(chunk => {
        if (chunk === undefined) { ended = true; closed() }
        pending = chunk as Uint8Array
        return take(max)
      })
    }
    const skip = (len: bigint): bigint | Promise<bigint> => {
      const r = read(len)
      return r instanceof Uint8Array ? BigInt(r.byteLength) : r.then(b => BigInt(b.byteLength))
    }
    const stream = Object.create((streams.InputStream as { prototype: object }).prototype) as Record<string | symbol, unknown>
    Object.assign(stream, { read, blockingRead: read, skip, blockingSkip: skip, subscribe: ready, _wasmeshRead: read })
    return withDispose(stream)
  }

  /** The response body's writes, gathered up to FLUSH_BYTES: a write waits (back-pressure) only when it sends them. */
  function outputStream (exchange: string, flushed: { flush: () => void }): object {
    let parts: Uint8Array[] = []
    let held = 0
    /** The writes held, as one `write` in the outbox. */
    const gather = (): void => {
      const all = parts.length === 1 ? parts[0] : new Uint8Array(held)
      if (parts.length > 1) {
        let at = 0
        for (const p of parts) { all.set(p, at); at += p.byteLength }
      }
      parts = []
      held = 0
      post(exchange, ['write', all])
    }
    // Sent now, and waited for: the back-pressure of a large body.
    const send = (): Promise<unknown> => { gather(); return sendOutbox() as Promise<unknown> }
    flushed.flush = () => { if (held > 0) gather() }
    unflushed.add(flushed)
    const write = (bytes: Uint8Array): undefined | Promise<void> => {
      if (bytes.byteLength === 0) return undefined
      // Copied: the view points into the guest's linear memory, which changes as soon as the guest runs on.
      parts.push(bytes.slice())
      held += bytes.byteLength
      if (held < FLUSH_BYTES) return undefined
      return send().then(() => undefined)
    }
    const zeroes = (n: bigint): undefined | Promise<void> => write(new Uint8Array(Number(n)))
    const stream = Object.create((streams.OutputStream as { prototype: object }).prototype) as Record<string | symbol, unknown>
    const splice = async (src: Record<string, unknown>, len: bigint): Promise<bigint> => {
      const r = src._wasmeshRead as ((len: bigint) => Uint8Array | Promise<Uint8Array>) | undefined
      if (r === undefined) return closed()
      const bytes = await r(len)
      await write(bytes)
      return BigInt(bytes.byteLength)
    }
    Object.assign(stream, {
      checkWrite: () => 65536n,
      write,
      blockingWriteAndFlush: write,
      flush: () => {},
      blockingFlush: () => {},
      writeZeroes: zeroes,
      blockingWriteZeroesAndFlush: zeroes,
      subscribe: ready,
      splice,
      blockingSplice: splice
    })
    return withDispose(stream)
  }

  function futureTrailers (exchange: string): object {
    let value: { tag: 'ok', val: { tag: 'ok', val: object | undefined } } | undefined
    let taken = false
    const trailers = Object.create(shim.FutureTrailers.prototype) as Record<string | symbol, unknown>
    const fetched = call('trailers', [exchange]).then(t => {
      value = { tag: 'ok', val: { tag: 'ok', val: t === undefined ? undefined : shim.Fields.fromList(t as FieldEntries) } }
    }, () => { value = { tag: 'ok', val: { tag: 'ok', val: undefined } } })
    Object.assign(trailers, {
      // The trailers come with the end of the body, which the guest has read by now: they are here, or nearly.
      subscribe: ready,
      get: () => {
        if (taken) return { tag: 'err', val: undefined }
        if (value === undefined) return undefined
        taken = true
        return value
      },
      _wasmeshFetched: fetched
    })
    return withDispose(trailers)
  }

  function incomingBody (exchange: string): object {
    let stream: object | null = inputStream(exchange)
    const body = Object.create(shim.IncomingBody.prototype) as Record<string | symbol, unknown>
    let finished = false
    Object.assign(body, {
      stream: () => {
        if (stream === null) throw undefined
        const s = stream
        stream = null
        return s
      }
    })
    ownStatics.set(body, () => {
      if (finished) cast('incoming body already finished')
      finished = true
      return futureTrailers(exchange)
    })
    return withDispose(body)
  }

  function outgoingBody (exchange: string): object {
    const flushed = { flush: () => {} }
    let stream: object | null = outputStream(exchange, flushed)
    let finished = false
    const body = Object.create(shim.OutgoingBody.prototype) as Record<string | symbol, unknown>
    Object.assign(body, {
      write: () => {
        if (stream === null) throw undefined
        const s = stream
        stream = null
        return s
      }
    })
    ownStatics.set(body, (trailers: unknown) => {
      if (finished) return
      finished = true
      // What the stream still holds goes first: the exchange answers in the order it is called.
      flushed.flush()
      const entries = trailers == null ? undefined : (trailers as { entries (): FieldEntries }).entries()
      post(exchange, ['finish', entries])
    })
    return withDispose(body)
  }

  /** The exchange of the call in flight (an instance runs one call at a time): responses made during it belong to it. */
  let current: string | undefined

  class IncomingRequest extends (shim.IncomingRequest as new () => object) {}
  class OutgoingResponse extends shim.OutgoingResponse {
    #body: object | undefined
    readonly #exchange = current
    body (): object {
      if (this.#body !== undefined || this.#exchange === undefined) throw undefined
      this.#body = outgoingBody(this.#exchange)
      return this.#body
    }
  }
  class ResponseOutparam {
    static set (param: ResponseOutparam, response: { tag: 'ok' | 'err', val: unknown }): void {
      const exchange = outparams.get(param)
      if (exchange === undefined) return cast('response-outparam already set')
      outparams.delete(param)
      if (response.tag === 'ok') {
        const r = response.val as OutgoingResponse
        post(exchange, ['respond', r.statusCode(), r.headers().entries()])
      } else {
        post(exchange, ['respond-error', response.val])
      }
    }
  }
  const outparams = new WeakMap<object, string>()

  function request (head: HttpRequestHead): object {
    const req = Object.create(IncomingRequest.prototype) as Record<string | symbol, unknown>
    const headers = shim.Fields.fromList(head.headers.filter(([name]) => !forbidden.has(name.toLowerCase())))
    let consumed = false
    Object.assign(req, {
      method: () => head.method,
      pathWithQuery: () => head.pathWithQuery,
      scheme: () => head.scheme,
      authority: () => head.authority,
      headers: () => headers,
      consume: () => {
        if (consumed) throw undefined
        consumed = true
        return incomingBody(head.exchange)
      }
    })
    return withDispose(req)
  }

  const types = wasi['wasi:http/types'] as Record<string, unknown>
  return {
    imports: {
      'wasi:http/types': { ...types, IncomingRequest, OutgoingResponse, ResponseOutparam }
    },
    async handle (handler, head) {
      current = head.exchange
      let returned = false
      try {
        const out = withDispose(Object.create(ResponseOutparam.prototype) as Record<string | symbol, unknown>)
        outparams.set(out, head.exchange)
        await handler.handle(request(head), out)
        returned = true
      } finally {
        current = undefined
        for (const f of unflushed) f.flush()
        unflushed.clear()
        // A trap: what the guest did before it goes out now, so a response head it set is answered as before.
        if (!returned) sendOutbox()?.catch(() => {})
      }
      // The calls still held ride on the end of the call (no message of their own) when they are this exchange's.
      const o = outbox
      if (o === undefined || o.exchange !== head.exchange) { sendOutbox()?.catch(() => {}); return undefined }
      outbox = undefined
      clearImmediate(o.timer)
      return o.ops
    }
  }
}

/** Headers preview2-shim's `fields` refuse (`forbidden`): hop-by-hop ones and `host` (the request's authority carries it). */
const forbidden = new Set(['connection', 'keep-alive', 'host', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings'])
