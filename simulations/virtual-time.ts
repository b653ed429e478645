// Virtual time for a simulation run: every clock the process reads and every timer it sets runs on simulated time, which jumps to the next timer only when nothing else is left to do.

import { createHook } from 'node:async_hooks'
import FakeTimers from '@sinonjs/fake-timers'
import type { Clock } from '@sinonjs/fake-timers'

/**
 * The errors of a virtual run, each with a stable `code`:
 * - `real-timer`: code inside the run set a real timer (one the simulation does not control, such as
 *   `setTimeout` imported from `node:timers`, or a reference taken before the run) and it fired; the message
 *   names where it was set. Route the timer through the global `setTimeout` (or `AbortSignal.timeout`).
 * - `stalled`: the run waits for something, but no timer is pending and no real I/O is in flight, so nothing
 *   can ever happen again (a promise nobody resolves).
 * - `timer-threw`: a timer's callback threw (in real time this is an uncaught exception).
 * - `already-running`: one virtual run at a time per process (the clocks are global).
 */
export type VirtualTimeErrorCode = 'real-timer' | 'stalled' | 'timer-threw' | 'already-running'

export class VirtualTimeError extends Error {
  override readonly name = 'VirtualTimeError'
  readonly code: VirtualTimeErrorCode

  constructor (code: VirtualTimeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

export interface VirtualTimeInit {
  /** `Date.now()` at simulated time 0. Default 2026-01-01T00:00:00Z (a fixed date, so runs repeat). */
  readonly epochMs?: number
  /** Replaces `Math.random` during the run (a seeded generator: libp2p and gossipsub shuffle with it). */
  readonly random?: () => number
  /** Replaces `crypto.getRandomValues` during the run (seeded bytes: nonces, ping payloads, handles). */
  readonly randomBytes?: (n: number) => Uint8Array
  /** Called with the real elapsed ms at most every `wallIntervalMs` of wall time (progress). */
  readonly onWall?: () => void
  /** Default 250 ms. */
  readonly wallIntervalMs?: number
  /** How long (real ms) the run may sit with nothing pending before it is declared stalled. Default 2,000. */
  readonly stallAfterWallMs?: number
}

export interface VirtualTime {
  /** Simulated ms since the run began. */
  now (): number
  /** Real ms (the host's clock), whatever is installed. */
  wallNow (): number
  /** Timers fired and real event-loop turns taken so far. */
  readonly stats: { timersFired: number, turns: number, ioWaits: number }
  /**
   * Installs the virtual clocks, runs `fn` and drives time until its promise settles, then puts the real
   * clocks back. Rejects with a `VirtualTimeError` when a real timer fires inside, when the run stalls, or
   * when a timer's callback throws.
   */
  run<T> (fn: () => Promise<T>): Promise<T>
}

// the host's clocks and timers, taken at load, before anything can be installed
const real = {
  setImmediate: globalThis.setImmediate,
  clearImmediate: globalThis.clearImmediate,
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  performanceNow: performance.now.bind(performance),
  abortSignalTimeout: AbortSignal.timeout.bind(AbortSignal),
  mathRandom: Math.random,
  getRandomValues: crypto.getRandomValues.bind(crypto)
}

/** The host's clock, in ms, even during a virtual run. */
export const wallNow = (): number => real.performanceNow()

/**
 * Real I/O requests: their completion is a callback still to come (a file operation, a DNS lookup, a socket
 * write). While one started inside the run is not finished, time does not advance.
 * (`process.getActiveResourcesInfo()` does not list file requests on Node 26, so the async hook counts them: a
 * request is done when it is destroyed, after its last callback; fs.readFile reuses one for every step.)
 */
// Crypto jobs (SIGNREQUEST, ...) are left out: a synchronous crypto.sign is a job too, destroyed only when
// collected, and the node's signatures are synchronous (@libp2p/crypto on Node); an asynchronous crypto call
// inside a run would let time move while it is in flight.
const PENDING_REQUEST = /^(FSREQCALLBACK|FSREQPROMISE|FILEHANDLECLOSEREQ|GETADDRINFOREQWRAP|GETNAMEINFOREQWRAP|QUERYWRAP|WRITEWRAP|SHUTDOWNWRAP|TCPCONNECTWRAP|PIPECONNECTWRAP|ZLIB)$/

let active = false

/** A virtual `setImmediate`'s handle, shaped like Node's `Immediate`. */
class VirtualImmediate {
  cleared = false
  #ref = true
  readonly run: () => void
  constructor (run: () => void) { this.run = run }
  ref (): this { this.#ref = true; return this }
  unref (): this { this.#ref = false; return this }
  hasRef (): boolean { return this.#ref }
  [Symbol.dispose] (): void { this.cleared = true }
}

/** Where a real timer was set: the first frame outside this module and Node's internals. */
function whereSet (stack: string | undefined): string {
  const frames = (stack ?? '').split('\n').slice(1).map(l => l.trim())
  const outside = frames.filter(f => !f.includes('virtual-time.ts') && !f.includes('node:'))
  return `${outside[0] ?? 'an unknown place'}${outside.length > 1 ? `\n    ${outside.slice(1, 6).join('\n    ')}` : ''}`
}

/** Stack frames of the test runner, whose own timers (RPC, console batching) are not the simulation's. */
const RUNNER_FRAMES = /node_modules[\\/](vitest|@vitest|tinypool|birpc)[\\/]/

export function createVirtualTime (init: VirtualTimeInit = {}): VirtualTime {
  const epochMs = init.epochMs ?? Date.UTC(2026, 0, 1)
  const wallIntervalMs = init.wallIntervalMs ?? 250
  const stallAfterWallMs = init.stallAfterWallMs ?? 2_000
  const stats = { timersFired: 0, turns: 0, ioWaits: 0 }
  let clock: Clock | undefined

  /** Turn of the real event loop: every microtask and nextTick queued so far has run when it resolves. */
  let ownTimer = false
  const turn = (): Promise<void> => new Promise(resolve => {
    ownTimer = true
    try { real.setImmediate(resolve) } finally { ownTimer = false }
  })
  const realSleep = (ms: number): Promise<void> => new Promise(resolve => {
    ownTimer = true
    try { real.setTimeout(resolve, ms) } finally { ownTimer = false }
  })

  const vt: VirtualTime = {
    now: () => clock === undefined ? 0 : clock.now - epochMs,
    wallNow,
    stats,
    async run<T> (fn: () => Promise<T>): Promise<T> {
      if (active) throw new VirtualTimeError('already-running', 'a virtual-time run is already in progress in this process; run simulations one after another')
      active = true
      // real timers created inside the run, by async id, with where they were set; one that fires is an error
      const realTimers = new Map<number, string | undefined>()
      let violation: VirtualTimeError | undefined
      const io = new Set<number>()
      const hook = createHook({
        init (asyncId, type) {
          if (PENDING_REQUEST.test(type)) { io.add(asyncId); return }
          if (ownTimer || (type !== 'Timeout' && type !== 'Immediate')) return
          const stack = new Error('set here').stack
          if (stack !== undefined && RUNNER_FRAMES.test(stack)) return
          realTimers.set(asyncId, stack)
        },
        before (asyncId) {
          if (!realTimers.has(asyncId) || violation !== undefined) return
          violation = new VirtualTimeError('real-timer', `a real timer fired inside a virtual-time run; it was set at ${whereSet(realTimers.get(asyncId))}`)
        },
        destroy (asyncId) { realTimers.delete(asyncId); io.delete(asyncId) },
        // promises are not timers: leaving them out keeps the hook nearly free
        trackPromises: false
      } as Parameters<typeof createHook>[0] & { trackPromises: boolean })

      const installed = FakeTimers.withGlobal(globalThis).install({
        now: epochMs,
        // setImmediate is ours (below): fake-timers makes one queued inside a timer's callback wait 1 ms
        toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance', 'hrtime'],
        // a timer set before the run and cleared inside it is a real one: clear it for real
        shouldClearNativeTimers: true,
        loopLimit: Number.MAX_SAFE_INTEGER
      })
      clock = installed
      // immediates run before time moves, one per real turn (microtasks drain between them, as in Node)
      const immediates: VirtualImmediate[] = []
      globalThis.setImmediate = ((fn: (...a: unknown[]) => void, ...args: unknown[]) => {
        const im = new VirtualImmediate(() => { fn(...args) })
        immediates.push(im)
        return im
      }) as unknown as typeof setImmediate
      globalThis.clearImmediate = ((im: unknown) => {
        if (im instanceof VirtualImmediate) im.cleared = true
        else real.clearImmediate(im as NodeJS.Immediate)
      }) as typeof clearImmediate
      // AbortSignal.timeout runs on Node's internal timers, which no fake reaches: give it the virtual ones
      AbortSignal.timeout = (ms: number): AbortSignal => {
        const controller = new AbortController()
        const t = setTimeout(() => { controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')) }, ms)
        // a timeout signal keeps nothing alive, as the real one
        ;(t as { unref?: () => void }).unref?.()
        return controller.signal
      }
      if (init.random !== undefined) Math.random = init.random
      if (init.randomBytes !== undefined) {
        const bytes = init.randomBytes
        crypto.getRandomValues = (<A extends ArrayBufferView | null>(array: A): A => {
          if (array === null) return array
          const view = new Uint8Array(array.buffer, array.byteOffset, array.byteLength)
          view.set(bytes(view.byteLength))
          return array
        }) as typeof crypto.getRandomValues
      }
      hook.enable()

      let settled = false
      let outcome: { ok: true, value: T } | { ok: false, error: unknown } | undefined
      const main = (async () => await fn())().then(
        value => { outcome = { ok: true, value } },
        (error: unknown) => { outcome = { ok: false, error } }
      ).finally(() => { settled = true })
      let lastWall = wallNow()
      let idleSince: number | undefined
      try {
        for (;;) {
          await turn()
          stats.turns++
          if (violation !== undefined) throw violation
          if (init.onWall !== undefined && wallNow() - lastWall >= wallIntervalMs) {
            lastWall = wallNow()
            init.onWall()
          }
          if (settled) break
          if (io.size > 0) {
            // a real completion is coming (a file read, a thread-pool job): wait for it before time moves
            stats.ioWaits++
            await realSleep(1)
            continue
          }
          if (installed.countTimers() === 0 && immediates.length === 0) {
            idleSince ??= wallNow()
            if (wallNow() - idleSince > stallAfterWallMs) {
              throw new VirtualTimeError('stalled', `the virtual-time run stalled at simulated ${vt.now().toFixed(1)} ms: it waits for something, but no timer is set and no I/O is in flight`)
            }
            await realSleep(5)
            continue
          }
          idleSince = undefined
          try {
            const im = immediates.shift()
            if (im !== undefined) {
              if (!im.cleared) { im.cleared = true; stats.timersFired++; im.run() }
              continue
            }
            installed.next()
          } catch (err) {
            throw new VirtualTimeError('timer-threw', `a timer's callback threw at simulated ${vt.now().toFixed(1)} ms: ${(err as Error).message}`, { cause: err })
          }
          stats.timersFired++
        }
      } finally {
        hook.disable()
        installed.uninstall()
        globalThis.setImmediate = real.setImmediate
        globalThis.clearImmediate = real.clearImmediate
        clock = undefined
        AbortSignal.timeout = real.abortSignalTimeout
        Math.random = real.mathRandom
        crypto.getRandomValues = real.getRandomValues as typeof crypto.getRandomValues
        active = false
      }
      await main
      if (outcome === undefined) throw new Error('unreachable: the run settled without an outcome')
      if (!outcome.ok) throw outcome.error
      return outcome.value
    }
  }
  return vt
}
