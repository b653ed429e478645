// Counts and logs what goes wrong on the stream paths a peer can reach, so that a stream closed at the wrong moment is a number in the node's stats, never an uncaught exception.

import type { Logger } from '../logger.ts'

/** Why a stream was given up; the reasons are fixed, so the counters stay bounded whatever peers do. */
export type StreamErrorReason =
  /**
   * An inbound stream was reset or closed (the peer's reset, the connection failing, this node
   * stopping) between its opening frame and the muxer's answer to its protocol proposal: dropped
   * without an answer. Callers that give up on a stalled node cause these; they are not a fault.
   */
  | 'reset-before-answer'
  /** Sending the early answer to an inbound stream's proposal threw (the connection broke under it): the stream is aborted. */
  | 'answer-failed'
  /** The dialer's optimistic negotiation failed while taking the listener's answer off a stream: the stream is aborted, not the connection. */
  | 'negotiation-failed'
  /** A stream handler failed outside its own error handling (a bug, caught so it cannot end the process). */
  | 'handler-failed'

export interface StreamErrors {
  /** Counts one error; logs it (the first of each unexpected reason as a warning, the rest at debug). */
  count (reason: StreamErrorReason, err?: unknown): void
  /** The counts so far, by reason (reasons never seen are absent). */
  counts (): Partial<Record<StreamErrorReason, number>>
}

/** Reasons that are part of normal life under load: logged at debug only. */
const expected: ReadonlySet<StreamErrorReason> = new Set(['reset-before-answer'])

export function createStreamErrors (opts: { log?: Logger } = {}): StreamErrors {
  const counts: Partial<Record<StreamErrorReason, number>> = {}
  const warned = new Set<StreamErrorReason>()
  return {
    count (reason, err) {
      counts[reason] = (counts[reason] ?? 0) + 1
      const log = opts.log
      if (log === undefined) return
      const message = `stream ${reason}${err !== undefined ? `: ${err instanceof Error ? err.message : String(err)}` : ''}`
      // once per reason: a peer that provokes the same failure in a loop must not flood the log
      if (expected.has(reason) || warned.has(reason)) {
        log.debug(message)
      } else {
        warned.add(reason)
        log.warn(`${message} (counted in stats().streamErrors; further ones at debug level)`)
      }
    },
    counts: () => ({ ...counts })
  }
}
