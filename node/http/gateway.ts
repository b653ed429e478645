// The HTTP/1.1 gateway: a node:http server whose requests travel to a server of wrpc:http/incoming-handler in the mesh as wRPC calls, bodies streamed both ways, every limit enforced at the edge.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { CallOptions } from '../api.ts'
import type { Logger } from '../logger.ts'
import { HttpError } from './errors.ts'
import { rawOfWire, wireOfRaw, type WireFields } from './fields.ts'
import { defaultHttpLimits, type HttpLimits } from './limits.ts'
import { checkRoutes, describeTarget, matchRoute, type Route } from './routes.ts'
import type { WireResponse } from './serve.ts'
import { HTTP_HANDLER_IFACE } from './wit.ts'

export interface GatewayInit {
  /** `host:port` (`[::1]:8080`); port 0 picks a free one. */
  readonly listen: string
  readonly routes?: readonly Route[]
  readonly limits?: Partial<HttpLimits>
  /** The node's call (router: local first, failover before the first result byte). */
  readonly call: (iface: string, func: string, params: unknown[], opts?: CallOptions) => Promise<unknown[]>
  readonly log?: Logger
}

export interface GatewayStats {
  /** Requests in flight now. */
  readonly inflight: number
  /** Answers by status (the gateway's own and the components'). */
  readonly responses: Readonly<Record<number, number>>
  /** Requests and connections cut off by a limit, by the limit's name. */
  readonly refused: Readonly<Record<string, number>>
}

export interface Gateway {
  start (): Promise<void>
  /**
   * Stops taking connections at once and answers new requests on open ones 503 `connection: close`; the requests
   * in flight may finish for up to `drainTimeoutMs` (default 0: cut at once), then every socket is closed.
   */
  stop (opts?: { drainTimeoutMs?: number }): Promise<void>
  /** `http://host:port` once started. */
  readonly url: string
  stats (): GatewayStats
}

const EMPTY = new Uint8Array(0)
const methods = new Set(['get', 'head', 'post', 'put', 'delete', 'connect', 'options', 'trace', 'patch'])

/** `host:port` -> its parts; anything else is `invalid-http-config`. */
export function parseListen (listen: string): { host: string, port: number } {
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/i.exec(listen)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || port > 65535) throw new HttpError('invalid-http-config', `--http ${JSON.stringify(listen)}: give host:port, e.g. 127.0.0.1:8080 (port 0 for a free one)`)
  return { host: m[1] ?? m[2], port }
}

/** A route's target as router call options. */
function targetOptions (route: Route): Pick<CallOptions, 'labels' | 'component'> {
  const t = route.target
  if (t.kind === 'component') return { component: t.component }
  if (t.kind === 'labels') return { labels: t.labels }
  return {}
}

function isThenable (v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function'
}

/** Node's flat header list as the `[name, value]` pairs `addTrailers` takes. */
function pairsOf (raw: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = []
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i], raw[i + 1]])
  return pairs
}

/** What a failed call answers: no server 503, deadline 504, a trap 500, overload 503, the rest 502. */
function statusOf (code: string): number {
  switch (code) {
    case 'no-server': case 'overloaded': case 'stopped': return 503
    case 'timeout': return 504
    case 'trap': case 'unresolved-import': return 500
    default: return 502
  }
}

export function createGateway (init: GatewayInit): Gateway {
  const limits: HttpLimits = { ...defaultHttpLimits, ...init.limits }
  const routes = [...(init.routes ?? [])]
  checkRoutes(routes)
  const { host, port } = parseListen(init.listen)
  const log = init.log
  let server: Server | undefined
  let url = ''
  let inflight = 0
  const responses: Record<number, number> = {}
  const refused: Record<string, number> = {}
  const sockets = new Set<Socket>()
  /** Responses not yet closed, and their sockets: a stop drains them, and closes each connection once it has none. */
  const responding = new Map<ServerResponse, Socket>()
  let draining = false
  let drained: (() => void) | undefined

  const count = (status: number): void => { responses[status] = (responses[status] ?? 0) + 1 }
  const refuse = (limit: string): void => { refused[limit] = (refused[limit] ?? 0) + 1 }

  /** One line of text and a status, the connection closed after when the request body was not read. */
  function answer (res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
    count(status)
    if (res.headersSent) { res.destroy(); return }
    const body = `${message}\n`
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...headers })
    res.end(body)
  }

  /**
   * The request body as the call's `stream<u8>`: read as the server asks for it (so the client is slowed, not
   * buffered), counted against `maxHttpRequestBodyBytes`, and watched for clients that stall or trickle. A retry
   * of the call on another server may take it again only if none of it has been read yet.
   */
  function requestBody (req: IncomingMessage, res: ServerResponse, done: () => boolean): AsyncIterable<Uint8Array> {
    let taken = false
    let total = 0
    return {
      [Symbol.asyncIterator]: (): AsyncIterator<Uint8Array> => {
        if (taken) throw new HttpError('body-consumed', 'the request body was already partly sent to another server')
        const source = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>
        let waited = 0
        let received = 0
        return {
          async next () {
            if (done()) return { done: true, value: undefined }
            const started = performance.now()
            let timer: NodeJS.Timeout | undefined
            const stalled = new Promise<never>((_resolve, reject) => {
              timer = setTimeout(() => { reject(new HttpError('client-too-slow', `no request body bytes for ${limits.httpBodyIdleTimeoutMs} ms (httpBodyIdleTimeoutMs)`)) }, limits.httpBodyIdleTimeoutMs)
            })
            stalled.catch(() => {})
            let next: IteratorResult<Buffer>
            try {
              next = await Promise.race([source.next(), stalled])
            } catch (err) {
              if (err instanceof HttpError) { refuse('httpBodyIdleTimeoutMs'); answer(res, 408, err.message); req.destroy() }
              throw err
            } finally {
              clearTimeout(timer)
            }
            if (next.done === true) return { done: true, value: undefined }
            taken = true
            const chunk = next.value
            total += chunk.byteLength
            // A trickle: counted only while this side waits, so a slow server never makes its client look slow.
            waited += performance.now() - started
            received += chunk.byteLength
            if (waited >= limits.httpBodyIdleTimeoutMs) {
              if (received < limits.minHttpBodyBytes) {
                refuse('minHttpBodyBytes')
                const err = new HttpError('client-too-slow', `the client sent ${received} body bytes in ${limits.httpBodyIdleTimeoutMs} ms; at least ${limits.minHttpBodyBytes} are required (minHttpBodyBytes)`)
                answer(res, 408, err.message)
                req.destroy()
                throw err
              }
              waited = 0
              received = 0
            }
            if (limits.maxHttpRequestBodyBytes > 0 && total > limits.maxHttpRequestBodyBytes) {
              refuse('maxHttpRequestBodyBytes')
              const err = new HttpError('body-too-large', `the request body is over ${limits.maxHttpRequestBodyBytes} bytes (maxHttpRequestBodyBytes)`)
              answer(res, 413, err.message, { connection: 'close' })
              req.destroy()
              throw err
            }
            // A plain view: Node's Buffer shares its pool, and slice() on it would not copy.
            return { done: false, value: new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) }
          },
          async return () {
            await source.return?.()
            return { done: true, value: undefined }
          }
        }
      }
    }
  }

  function trailersOf (req: IncomingMessage): Promise<WireFields | undefined> {
    return new Promise(resolve => {
      const settle = (): void => { resolve(req.rawTrailers.length > 0 ? wireOfRaw(req.rawTrailers) : undefined) }
      if (req.complete) settle()
      else { req.once('end', settle); req.once('close', settle) }
    })
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.rawHeaders.length / 2 > limits.maxHttpHeaders) {
      refuse('maxHttpHeaders')
      answer(res, 431, `more than ${limits.maxHttpHeaders} header fields (maxHttpHeaders)`, { connection: 'close' })
      return
    }
    const length = Number(req.headers['content-length'] ?? 0)
    if (limits.maxHttpRequestBodyBytes > 0 && length > limits.maxHttpRequestBodyBytes) {
      refuse('maxHttpRequestBodyBytes')
      answer(res, 413, `the request body is over ${limits.maxHttpRequestBodyBytes} bytes (maxHttpRequestBodyBytes)`, { connection: 'close' })
      return
    }
    const target = req.url ?? '/'
    const route = matchRoute(routes, req.headers.host, target)
    if (route === undefined) {
      answer(res, 404, `no route for host ${req.headers.host ?? '(none)'} and path ${target.split('?')[0]}`)
      return
    }
    if (inflight >= limits.maxHttpConcurrentRequests) {
      refuse('maxHttpConcurrentRequests')
      answer(res, 503, `the gateway has ${inflight} requests in flight (maxHttpConcurrentRequests); retry later`, { 'retry-after': '1' })
      return
    }
    inflight++
    let responded = false
    // A client that goes away ends the call too: a remote server stops sending a body nobody will read.
    const gone = new AbortController()
    res.once('close', () => {
      responded = true
      if (!res.writableFinished) gone.abort(new HttpError('body-cancelled', 'the HTTP client went away'))
    })
    try {
      const method = req.method?.toLowerCase() ?? 'get'
      // No content-length and no transfer-encoding: no body (RFC 9112 6.3), sent as an ended stream and no trailers,
      // with no reader, timer or listener of its own.
      const bodyless = req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined
      const request = {
        body: bodyless ? EMPTY : requestBody(req, res, () => responded),
        trailers: bodyless ? undefined : trailersOf(req),
        method: methods.has(method) ? { tag: method } : { tag: 'other', val: req.method },
        pathWithQuery: target,
        scheme: { tag: 'HTTP' },
        ...(req.headers.host !== undefined ? { authority: req.headers.host } : {}),
        headers: wireOfRaw(req.rawHeaders)
      }
      let results: unknown[]
      try {
        results = await init.call(HTTP_HANDLER_IFACE, 'handle', [request], { ...targetOptions(route), timeoutMs: limits.httpResponseTimeoutMs, signal: gone.signal })
      } catch (err) {
        const code = (err as { code?: unknown }).code
        const c = typeof code === 'string' ? code : 'internal'
        if (res.headersSent || res.destroyed) return
        const why = c === 'no-server' && route.target.kind !== 'any' ? `no server alive for ${describeTarget(route.target)}` : (err as Error).message.split('\n')[0]
        answer(res, statusOf(c), `${c}: ${why}`)
        return
      }
      const result = results[0] as { tag: 'ok', val: WireResponse } | { tag: 'err', val: { tag: string, val?: unknown } }
      if (result.tag === 'err') {
        const e = result.val
        answer(res, 502, `the component answered error-code ${e.tag}${typeof e.val === 'string' ? `: ${e.val}` : ''}`)
        return
      }
      await respond(res, result.val)
    } finally {
      inflight--
    }
  }

  /** The component's response: head at once, body chunk by chunk as the client takes it, trailers if any. */
  async function respond (res: ServerResponse, response: WireResponse): Promise<void> {
    if (typeof response.status !== 'number' || !Array.isArray(response.headers)) {
      answer(res, 502, 'the component\'s response is not a wrpc:http response')
      return
    }
    const body = response.body as unknown
    if (body instanceof Uint8Array && !isThenable(response.trailers)) { respondWhole(res, response, body); return }
    // A local server's values arrive as it made them (no wire in between): any iterable of chunks, or one chunk.
    const source: AsyncIterable<unknown> = body != null && typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
      ? body as AsyncIterable<unknown>
      : (async function * () { if (body instanceof Uint8Array) yield body; else if (body != null) yield * (body as Iterable<unknown>) })()
    const iterator = source[Symbol.asyncIterator]()
    try {
      try {
        res.writeHead(response.status, rawOfWire(response.headers))
      } catch (err) {
        answer(res, 502, `the component's response head is not valid HTTP: ${(err as Error).message}`)
        return
      }
      count(response.status)
      for (;;) {
        const next = await iterator.next()
        if (next.done === true) break
        if (res.destroyed) return
        const chunk = next.value instanceof Uint8Array ? next.value : Uint8Array.from(next.value as ArrayLike<number>)
        if (chunk.byteLength === 0) continue
        if (!res.write(chunk)) {
          await new Promise<void>(resolve => {
            const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
            res.on('drain', done)
            res.on('close', done)
          })
        }
      }
      const trailers = await response.trailers
      if (trailers !== undefined && trailers.length > 0 && !res.destroyed) res.addTrailers(pairsOf(rawOfWire(trailers)))
      res.end()
    } catch (err) {
      // After the head nothing can be answered: cut the response short, so the client sees it incomplete.
      log?.info(`http: response body failed: ${(err as Error).message}`)
      res.destroy()
    } finally {
      if (!res.writableFinished) void iterator.return?.()
    }
  }

  /** A response closed: while draining, its connection goes once nothing else is answered on it, and the stop once nothing at all is. */
  function settled (res: ServerResponse, socket: Socket): void {
    responding.delete(res)
    if (!draining) return
    let busy = false
    for (const s of responding.values()) if (s === socket) { busy = true; break }
    if (!busy) socket.end()
    if (responding.size === 0) drained?.()
  }

  /** A body that came whole with the head (the component finished it first): one write, no stream machinery. */
  function respondWhole (res: ServerResponse, response: WireResponse, body: Uint8Array): void {
    const raw = rawOfWire(response.headers)
    const trailers = response.trailers as WireFields | undefined
    // Its length is known: a content-length instead of chunked framing (one write, and the client knows the size)
    if (body.byteLength > 0 && (trailers === undefined || trailers.length === 0) && !hasField(raw, 'content-length')) raw.push('content-length', String(body.byteLength))
    try {
      res.writeHead(response.status, raw)
    } catch (err) {
      answer(res, 502, `the component's response head is not valid HTTP: ${(err as Error).message}`)
      return
    }
    count(response.status)
    try {
      if (trailers !== undefined && trailers.length > 0) res.addTrailers(pairsOf(rawOfWire(trailers)))
    } catch (err) {
      // After the head nothing can be answered: cut the response short, as a failed stream does.
      log?.info(`http: response trailers failed: ${(err as Error).message}`)
      res.destroy()
      return
    }
    if (body.byteLength === 0) res.end()
    else res.end(body)
  }

  return {
    get url () { return url },

    async start () {
      if (server !== undefined) return
      const s = createServer({
        maxHeaderSize: limits.maxHttpHeaderBytes,
        headersTimeout: limits.httpHeadersTimeoutMs,
        requestTimeout: 0,
        // How often Node checks headersTimeout: its default (30 s) would let a slow head live that long whatever the limit.
        connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.httpHeadersTimeoutMs)),
        keepAliveTimeout: Math.min(5000, limits.httpIdleTimeoutMs)
      }, (req, res) => {
        const socket = req.socket
        responding.set(res, socket)
        res.once('close', () => { settled(res, socket) })
        if (draining) {
          refuse('stopping')
          answer(res, 503, 'the node is stopping; send the request again (to another gateway)', { connection: 'close' })
          return
        }
        handle(req, res).catch((err: unknown) => {
          log?.warn(`http: ${(err as Error).message}`)
          if (!res.headersSent) answer(res, 500, 'internal gateway error')
          else res.destroy()
        })
      })
      s.maxConnections = limits.maxHttpConnections
      // One more than allowed, so that `handle` sees the excess and answers 431 rather than Node dropping fields silently.
      s.maxHeadersCount = limits.maxHttpHeaders + 1
      s.timeout = limits.httpIdleTimeoutMs
      s.on('connection', (socket: Socket) => {
        sockets.add(socket)
        socket.once('close', () => sockets.delete(socket))
      })
      s.on('drop', () => { refuse('maxHttpConnections') })
      s.on('timeout', (socket: Socket) => { refuse('httpIdleTimeoutMs'); socket.destroy() })
      // Garbage, oversized heads, slow heads: Node answers 400/431/408 where it can, and the socket goes.
      s.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
        const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
        if (status === 431) refuse('maxHttpHeaderBytes')
        else if (status === 408) refuse('httpHeadersTimeoutMs')
        count(status)
        if (socket.writable && (err as { bytesParsed?: number }).bytesParsed !== undefined) {
          socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`)
        }
        socket.destroy()
      })
      await new Promise<void>((resolve, reject) => {
        s.once('error', (err: NodeJS.ErrnoException) => {
          reject(new HttpError('address-in-use', `cannot serve HTTP on ${init.listen}: ${err.message}`, { cause: err }))
        })
        s.listen(port, host, () => { resolve() })
      })
      s.on('error', (err: Error) => { log?.warn(`http: ${err.message}`) })
      server = s
      const addr = s.address()
      const bound = typeof addr === 'object' && addr !== null ? addr.port : port
      url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`
    },

    async stop (opts = {}) {
      const s = server
      if (s === undefined) return
      server = undefined
      draining = true
      // No new connections; the idle kept-alive ones go now, the busy ones when their last response is done.
      const closed = new Promise<void>(resolve => { s.close(() => { resolve() }) })
      s.closeIdleConnections()
      for (const res of responding.keys()) if (!res.headersSent) res.shouldKeepAlive = false
      const drainMs = Math.max(0, opts.drainTimeoutMs ?? 0)
      if (responding.size > 0 && drainMs > 0) {
        let timer: NodeJS.Timeout | undefined
        await new Promise<void>(resolve => {
          drained = resolve
          timer = setTimeout(resolve, drainMs)
        })
        clearTimeout(timer)
        drained = undefined
        if (responding.size > 0) log?.info(`http: ${responding.size} request(s) still in flight after drainTimeoutMs (${drainMs} ms): cut`)
      }
      for (const socket of sockets) socket.destroy()
      sockets.clear()
      await closed
      responding.clear()
      draining = false
    },

    stats () {
      return { inflight, responses: { ...responses }, refused: { ...refused } }
    }
  }
}

/** Whether a raw header list (name, value, name, value...) has a field of this lower-case name. */
function hasField (raw: readonly string[], name: string): boolean {
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === name) return true
  return false
}
