// Named limits of the protocol layer, with defaults; every decoder enforces them where bytes enter.

export interface ValueLimits {
  /** The most bytes one encoded value may occupy. */
  readonly maxValueBytes: number
  /** The most elements one list, string-as-list or stream chunk may declare. */
  readonly maxListLength: number
  /** The deepest nesting of types a value may have. */
  readonly maxDepth: number
}

export interface SessionLimits extends ValueLimits {
  /** The most bytes of data in one frame. */
  readonly maxFrameBytes: number
  /** The most elements in a frame path (wRPC nesting). */
  readonly maxPathDepth: number
  /** The most bytes of instance + name in the header. */
  readonly maxHeaderBytes: number
  /** A session whose peer sends nothing for this long fails with `idle-timeout`. */
  readonly idleTimeoutMs: number
}

export const defaultValueLimits: ValueLimits = Object.freeze({
  maxValueBytes: 64 * 1024 * 1024,
  maxListLength: 16 * 1024 * 1024,
  maxDepth: 64
})

export const defaultSessionLimits: SessionLimits = Object.freeze({
  ...defaultValueLimits,
  maxFrameBytes: 16 * 1024 * 1024,
  maxPathDepth: 32,
  maxHeaderBytes: 4096,
  idleTimeoutMs: 30_000
})
