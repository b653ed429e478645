// Typed errors of the provider SDK and the built-in providers; a provider's own codes pass through unchanged.

export type ProviderErrorCode =
  | 'invalid-config'         // a setting or secret reference the provider cannot start with
  | 'provider-mismatch'      // the module's implementation does not match its WIT (found before anything is served)
  | 'provider-load-failed'   // the module could not be imported, or its default export is not a ProviderModule
  | 'provider-start-failed'  // the module's start threw: the provider must not be served
  | 'provider-stopped'       // a call reached a provider that is not started (the router tries another server)
  | 'no-such-function'       // the provider does not export that function
  | 'invalid-params'         // a parameter the provider cannot take (a handle of the wrong resource type)
  | 'resource-lost'          // a handle this provider never gave out, already released, or given to another peer
  | 'overloaded'             // a handle limit was reached (maxHandles, maxHandlesPerPeer)
  | 'internal'               // the provider threw without a code, or returned a value its WIT does not allow

export class ProviderError extends Error {
  override readonly name: string = 'ProviderError'
  /** One of ProviderErrorCode, or the string `code` a provider's function threw with. */
  readonly code: ProviderErrorCode | (string & {})
  /** Provider errors happen before any result byte is sent. */
  readonly resultStarted = false

  constructor (code: ProviderErrorCode | (string & {}), message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
