// The one way tests wait: poll a condition until it holds, with a deadline and the reason in the failure. Never a bare sleep.

export interface PollOptions {
  /** Fail after this long. Default 10 s. */
  readonly timeoutMs?: number
  /** Between checks. Default 20 ms (checks that run processes want more). */
  readonly intervalMs?: number
}

/**
 * Polls `check` until it returns something other than undefined or false, and returns that. A check that
 * throws is retried like one that returned false; at the deadline the failure names `what` and the last error.
 */
export async function eventually<T> (
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  opts: PollOptions | number = {}
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 20 } = typeof opts === 'number' ? { timeoutMs: opts } : opts
  const deadline = performance.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      last = err
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last !== undefined ? `; last: ${last instanceof Error ? last.message : String(last)}` : ''}`)
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}
