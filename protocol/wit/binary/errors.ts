// Typed errors of the component binary decoder: what was wrong and at which byte offset.

export type ComponentDecodeErrorCode =
  | 'invalid-component'     // not a component, truncated, malformed, or an index/name that does not resolve
  | 'unsupported-component' // a well-formed component using something the WIT model cannot express
  | 'limit-exceeded'        // more types, deeper nesting or bigger types than the configured limits allow

export class ComponentDecodeError extends Error {
  override readonly name: string = 'ComponentDecodeError'
  readonly code: ComponentDecodeErrorCode
  /** Byte offset into the component where the problem was found. */
  readonly offset: number
  /** The message without the offset suffix. */
  readonly reason: string

  constructor (code: ComponentDecodeErrorCode, reason: string, offset: number) {
    super(`${reason} (at byte ${offset})`)
    this.code = code
    this.reason = reason
    this.offset = offset
  }
}
