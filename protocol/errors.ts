// Typed errors of the protocol layer: every failure carries a stable `code` and, for values, the path to the offending part.

/** Stable codes a caller can match on. Never renamed once published. */
export type ProtocolErrorCode =
  // values
  | 'value-type'            // a JS value of the wrong shape for its WIT type
  | 'value-range'           // an integer out of range, a non-integer, a bad char
  | 'invalid-utf8'          // bytes that are not UTF-8 (or a lone surrogate when encoding)
  | 'unknown-discriminant'  // option/result/variant/enum case index out of range
  | 'invalid-flags'         // bits set beyond the last flag, or an unknown flag name
  | 'truncated'             // input ended inside a value
  | 'trailing-bytes'        // a value decoded but bytes were left over
  | 'limit-exceeded'        // maxValueBytes, maxListLength, maxDepth, maxFrameBytes, path depth
  | 'invalid-leb128'        // an over-long or overflowing LEB128 integer
  | 'async-unsupported'     // a pending future/stream where no session can carry it
  | 'unsupported-type'      // a type wRPC has no encoding for (error-context)
  // WAVE
  | 'wave-syntax'
  // framing and sessions
  | 'invalid-version'
  | 'invalid-frame'
  | 'unexpected-path'
  | 'idle-timeout'
  | 'too-slow'              // a peer delivered less than minProgressBytes per interval of an unfinished value
  | 'overloaded'            // paused too long by a spent inbound budget
  | 'closed'
  | 'remote-error'
  | 'aborted'               // the caller aborted (AbortSignal) or a local async value failed
  // adverts
  | 'invalid-advert'        // an advert record that does not decode, breaks a semantic rule or a limit

export class ProtocolError extends Error {
  override readonly name: string = 'ProtocolError'
  readonly code: ProtocolErrorCode
  /** Human path to the offending value, e.g. `params[1].items[3].name`. */
  readonly path?: string
  /** For `truncated`: the least total input length that could decode, so a buffering reader knows how long to wait. */
  readonly needBytes?: number

  constructor (code: ProtocolErrorCode, message: string, path?: string, details?: { needBytes?: number }) {
    super(path != null && path !== '' ? `${message} at ${path}` : message)
    this.code = code
    if (path != null) this.path = path
    if (details?.needBytes != null) this.needBytes = details.needBytes
  }
}
