// The control interface's limits: what a caller may make a node hold (labels, named configs, links, event watchers).

export interface ControlLimits {
  /** Labels this node carries (its own, set at start or over control). */
  readonly maxLabels: number
  /** One label value, UTF-8 bytes (keys follow the link label syntax: 1-63 of A-Z a-z 0-9 . _ / -). */
  readonly maxLabelValueBytes: number
  /** Named configs held. */
  readonly maxConfigs: number
  /** Entries of one named config. */
  readonly maxConfigEntries: number
  /** One config key or value, UTF-8 bytes. */
  readonly maxConfigValueBytes: number
  /** All named configs together (keys and values), UTF-8 bytes. */
  readonly maxConfigTotalBytes: number
  /** Links held (given at start, by components, and over control). */
  readonly maxLinks: number
  /** Watchers of the events stream at once; one more is refused with `limit-exceeded`. */
  readonly maxEventWatchers: number
  /** Events one watcher may fall behind by; past it the watcher is dropped (its stream ends), never buffered further. */
  readonly maxEventQueue: number
  /** A scale request's replicas (the component's most instances at once). */
  readonly maxReplicas: number
  /** A component reference (path, digest, OCI reference), UTF-8 bytes. */
  readonly maxReferenceBytes: number
}

export const defaultControlLimits: ControlLimits = Object.freeze({
  maxLabels: 64,
  maxLabelValueBytes: 256,
  maxConfigs: 256,
  maxConfigEntries: 256,
  maxConfigValueBytes: 16 * 1024,
  maxConfigTotalBytes: 1024 * 1024,
  maxLinks: 1024,
  maxEventWatchers: 32,
  maxEventQueue: 256,
  maxReplicas: 1024,
  maxReferenceBytes: 4096
})
