// Named limits of the component runtime, with their defaults; every one is configurable per runtime and per component.
import { availableParallelism } from 'node:os'
import { defaultHostLimits, type HostLimits } from './host/limits.ts'

/** The runtime's own limits, and those of the host interfaces it serves to components (host/limits.ts). */
export interface RuntimeLimits extends HostLimits {
  /** The largest component file accepted by `load`. */
  readonly maxComponentBytes: number
  /** The most instances of one component that run calls at the same time. */
  readonly maxInstances: number
  /**
   * The most instances of one component that calls of one caller (a peer, or `local`) hold at the same
   * time; that caller's further calls wait in the queue. Unset: `maxInstances - 1` (at least 1), so that
   * one caller's stuck calls always leave an instance to the others.
   */
  readonly maxInstancesPerCaller?: number
  /** The most calls that wait for a free instance; one more fails with `overloaded` at once (or pushes out the newest call of the caller with the most queued). */
  readonly maxQueued: number
  /** A call that has not returned this long after it was made (queued or running) fails with `timeout`; a running one's instance is terminated. */
  readonly callTimeoutMs: number
  /** How long instantiating a fresh instance may take before it counts as failed. */
  readonly instantiateTimeoutMs: number
  /** The JS heap of an instance's worker (`resourceLimits.maxOldGenerationSizeMb`). */
  readonly instanceHeapMb: number
  /**
   * The most linear memory an instance may hold: each memory a core module defines gets this as its
   * maximum (in whole 64 KiB pages), so `memory.grow` past it fails inside the guest while it runs
   * (usually a trap); the total of all its memories is also checked after each call.
   */
  readonly maxInstanceMemoryBytes: number
  /**
   * An instance that has run no call for this long is ended (scale to zero), down to `minInstances`; the
   * next call starts a fresh one. Resource handles the ended instance lent out fail with `resource-lost`.
   * 0: never.
   */
  readonly instanceIdleTimeoutMs: number
  /** Instances of each component that stay running however long they are idle (0: scale to zero). */
  readonly minInstances: number
  /**
   * Worker threads the runtime keeps started and empty, so that a worker instance (a first call after reaping, a
   * replacement, growth under load) costs its component's instantiation and not a thread's cold start (spares.ts).
   * The runtime's own value counts (a component's is not used); 0: none, each instance starts its own thread.
   */
  readonly spareWorkers: number
  /**
   * Worker instances share this many threads (per heap size), each holding instances of one or several components
   * (shared-workers.ts); 0: a thread per instance. A component with a network grant or an `instanceHeapMb` of its own
   * still gets a thread per instance. The runtime's own value counts.
   */
  readonly sharedWorkers: number
}

export const defaultRuntimeLimits: RuntimeLimits = Object.freeze({
  maxComponentBytes: 64 * 1024 * 1024,
  maxInstances: Math.max(1, Math.min(8, availableParallelism())),
  maxQueued: 256,
  callTimeoutMs: 30_000,
  instantiateTimeoutMs: 30_000,
  instanceHeapMb: 256,
  maxInstanceMemoryBytes: 1024 * 1024 * 1024,
  instanceIdleTimeoutMs: 300_000,
  minInstances: 0,
  spareWorkers: 1,
  sharedWorkers: Math.max(1, Math.min(8, availableParallelism())),
  ...defaultHostLimits
})

/** The per-caller share of a component's instances that `limits` gives: `maxInstancesPerCaller`, else all but one. */
export function instancesPerCaller (limits: Pick<RuntimeLimits, 'maxInstances' | 'maxInstancesPerCaller'>): number {
  const share = limits.maxInstancesPerCaller ?? limits.maxInstances - 1
  return Math.max(1, Math.min(limits.maxInstances, share))
}
