// A token bucket: so many things per period, a burst of as many; the refill rule every rate limit of the node uses.

/** A bucket's tokens `elapsedMs` after it held `tokens`: refilled at `perMs`, never above `capacity`. */
export function refill (tokens: number, capacity: number, perMs: number, elapsedMs: number): number {
  return Math.min(capacity, tokens + elapsedMs * perMs)
}

export interface TokenBucket {
  /** Takes one token; false when the bucket is empty. */
  take (): boolean
}

/** `perSecond` tokens a second and a burst of as many; `clock` in ms, monotonic (default `performance.now`). */
export function createTokenBucket (perSecond: number, clock: () => number = () => performance.now()): TokenBucket {
  const capacity = Math.max(0, perSecond)
  let tokens = capacity
  let at = clock()
  return {
    take () {
      const now = clock()
      tokens = refill(tokens, capacity, capacity / 1000, now - at)
      at = now
      if (tokens < 1) return false
      tokens -= 1
      return true
    }
  }
}
