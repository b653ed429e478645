// Typed errors of the mesh node itself (the runtime, router and protocol have their own).

export type NodeErrorCode =
  | 'invalid-config'    // a setting the node cannot start with
  | 'dial-failed'       // no stream could be opened to the peer (the router retries elsewhere)
  | 'describe-failed'   // the serving peer did not answer with the WIT of its component
  | 'no-such-function'  // the interface as served has no such function
  | 'no-such-export'    // this node no longer serves the interface
  | 'no-such-component' // a call named a component this node does not have for the interface (the router tries another peer)
  | 'invalid-link'      // a link that does not parse, or links that contradict each other
  | 'data-dir-locked'   // the data directory is in use by another running node (its pid in the message)

export class NodeError extends Error {
  override readonly name = 'NodeError'
  readonly code: NodeErrorCode
  /** Transport-level failures happen before any result byte: safe to retry elsewhere. */
  readonly resultStarted = false

  constructor (code: NodeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
