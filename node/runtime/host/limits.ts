// Named limits of the host interfaces a node serves to its own components (logging, secrets, link names, outgoing HTTP, blobstore).

export interface HostLimits {
  /** A `wasi:logging` message (context and text together) longer than this is cut, and says by how much. */
  readonly maxLogMessageBytes: number
  /**
   * Log lines one component may write per second through `wasi:logging` (a burst of as many, then this rate), and
   * one instance to its stdout and stderr (bounded in the thread the guest runs on); the rest are dropped and counted.
   */
  readonly maxLogLinesPerSecond: number
  /** Secret handles (`wasmcloud:secrets/store#get`) one instance may hold at once; past it `get` fails with `upstream`. */
  readonly maxSecretHandles: number
  /** Interfaces one instance may give a link name (`wasmcloud:bus/lattice#set-link-name`), and call-target handles it may hold. */
  readonly maxLinkNameTargets: number
  /** Outgoing HTTP requests of one instance in flight at once (sent, body not yet read to its end); one more fails with `connection-limit-reached`. */
  readonly maxOutgoingHttpRequests: number
  /** The most bytes of one outgoing request's response body the guest may read; a longer body fails with `HTTP-response-body-size`. */
  readonly maxOutgoingHttpResponseBytes: number
  /** Connect, first-byte and between-bytes timeout of an outgoing request (a guest may ask for less, never more). */
  readonly outgoingHttpTimeoutMs: number
  /** `wasi:blobstore` resources (containers, values, streams) one instance may hold at once; past it the call answers `err`. */
  readonly maxBlobstoreHandles: number
  /** The most bytes `incoming-value-consume-sync` gathers into one list; a larger read answers `err` (stream it with `-consume-async`). */
  readonly maxBlobstoreSyncBytes: number
  /** Bytes an `outgoing-value`'s stream may take before `write-data` names the object (held in memory); past it the write fails. */
  readonly maxBlobstorePendingWriteBytes: number
  /** Names one `read-stream-object-names` may ask for at once (a larger `len` is cut to it). */
  readonly maxBlobstoreListNames: number
}

export const defaultHostLimits: HostLimits = Object.freeze({
  maxLogMessageBytes: 8 * 1024,
  maxLogLinesPerSecond: 100,
  maxSecretHandles: 1024,
  maxLinkNameTargets: 256,
  maxOutgoingHttpRequests: 16,
  maxOutgoingHttpResponseBytes: 64 * 1024 * 1024,
  outgoingHttpTimeoutMs: 30_000,
  maxBlobstoreHandles: 1024,
  maxBlobstoreSyncBytes: 64 * 1024 * 1024,
  maxBlobstorePendingWriteBytes: 8 * 1024 * 1024,
  maxBlobstoreListNames: 10_000
})
