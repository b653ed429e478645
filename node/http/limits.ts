// The gateway's named limits with their defaults; each is settable by name (`--limit`, the config file's `limits`).

export interface HttpLimits {
  /** The most bytes of a request's header section (Node's `maxHeaderSize`); past it 431. */
  readonly maxHttpHeaderBytes: number
  /** The most header fields in a request; past it 431. */
  readonly maxHttpHeaders: number
  /** A client that has not sent its whole header section this long after connecting (or after its last request) is cut off (slowloris). */
  readonly httpHeadersTimeoutMs: number
  /** A connection with no bytes either way this long is closed (idle keep-alive, stalled clients). */
  readonly httpIdleTimeoutMs: number
  /** While the gateway waits for request body bytes: none for this long, or fewer than `minHttpBodyBytes` over it, cuts the client off (408). */
  readonly httpBodyIdleTimeoutMs: number
  /** The bytes a client must send per `httpBodyIdleTimeoutMs` while the gateway waits for its body (a trickle does not hold a request open). */
  readonly minHttpBodyBytes: number
  /** From a request's arrival to its response head: past it 504 (the body streams after, under the idle limits). */
  readonly httpResponseTimeoutMs: number
  /** Requests in flight at one gateway; past it 503 at once. */
  readonly maxHttpConcurrentRequests: number
  /** Open client connections of one gateway; past it new ones are closed at once. */
  readonly maxHttpConnections: number
  /** The most bytes of one request body; 0: unlimited (bodies stream, whatever their size); past it 413. */
  readonly maxHttpRequestBodyBytes: number
  /** Bytes of a body buffered per direction between the component and the wire before the writer waits. */
  readonly httpBodyBufferBytes: number
}

export const defaultHttpLimits: HttpLimits = Object.freeze({
  maxHttpHeaderBytes: 16 * 1024,
  maxHttpHeaders: 100,
  httpHeadersTimeoutMs: 10_000,
  httpIdleTimeoutMs: 30_000,
  httpBodyIdleTimeoutMs: 10_000,
  minHttpBodyBytes: 1024,
  httpResponseTimeoutMs: 30_000,
  maxHttpConcurrentRequests: 256,
  maxHttpConnections: 1024,
  maxHttpRequestBodyBytes: 0,
  httpBodyBufferBytes: 1024 * 1024
})
