// The serving side: a wrpc:http `handle` call from a gateway, run through an HTTP component's wasi:http/incoming-handler, the response answered as soon as the component sets it and its body streamed after.
import type { HttpExchange, Runtime } from '../runtime/index.ts'
import { BodyReader, ByteQueue } from './body.ts'
import { entriesOf, wireOf, type WireFields } from './fields.ts'
import type { HttpLimits } from './limits.ts'

/** `wrpc:http/types.request` as the session decodes it: body a stream of byte chunks, trailers a future. */
export interface WireRequest {
  readonly body: AsyncIterable<unknown>
  readonly trailers: PromiseLike<WireFields | undefined> | WireFields | undefined
  readonly method: { readonly tag: string, readonly val?: string }
  readonly pathWithQuery?: string
  readonly scheme?: { readonly tag: string, readonly val?: string }
  readonly authority?: string
  readonly headers: WireFields
}

/** `wrpc:http/types.response`, as this side sends it. */
export interface WireResponse {
  readonly body: AsyncIterable<Uint8Array>
  readonly trailers: Promise<WireFields | undefined>
  readonly status: number
  readonly headers: WireFields
}

function isWireRequest (v: unknown): v is WireRequest {
  const r = v as Partial<WireRequest> | null
  return typeof r === 'object' && r !== null && Array.isArray(r.headers) && typeof r.method?.tag === 'string' &&
    r.body !== undefined && typeof (r.body as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function'
}

/**
 * Runs one request on component `id`: resolves with `[result<response, error-code>]` once the component sets its
 * response (the body follows on the response's stream), or with `err(internal-error)` if it returned without one.
 */
export function serveHttp (runtime: Runtime, id: string, params: unknown[], opts: { caller?: string, timeoutMs?: number },
  limits: Pick<HttpLimits, 'httpBodyBufferBytes'>): Promise<unknown[]> {
  const request = params[0]
  if (params.length !== 1 || !isWireRequest(request)) return Promise.reject(Object.assign(new Error('handle takes one wrpc:http request'), { code: 'invalid-params' }))
  const reader = new BodyReader(request.body)
  const out = new ByteQueue(limits.httpBodyBufferBytes)
  const trailers = Promise.withResolvers<WireFields | undefined>()
  let answered = false
  return new Promise<unknown[]>((resolve, reject) => {
    const answer = (value: unknown[]): void => {
      if (answered) return
      answered = true
      resolve(value)
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
        const response: WireResponse = { body: out, trailers: trailers.promise, status, headers: wireOf(headers) }
        answer([{ tag: 'ok', val: response }])
      },
      respondError (code) {
        answer([{ tag: 'err', val: code }])
        out.end()
      },
      write: async chunk => { await out.push(chunk) },
      finish (t) {
        trailers.resolve(t === undefined || t.length === 0 ? undefined : wireOf(t))
        out.end()
      }
    }
    runtime.handleHttp(id, exchange, opts).then(() => {
      answer([{ tag: 'err', val: { tag: 'internal-error', val: 'the component returned without setting a response' } }])
      trailers.resolve(undefined)
      out.end()
      reader.cancel()
    }, (err: unknown) => {
      trailers.resolve(undefined)
      reader.cancel()
      if (!answered) { answered = true; reject(err); return }
      // The response head went out: the body stops here, and the gateway cuts its client's response short.
      out.fail(err instanceof Error ? err : new Error(String(err)))
    })
  })
}
