// What a simulation run measures, record by record, before the report summarises it (run.ts writes these, report.ts reads them).

import type { GossipCounters } from './gossip-metrics.ts'
import type { Scenario } from './scenario.ts'
import type { Plan, PlannedEvent } from './timeline.ts'

/** One call of the workload as measured. */
export interface CallRecord {
  /** Start, ms since the timeline began. */
  readonly t: number
  readonly from: number
  readonly iface: string
  readonly ok: boolean
  readonly code: string
  readonly latencyMs: number
  /** When it failed: whether some server of the interface was up and reachable from the caller. */
  readonly liveServer: boolean
  /** The caller's side while the network was partitioned. */
  readonly group: number | undefined
}

/** An event as it happened. */
export interface EventRecord {
  readonly atMs: number
  /** When it finished (a restart includes the node's start). */
  readonly doneMs: number
  readonly kind: PlannedEvent['kind']
  readonly slot?: number
  readonly detail?: string
  readonly error?: string
}

export type ConvergenceKind = 'export' | 'unexport' | 'restart' | 'join' | 'leave' | 'crash-forgotten' | 'heal' | 'learn-mesh'

/** "Every live node's registry reflects X": when it started and when the last node reflected it. */
export interface ConvergenceRecord {
  readonly id: number
  readonly kind: ConvergenceKind
  readonly atMs: number
  readonly slot?: number
  readonly iface?: string
  /** Null when some node never reflected it before the run ended. */
  readonly convergedMs: number | null
  /** Nodes that had to reflect it, and how many did. */
  readonly nodes: number
  readonly reflected: number
  /** Overtaken before it converged (a crashed node restarted before everyone forgot it): not a measurement. */
  readonly superseded?: boolean
}

export interface Sample {
  readonly t: number
  readonly nodesUp: number
  /** App replicas running on the nodes up (scenarios with apps). */
  readonly appReplicas?: number
  readonly gossip: GossipCounters
  readonly sentBytes: number
  readonly connections: number
}

/** Everything measured, before it is summarised. */
export interface Measurements {
  readonly scenario: Scenario
  readonly plan: Plan
  readonly interrupted: boolean
  /** Whose clocks the nodes ran on: the simulation's (`virtual`) or the host's (`real`). */
  readonly mode: 'virtual' | 'real'
  /**
   * `timelineAtMs`: wall time from the run's start until the timeline began (nodes started, mesh settled);
   * `simulatedSetupMs` the same on the nodes' clock; `startMs` and `meshConvergedMs` are on the nodes' clock.
   */
  readonly setup: { readonly startMs: number, readonly timelineAtMs: number, readonly simulatedSetupMs: number, readonly meshConvergedMs: number | null, readonly knowingAll: number }
  readonly simulatedMs: number
  /** Wall time the timeline took. */
  readonly timelineWallMs: number
  readonly wallMs: number
  /** Virtual time only: timers the clock fired, real event-loop turns it took, turns it waited for real I/O. */
  readonly virtual?: { readonly timersFired: number, readonly turns: number, readonly ioWaits: number }
  readonly events: readonly EventRecord[]
  readonly calls: readonly CallRecord[]
  readonly callsSkipped: number
  readonly callsCut: number
  readonly attempts: readonly number[]
  readonly convergence: readonly ConvergenceRecord[]
  readonly samples: readonly Sample[]
  readonly connections: readonly number[]
  readonly traffic: { sentBytes: number, sentChunks: number, retransmitted: number, refusedDials: number }
  readonly gossip: GossipCounters
  readonly memory: { readonly baseline: NodeJS.MemoryUsage, readonly afterStart: NodeJS.MemoryUsage, readonly atEnd: NodeJS.MemoryUsage, readonly nodes: number }
  readonly cpu: { readonly setup: NodeJS.CpuUsage, readonly run: NodeJS.CpuUsage }
  /** How late the simulator's event loop ran timers during the timeline: a saturated host inflates every latency. */
  readonly eventLoopDelayMs: { readonly p50: number, readonly p99: number, readonly max: number }
  readonly partitions: readonly { readonly fromMs: number, readonly toMs: number | null, readonly groups: readonly (readonly number[])[] }[]
  readonly apps: readonly AppRecord[]
}

/** One app of the scenario: when it was deployed and how its running replicas followed what it asks for. */
export interface AppRecord {
  readonly app: string
  readonly atMs: number
  /** Replicas its manifest asks for over the hosts there were (the deploying node's status), or null if the deploy failed. */
  readonly desired: number | null
  /** From the deploy until every replica ran, or null if never. */
  readonly fullMs: number | null
  /** After it first ran in full: the fewest replicas seen, and how long in all it ran fewer than desired (churn). */
  readonly minAfterFull: number | null
  readonly belowFullMs: number
  /** Periods below full after churn, each from when it dropped until it was full again (null: not again by the end). */
  readonly recoveries: readonly { readonly fromMs: number, readonly ms: number | null, readonly low: number }[]
  readonly error?: string
}
