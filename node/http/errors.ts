// The gateway's typed errors, each with a stable code and the HTTP status it answers with.

export type HttpErrorCode =
  | 'invalid-http-config' // a bad --http address or --http-route (fix the flag or the config file)
  | 'no-route'            // 404: no route matches the request's Host and path (add a route, or fix the URL)
  | 'body-too-large'      // 413: past maxHttpRequestBodyBytes
  | 'too-many-headers'    // 431: past maxHttpHeaders (or maxHttpHeaderBytes, answered by Node itself)
  | 'overloaded'          // 503: past maxHttpConcurrentRequests; retry later
  | 'body-cancelled'      // a body nobody reads any more
  | 'body-consumed'       // a retry would need a request body already partly sent: not retried
  | 'client-too-slow'     // 408: the client sent its body too slowly (httpBodyIdleTimeoutMs, minHttpBodyBytes)
  | 'address-in-use'      // the --http address is taken

export class HttpError extends Error {
  override readonly name = 'HttpError'
  readonly code: HttpErrorCode
  constructor (code: HttpErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}
