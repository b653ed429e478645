// The serving side: a wrpc:http `handle` call from a gateway, run through an HTTP component's wasi:http/incoming-handler, the response answered as soon as the component sets it and its body streamed after.
import type { HttpExchange, Runtime } from '../runtime/index.ts'
import { BodyReader, ByteQueue } from './body.ts'
import { entriesOf, wireOf, type WireFields } from './fields.ts'
import type { HttpLimits } from './limits.ts'

/** `wrpc:http/types.request` as the session decodes it: body a stream of byte chunks, trailers a future. */
export interface WireRequest {
  readonly body: AsyncIterable<unknown> | Uint8Array
  readonly trailers: PromiseLike<WireFields | undefined> | WireFields | undefined
  readonly method: { readonly tag: string, readonly val?: string }
  readonly pathWithQuery?: string
  readonly scheme?: { readonly tag: string, readonly val?: string }
  readonly authority?: string
  readonly headers: WireFields
}

/**
 * `wrpc:http/types.response`, as this side sends it: a body the component finished before the response went out
 * is one ready chunk and its trailers a ready value (one frame on the wire, no stream after it), else a stream
 * and a promise.
 */
export interface WireResponse {
  readonly body: AsyncIterable<Uint8Array> | Uint8Array
  readonly trailers: Promise<WireFields | undefined> | WireFields | undefined
  readonly status: number
  readonly headers: WireFields
}

function isWireRequest (v: unknown): v is WireRequest {
  const r = v as Partial<WireRequest> | null
  return typeof r === 'object' && r !== null && Array.isArray(r.headers) && typeof r.method?.tag === 'string' &&
    (r.body instanceof Uint8Array || (r.body !== undefined && typeof (r.body as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function'))
}

/** A body that arrived whole (a ready `stream<u8>`, or a local gateway's body-less request) as the stream BodyReader takes. */
function chunksOf (body: AsyncIterable<unknown> | Uint8Array): AsyncIterable<unknown> {
  if (!(body instanceof Uint8Array)) return body
  return { [Symbol.asyncIterator]: () => { let done = body.byteLength === 0; return { next: async () => done ? { done: true, value: undefined } : (done = true, { done: false, value: body }) } } }
}

/**
 * Runs one request on component `id`: resolves with `[result<response, error-code>]` once the component sets its
 * response (the body follows on the response's stream), or with `err(internal-error)` if it returned without one.
 */
export function serveHttp (runtime: Runtime, id: string, params: unknown[], opts: { caller?: string, timeoutMs?: number },
  limits: Pick<HttpLimits, 'httpBodyBufferBytes'>): Promise<unknown[]> {
  const request = params[0]
  if (params.length !== 1 || !isWireRequest(request)) return Promise.reject(Object.assign(new Error('handle takes one wrpc:http request'), { code: 'invalid-params' }))
  const reader = new BodyReader(chunksOf(request.body))
  const out = new ByteQueue(limits.httpBodyBufferBytes)
  const trailers = Promise.withResolvers<WireFields | undefined>()
  /** The component's trailers once it finished its body. */
  let finished: { trailers: WireFields | undefined } | undefined
  let answered = false
  /** The response the component set, until it is sent. */
  let head: { status: number, headers: WireFields } | undefined
  return new Promise<unknown[]>((resolve, reject) => {
    const answer = (value: unknown[]): void => {
      if (answered) return
      answered = true
      resolve(value)
    }
    const sendHead = (): void => {
      if (answered || head === undefined) return
      const whole = finished !== undefined ? out.takeEnded() : undefined
      const response: WireResponse = whole !== undefined
        ? { body: whole, trailers: finished?.trailers, status: head.status, headers: head.headers }
        : { body: out, trailers: trailers.promise, status: head.status, headers: head.headers }
      answer([{ tag: 'ok', val: response }])
    }
    const exchange: HttpExchange = {
      head: {
        method: request.method,
        ...(request.pathWithQuery !== undefined ? { pathWithQuery: request.pathWithQuery } : {}),
        ...(request.scheme !== undefined ? { scheme: request.scheme } : {}),
        ...(request.authority !== undefined ? { authority: request.authority } : {}),
        headers: entriesOf(request.headers)
      },
      read: async max => await reader.read(max),
      trailers: async () => {
        const t = await request.trailers
        return t === undefined ? undefined : entriesOf(t)
      },
      respond (status, headers) {
        if (answered || head !== undefined) return
        head = { status, headers: wireOf(headers) }
        // Sent once the exchange calls made with it (a batch: respond, write, finish) have run, so that a body
        // finished by then goes out whole with the head.
        queueMicrotask(sendHead)
      },
      respondError (code) {
        if (head !== undefined) return
        answer([{ tag: 'err', val: code }])
        out.end()
      },
      write: async chunk => { await out.push(chunk) },
      finish (t) {
        finished = { trailers: t === undefined || t.length === 0 ? undefined : wireOf(t) }
        trailers.resolve(finished.trailers)
        out.end()
      }
    }
    runtime.handleHttp(id, exchange, opts).then(() => {
      sendHead()
      answer([{ tag: 'err', val: { tag: 'internal-error', val: 'the component returned without setting a response' } }])
      trailers.resolve(undefined)
      out.end()
      reader.cancel()
    }, (err: unknown) => {
      sendHead()
      trailers.resolve(undefined)
      reader.cancel()
      if (!answered) { answered = true; reject(err); return }
      // The response head went out: the body stops here, and the gateway cuts its client's response short.
      out.fail(err instanceof Error ? err : new Error(String(err)))
    })
  })
}
