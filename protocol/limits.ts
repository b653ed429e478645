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
  /**
   * The progress interval: a session waiting on its peer that receives nothing for this long fails
   * with `idle-timeout`, and one holding part of an unfinished value all through an interval that
   * receives some bytes but fewer than `minProgressBytes` in it fails with `too-slow`.
   */
  readonly idleTimeoutMs: number
  /** Bytes a peer must deliver per `idleTimeoutMs` while a value of it is unfinished (a byte now and then does not keep a stream alive). */
  readonly minProgressBytes: number
  /**
   * The most bytes one session holds of values not yet complete (undecoded frames, partial values,
   * frames for paths not yet announced); past it the session fails with `limit-exceeded`.
   */
  readonly maxInboundBufferedBytes: number
  /**
   * Unread bytes of one inbound stream past which the session stops reading from its transport until the
   * stream's reader catches up (back-pressure to the peer instead of buffering); 0 turns it off.
   */
  readonly streamHighWaterBytes: number
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
  idleTimeoutMs: 30_000,
  // 64 KiB per 30 s: 2 KiB/s, far below any link a call should use, far above a trickle
  minProgressBytes: 64 * 1024,
  maxInboundBufferedBytes: defaultValueLimits.maxValueBytes,
  streamHighWaterBytes: 1024 * 1024
})
