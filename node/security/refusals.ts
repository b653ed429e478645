// Connections this node refused for membership (no lattice key, another key, not on the allow-list): counted by reason and logged without letting an attacker flood the log.

import { createRateLimiter } from '../rate-limit.ts'
import type { Logger } from '../logger.ts'

/**
 * Why a connection was refused:
 * - `no-lattice-key`: the remote spoke plain libp2p to a private lattice (it has no lattice key);
 * - `lattice-key`: the remote's bytes were not protected by this lattice's key (another key, or garbage);
 * - `handshake`: an inbound connection ended or timed out before the remote proved it holds the key;
 * - `not-allowed`: the remote proved its peer id and that id is not on the allow-list;
 * - `dial-not-allowed`: this node did not dial a peer the allow-list excludes.
 */
export type RefusalReason = 'no-lattice-key' | 'lattice-key' | 'handshake' | 'not-allowed' | 'dial-not-allowed'

export interface RefusalLimits {
  /** Log lines per remote (address or peer id) per minute; the rest are only counted. */
  readonly maxRefusalLogsPerRemotePerMinute: number
  /** Log lines per minute over all remotes: an attacker with many addresses or peer ids cannot flood the log either. */
  readonly maxRefusalLogsPerMinute: number
}

export const defaultRefusalLimits: RefusalLimits = Object.freeze({
  maxRefusalLogsPerRemotePerMinute: 1,
  maxRefusalLogsPerMinute: 30
})

export interface Refusals {
  /** Counts one refusal; logs it at info (`dial-not-allowed` at debug) unless the log budget of `remote` or of the node is spent. */
  refused (reason: RefusalReason, remote: string, message: string): void
  /** Refusals so far, by reason. */
  counts (): Partial<Record<RefusalReason, number>>
}

export function createRefusals (init: { log: Logger, limits?: Partial<RefusalLimits>, clock?: () => number }): Refusals {
  const limits = { ...defaultRefusalLimits, ...init.limits }
  // a bounded number of remotes is remembered: one that is forgotten may log once more, nothing grows
  const perRemote = createRateLimiter({ perMinute: limits.maxRefusalLogsPerRemotePerMinute, maxKeys: 4096, clock: init.clock })
  const overall = createRateLimiter({ perMinute: limits.maxRefusalLogsPerMinute, maxKeys: 1, clock: init.clock })
  const counts: Partial<Record<RefusalReason, number>> = {}
  return {
    refused (reason, remote, message) {
      counts[reason] = (counts[reason] ?? 0) + 1
      if (!perRemote.take(`${reason} ${remote}`) || !overall.take('all')) return
      if (reason === 'dial-not-allowed') init.log.debug(message)
      else init.log.info(`${message} (refused: ${reason}; logged at most once a minute per remote)`)
    },
    counts: () => ({ ...counts })
  }
}
