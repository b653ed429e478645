// Byte budgets for inbound data held in values not yet complete: per stream, per peer and per node, with back-pressure before refusal.

import { ProtocolError } from './errors.ts'

/** One stream's share of an `InboundBudget`: what a session charges the bytes it holds to. */
export interface InboundAccount {
  /** Changes the bytes this stream holds by `delta` (negative releases). O(1). */
  add(delta: number): void
  /**
   * Whether the stream should stop reading: its peer's or the node's budget is spent and it is
   * not the oldest holder there (the oldest always may read on, so that some value completes and
   * gives its bytes back; without that, streams each holding part of a value would wait forever).
   */
  readonly blocked: boolean
  /**
   * Settles once `blocked` may have turned false; rejects with `overloaded` when the stream stays
   * paused for the budget's `maxPausedMs`.
   */
  whenUnblocked(): Promise<void>
  /** Gives back everything the stream holds; the account does nothing afterwards. Idempotent. */
  close(): void
}

export interface InboundBudgetLimits {
  /** The most bytes all streams hold together before streams pause. */
  readonly maxBufferedBytes: number
  /** The most bytes the streams of one peer hold together before they pause. */
  readonly maxBufferedBytesPerPeer: number
  /** A stream paused this long by a spent budget is refused with `overloaded`. */
  readonly maxPausedMs: number
}

export interface InboundBudgetStats {
  /** Bytes held now by all streams. */
  readonly bytes: number
  /** Streams holding bytes now. */
  readonly holders: number
  /** Streams paused now because a budget is spent. */
  readonly paused: number
  /** Streams refused so far after `maxPausedMs` paused. */
  readonly refused: number
}

/** A pool of bytes (the node's, or one peer's) and who holds them, oldest first. */
class Pool {
  readonly max: number
  held = 0
  /** Open accounts (a peer's pool is forgotten when the last one closes). */
  accounts = 0
  /** Accounts holding bytes, in the order they started holding (a Set keeps insertion order). */
  readonly holders = new Set<Account>()

  constructor (max: number) {
    this.max = max
  }

  /** Whether `account` must wait for this pool. */
  excludes (account: Account): boolean {
    // held > 0: an empty pool never blocks, even at a limit of 0 (then one stream at a time)
    return this.held > 0 && this.held >= this.max && this.holders.values().next().value !== account
  }
}

/** Whether taking `delta` (< 0) brought `pool` from its limit to below it. */
function crossedDown (pool: Pool, delta: number): boolean {
  return pool.held < pool.max && pool.held - delta >= pool.max
}

class Account implements InboundAccount {
  readonly #budget: InboundBudget
  readonly #peer: Pool
  readonly #node: Pool
  readonly #release: (account: Account) => void
  #held = 0
  #closed = false
  #wait: PromiseWithResolvers<void> | null = null
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor (budget: InboundBudget, peer: Pool, node: Pool, release: (account: Account) => void) {
    this.#budget = budget
    this.#peer = peer
    this.#node = node
    this.#release = release
  }

  get blocked (): boolean {
    return !this.#closed && (this.#peer.excludes(this) || this.#node.excludes(this))
  }

  add (delta: number): void {
    if (this.#closed || delta === 0) return
    const was = this.#held
    this.#held += delta
    this.#peer.held += delta
    this.#node.held += delta
    if (was === 0) {
      this.#peer.holders.add(this)
      this.#node.holders.add(this)
    } else if (this.#held === 0) {
      this.#peer.holders.delete(this)
      this.#node.holders.delete(this)
    }
    // only a pool falling below its limit, or a holder leaving (the oldest may change), can let a paused stream go on
    if (delta < 0 && (this.#held === 0 || crossedDown(this.#peer, delta) || crossedDown(this.#node, delta))) this.#budget.wake()
  }

  whenUnblocked (): Promise<void> {
    if (!this.blocked) return Promise.resolve()
    if (this.#wait == null) {
      this.#wait = Promise.withResolvers()
      this.#budget.waiting.add(this)
      const ms = this.#budget.limits.maxPausedMs
      if (Number.isFinite(ms)) {
        this.#timer = setTimeout(() => {
          this.#budget.refused++
          this.#settle(new ProtocolError('overloaded', `paused for ${ms} ms: this node holds as many unfinished inbound values as its budget allows`))
        }, ms)
      }
    }
    return this.#wait.promise
  }

  /** Wakes this stream if it waits and may read again. */
  settleIfUnblocked (): void {
    if (!this.blocked) this.#settle()
  }

  #settle (err?: Error): void {
    const wait = this.#wait
    if (wait == null) return
    this.#wait = null
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#budget.waiting.delete(this)
    if (err == null) wait.resolve()
    else wait.reject(err)
  }

  close (): void {
    if (this.#closed) return
    this.add(-this.#held)
    this.#closed = true
    this.#settle()
    this.#release(this)
  }
}

/**
 * The bytes a node holds for values its peers have not finished sending, per peer and in all.
 * `open(peer)` gives each stream an account; streams that would take a spent budget further are
 * paused (`blocked`), the oldest holder excepted, and refused after `maxPausedMs`. Every operation
 * is O(1) but waking, which looks at the paused streams when a pool falls below its limit or a
 * holder leaves.
 */
export class InboundBudget {
  readonly limits: InboundBudgetLimits
  readonly #node: Pool
  readonly #peers = new Map<string, Pool>()
  /** Accounts paused in `whenUnblocked`. */
  readonly waiting = new Set<Account>()
  refused = 0

  constructor (limits: InboundBudgetLimits) {
    this.limits = limits
    this.#node = new Pool(limits.maxBufferedBytes)
  }

  /** An account for one stream of `peer`; close it when the stream ends. */
  open (peer: string): InboundAccount {
    let pool = this.#peers.get(peer)
    if (pool === undefined) this.#peers.set(peer, pool = new Pool(this.limits.maxBufferedBytesPerPeer))
    pool.accounts++
    const peerPool = pool
    return new Account(this, peerPool, this.#node, () => {
      if (--peerPool.accounts === 0) this.#peers.delete(peer)
    })
  }

  /** Bytes held now by the streams of `peer`. */
  peerBytes (peer: string): number {
    return this.#peers.get(peer)?.held ?? 0
  }

  stats (): InboundBudgetStats {
    return { bytes: this.#node.held, holders: this.#node.holders.size, paused: this.waiting.size, refused: this.refused }
  }

  /** Bytes were given back: paused streams that may read now go on. */
  wake (): void {
    if (this.waiting.size === 0) return
    for (const account of [...this.waiting]) account.settleIfUnblocked()
  }
}
