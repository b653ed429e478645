// Token buckets per key (a peer id): how many things each key may do per minute, with a bounded number of keys tracked.
import { refill } from './runtime/rate.ts'

export interface RateLimiterInit {
  /** Tokens per key per minute, and the burst a fresh key starts with. */
  readonly perMinute: number
  /** Keys tracked at most; the least recently charged is forgotten (and starts again with a full bucket). */
  readonly maxKeys: number
  /** Milliseconds, monotonic. Default performance.now. */
  readonly clock?: () => number
}

export interface RateLimiter {
  /** Takes one token of `key`; false when its bucket is empty. */
  take (key: string): boolean
}

interface Bucket { tokens: number, at: number }

export function createRateLimiter (init: RateLimiterInit): RateLimiter {
  const clock = init.clock ?? (() => performance.now())
  const capacity = Math.max(0, init.perMinute)
  const perMs = capacity / 60_000
  // insertion order is last charge: the first key is the one to forget
  const buckets = new Map<string, Bucket>()
  return {
    take (key) {
      const now = clock()
      const b = buckets.get(key) ?? { tokens: capacity, at: now }
      buckets.delete(key)
      b.tokens = refill(b.tokens, capacity, perMs, now - b.at)
      b.at = now
      buckets.set(key, b)
      if (buckets.size > init.maxKeys) buckets.delete(buckets.keys().next().value as string)
      if (b.tokens < 1) return false
      b.tokens -= 1
      return true
    }
  }
}
