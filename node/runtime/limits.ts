// Named limits of the component runtime, with their defaults; every one is configurable per runtime and per component.
import { availableParallelism } from 'node:os'

export interface RuntimeLimits {
  /** The largest component file accepted by `load`. */
  readonly maxComponentBytes: number
  /** The most instances of one component that run calls at the same time. */
  readonly maxInstances: number
  /** The most calls that wait for a free instance; one more fails with `overloaded` at once. */
  readonly maxQueued: number
  /** A call that has not returned after this long fails with `timeout` and its instance is terminated. */
  readonly callTimeoutMs: number
  /** How long instantiating a fresh instance may take before it counts as failed. */
  readonly instantiateTimeoutMs: number
  /** The JS heap of an instance's worker (`resourceLimits.maxOldGenerationSizeMb`). */
  readonly instanceHeapMb: number
  /** The most linear memory an instance may hold after a call; above it the instance is discarded (checked after each call). */
  readonly maxInstanceMemoryBytes: number
}

export const defaultRuntimeLimits: RuntimeLimits = Object.freeze({
  maxComponentBytes: 64 * 1024 * 1024,
  maxInstances: Math.max(1, Math.min(8, availableParallelism())),
  maxQueued: 256,
  callTimeoutMs: 30_000,
  instantiateTimeoutMs: 30_000,
  instanceHeapMb: 256,
  maxInstanceMemoryBytes: 1024 * 1024 * 1024
})
