// Typed errors of the control interface: the codes a control call answers with.

export type ControlErrorCode =
  | 'control-refused'   // the caller may not control this node: run it with --control, or allow the caller in the policy
  | 'control-needs-target' // a control call names no peer: control calls go to one node, never to whichever serves it
  | 'control-timeout'   // the node did not answer a control call in time
  | 'invalid-argument'  // an argument that is not what the function takes (the message says what it takes)
  | 'limit-exceeded'    // an argument or the state it would create is past a named limit (the message names it)
  | 'not-found'         // no such component, provider, config or label
  | 'load-failed'       // the component did not load (the message has the cause)
  | 'provider-failed'   // the provider did not start

export class ControlError extends Error {
  override readonly name = 'ControlError'
  readonly code: ControlErrorCode

  constructor (code: ControlErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
