// The instance pool of one component: at most maxInstances busy instances, a per-caller share of them, a bounded fair queue, affinity for resource handles, idle instances reaped.
import type { Deadline, DeadlineQueue } from './deadlines.ts'
import { NotStarted, RuntimeError } from './errors.ts'
import { callName, type Instance } from './instance.ts'
import { instancesPerCaller } from './limits.ts'

export interface PoolLimits {
  readonly maxInstances: number
  /** Unset: all but one of `maxInstances` (see `instancesPerCaller`). */
  readonly maxInstancesPerCaller?: number
  readonly maxQueued: number
  readonly callTimeoutMs: number
  /** An instance idle this long is ended (its resource handles become `resource-lost`), down to `minInstances`; unset or 0: never. */
  readonly instanceIdleTimeoutMs?: number
  /** Instances the reaper leaves running however long they are idle (unset: 0, scale to zero). */
  readonly minInstances?: number
}

export interface PoolStats {
  /** Live instances (idle and busy). */
  readonly instances: number
  readonly busy: number
  /** Calls waiting for an instance. */
  readonly queued: number
  /** Instances being started (replacements of discarded ones, or growth for queued calls). */
  readonly starting: number
  /** Instances ended for being idle past `instanceIdleTimeoutMs`, since the pool was made. */
  readonly reaped: number
}

/** Who a call is for and how long it may take. */
export interface PoolCallOptions {
  /** The caller whose share of the instances the call counts against (a peer id; `local` by default). */
  readonly caller?: string
  /** At most `callTimeoutMs`; counted from when the call is made, queued or running. */
  readonly timeoutMs?: number
}

export interface PoolCall extends PoolCallOptions {
  readonly iface: string
  readonly func: string
  readonly params: unknown[]
  /** The instance that owns a resource handle in the parameters: the call must run there. */
  readonly affinity?: Instance
  /** End the instance once the call is over (a guest that serves one HTTP request per instance); its successor starts at once. */
  readonly discardAfter?: boolean
}

/** A queued call with less time left than this is failed with `timeout` rather than started. */
const MIN_START_MS = 1

/** `setTimeout` fires at once past this. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** The caller of calls that say none: the node's own code and components. */
export const LOCAL_CALLER = 'local'

interface Waiting {
  readonly call: PoolCall
  readonly caller: Caller
  readonly timeoutMs: number
  readonly deadline: Deadline
  readonly resolve: (r: { instance: Instance, results: unknown[] }) => void
  readonly reject: (err: Error) => void
}

/** One caller's instances in use and calls waiting; forgotten when it has neither. */
interface Caller {
  readonly key: string
  busy: number
  readonly queue: Waiting[]
}

export class InstancePool {
  readonly #spawn: () => Promise<Instance>
  readonly #limits: PoolLimits
  readonly #share: number
  readonly #deadlines: DeadlineQueue
  readonly #instances = new Set<Instance>()
  /** Callers with calls running or queued, in the order the queue serves them (round-robin: a served caller moves to the end). */
  readonly #callers = new Map<string, Caller>()
  /**
   * The node's own calls: one caller object for the pool's life, in `#callers` only while it has calls
   * queued (its share is every instance, so its busy count never holds it back), so the local-first
   * path allocates nothing and touches no map per call.
   */
  readonly #local: Caller = { key: LOCAL_CALLER, busy: 0, queue: [] }
  #queued = 0
  #starting = 0
  readonly #spawning = new Set<Promise<unknown>>()
  #closed = false
  /** When each idle instance last finished a call (or started): the reaper ends the ones idle past `instanceIdleTimeoutMs`. */
  readonly #idleSince = new Map<Instance, number>()
  /** The one timer of the reaper, armed while an instance above `minInstances` is idle. */
  #reaper: NodeJS.Timeout | undefined
  #reaped = 0
  /** Reaped instances still ending: `close` waits for them too. */
  readonly #ending = new Set<Promise<void>>()

  constructor (spawn: () => Promise<Instance>, limits: PoolLimits, deadlines: DeadlineQueue) {
    this.#spawn = spawn
    this.#limits = limits
    this.#share = instancesPerCaller(limits)
    this.#deadlines = deadlines
  }

  stats (): PoolStats {
    let busy = 0
    for (const i of this.#instances) if (i.busy) busy++
    return { instances: this.#instances.size, busy, queued: this.#queued, starting: this.#starting, reaped: this.#reaped }
  }

  /** A live instance joins the pool idle. */
  #add (instance: Instance): void {
    this.#instances.add(instance)
    this.#idle(instance)
  }

  #idle (instance: Instance): void {
    this.#idleSince.set(instance, performance.now())
    this.#armReaper()
  }

  #armReaper (): void {
    const idleMs = this.#limits.instanceIdleTimeoutMs ?? 0
    if (this.#reaper !== undefined || this.#closed || !(idleMs > 0) || !Number.isFinite(idleMs)) return
    if (this.#instances.size <= (this.#limits.minInstances ?? 0) || this.#idleSince.size === 0) return
    let oldest = Infinity
    for (const since of this.#idleSince.values()) oldest = Math.min(oldest, since)
    // At most the longest timer Node keeps (a longer one fires at once); the sweep re-arms for what is left.
    this.#reaper = setTimeout(() => { this.#reaper = undefined; this.#reap() }, Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(oldest + idleMs - performance.now()))))
    // Housekeeping: it must not keep a process alive that has nothing else to do.
    this.#reaper.unref()
  }

  /** Ends instances idle for `instanceIdleTimeoutMs`, the longest idle first, keeping `minInstances`. */
  #reap (): void {
    const idleMs = this.#limits.instanceIdleTimeoutMs ?? 0
    const keep = this.#limits.minInstances ?? 0
    const now = performance.now()
    const due = [...this.#idleSince].filter(([, since]) => now - since >= idleMs).sort((a, b) => a[1] - b[1])
    for (const [instance] of due) {
      if (this.#instances.size <= keep) break
      this.#idleSince.delete(instance)
      if (!this.#instances.delete(instance)) continue
      this.#reaped++
      // Its handles now meet a dead instance: calls with them fail with `resource-lost` (never reach another instance).
      const ending = instance.terminate().catch(() => {}).finally(() => this.#ending.delete(ending))
      this.#ending.add(ending)
    }
    this.#armReaper()
  }

  /** Starts one instance ahead of the first call (and proves the component instantiates). */
  async warm (): Promise<Instance> {
    const spawning = this.#spawn()
    const tracked = spawning.catch(() => {}).finally(() => this.#spawning.delete(tracked))
    this.#spawning.add(tracked)
    const instance = await spawning
    if (this.#closed) {
      await instance.terminate()
      throw new RuntimeError('stopped', 'the component was unloaded')
    }
    this.#add(instance)
    this.#drain()
    return instance
  }

  /** Runs a call that neither passes nor returns resource handles, so any instance will do and who ran it does not matter. */
  call (iface: string, func: string, params: unknown[], opts: PoolCallOptions = {}): Promise<unknown[]> {
    if (!this.#closed && this.#queued === 0) {
      const caller = this.#callerOf(opts.caller ?? LOCAL_CALLER)
      // Nobody waits: straight to an idle instance, with no queue entry.
      if (caller.busy < this.#shareOf(caller)) {
        for (const i of this.#instances) {
          if (i.busy || i.dead) continue
          this.#take(i, caller)
          const timeoutMs = this.#timeoutOf(opts)
          const made = performance.now()
          return i.call(iface, func, params, timeoutMs).then(results => { this.#release(i, caller); return results }, (err: unknown) => {
            this.#release(i, caller)
            // Its shared worker was stopped before it began: queued as any other call (with what is left of its deadline).
            if (err instanceof NotStarted) {
              const left = Math.max(MIN_START_MS, Math.floor(timeoutMs - (performance.now() - made)))
              return this.run({ iface, func, params, caller: opts.caller, timeoutMs: left }).then(r => r.results)
            }
            throw err
          })
        }
      }
      this.#forgetIfIdle(caller)
    }
    return this.run({ iface, func, params, caller: opts.caller, timeoutMs: opts.timeoutMs }).then(r => r.results)
  }

  #timeoutOf (opts: PoolCallOptions): number {
    return opts.timeoutMs === undefined ? this.#limits.callTimeoutMs : Math.min(opts.timeoutMs, this.#limits.callTimeoutMs)
  }

  /** The node's own calls (its components' imports, its own code) may use every instance: the share guards against peers. */
  #shareOf (caller: Caller): number {
    return caller.key === LOCAL_CALLER ? this.#limits.maxInstances : this.#share
  }

  #callerOf (key: string): Caller {
    if (key === LOCAL_CALLER) return this.#local
    let c = this.#callers.get(key)
    if (c === undefined) {
      c = { key, busy: 0, queue: [] }
      this.#callers.set(key, c)
    }
    return c
  }

  #forgetIfIdle (c: Caller): void {
    if (c === this.#local) {
      if (c.queue.length === 0 && this.#callers.size > 0) this.#callers.delete(c.key)
      return
    }
    if (c.busy === 0 && c.queue.length === 0) this.#callers.delete(c.key)
  }

  #take (instance: Instance, caller: Caller): void {
    instance.busy = true
    caller.busy++
    this.#idleSince.delete(instance)
  }

  #release (instance: Instance, caller: Caller): void {
    instance.busy = false
    caller.busy--
    this.#forgetIfIdle(caller)
    if (instance.dead) {
      if (this.#instances.delete(instance)) this.#replace()
    } else if (this.#instances.has(instance)) {
      this.#idle(instance)
    }
    if (this.#queued > 0) this.#drain()
  }

  /** An instance was discarded (trap, deadline, memory): start its successor now, so the next calls do not wait for a cold start. */
  #replace (): void {
    if (this.#closed || this.#instances.size + this.#starting >= this.#limits.maxInstances) return
    this.#grow(false)
  }

  /**
   * Forgets idle instances that died on their own (a worker that crashed or exited, a shared worker stopped for
   * another instance's deadline): they would otherwise hold their place in `maxInstances` forever.
   */
  #forgetDead (): void {
    for (const i of this.#instances) {
      if (!i.dead || i.busy) continue
      this.#instances.delete(i)
      this.#idleSince.delete(i)
    }
  }

  /** Runs a call on a free instance (the owning one when `affinity` is set), resolving with the instance that ran it. */
  run (call: PoolCall): Promise<{ instance: Instance, results: unknown[] }> {
    if (this.#closed) return Promise.reject(new RuntimeError('stopped', 'the component was unloaded'))
    this.#forgetDead()
    if (call.affinity?.dead === true) return Promise.reject(resourceLost())
    const timeoutMs = this.#timeoutOf(call)
    const caller = this.#callerOf(call.caller ?? LOCAL_CALLER)
    const free = this.#idleFor(call)
    const canGrow = call.affinity === undefined && this.#instances.size + this.#starting < this.#limits.maxInstances
    const runsNow = caller.busy < this.#shareOf(caller) && (free !== undefined || canGrow)
    // Calls that instances now starting will take do not count as queued.
    const queued = Math.max(0, this.#queued - this.#starting)
    if (!runsNow && queued >= this.#limits.maxQueued && !this.#pushOut(caller)) {
      this.#forgetIfIdle(caller)
      return Promise.reject(new RuntimeError('overloaded', `all ${this.#limits.maxInstances} instances are busy and ${queued} calls are queued (maxQueued)`))
    }
    return new Promise((resolve, reject) => {
      const w: Waiting = {
        call,
        caller,
        timeoutMs,
        resolve,
        reject,
        deadline: this.#deadlines.arm(timeoutMs, () => { this.#expire(w) })
      }
      caller.queue.push(w)
      if (caller === this.#local && !this.#callers.has(LOCAL_CALLER)) this.#callers.set(LOCAL_CALLER, caller)
      this.#queued++
      this.#drain()
    })
  }

  /**
   * The queue is full: a caller with fewer calls queued than the one with the most takes the newest
   * call of that one's place (which fails with `overloaded`), so one caller cannot fill the queue
   * against the others.
   */
  #pushOut (newcomer: Caller): boolean {
    let longest: Caller | undefined
    for (const c of this.#callers.values()) if (longest === undefined || c.queue.length > longest.queue.length) longest = c
    if (longest === undefined || longest === newcomer || longest.queue.length <= newcomer.queue.length + 1) return false
    const w = longest.queue.pop() as Waiting
    this.#queued--
    w.deadline.cancel()
    w.reject(new RuntimeError('overloaded', `the queue is full (maxQueued ${this.#limits.maxQueued}) and this caller has the most calls in it`))
    return true
  }

  /** A queued call's deadline passed before it got an instance (`queue` and `#queued` still count it). */
  #expire (w: Waiting): void {
    const queue = w.caller.queue
    const at = queue.indexOf(w)
    if (at < 0) return
    queue.splice(at, 1)
    this.#queued--
    this.#forgetIfIdle(w.caller)
    const why = w.caller.busy >= this.#shareOf(w.caller) ? `this caller holds its share of ${this.#share} (maxInstancesPerCaller)` : `all ${this.#limits.maxInstances} are busy`
    w.reject(new RuntimeError('timeout', `${callName(w.call.iface, w.call.func)} did not get an instance within ${w.timeoutMs} ms (${why})`))
  }

  #idleFor (call: PoolCall): Instance | undefined {
    if (call.affinity !== undefined) return call.affinity.busy || call.affinity.dead ? undefined : call.affinity
    for (const i of this.#instances) if (!i.busy && !i.dead) return i
    return undefined
  }

  /** Hands idle instances to queued calls, one call per caller in turn, and starts instances for the calls left. */
  #drain (): void {
    if (this.#closed) return
    for (let served = true; served && this.#queued > 0;) {
      served = false
      for (const c of [...this.#callers.values()]) {
        if (c.busy >= this.#shareOf(c)) continue
        const found = this.#runnable(c)
        if (found === undefined) continue
        this.#callers.delete(c.key)
        this.#callers.set(c.key, c)
        void this.#execute(found.instance, found.w)
        served = true
      }
    }
    // Calls an instance now starting could take: per caller, no more than its share leaves room for.
    let waiting = 0
    for (const c of this.#callers.values()) {
      let unassigned = 0
      for (const w of c.queue) if (w.call.affinity === undefined) unassigned++
      waiting += Math.min(unassigned, Math.max(0, this.#shareOf(c) - c.busy))
    }
    const room = this.#limits.maxInstances - this.#instances.size - this.#starting
    for (let k = 0; k < Math.min(waiting - this.#starting, room); k++) this.#grow(true)
  }

  /** Takes `c`'s first queued call that has a free instance (failing those whose owning instance is gone). */
  #runnable (c: Caller): { w: Waiting, instance: Instance } | undefined {
    for (let n = 0; n < c.queue.length;) {
      const w = c.queue[n]
      if (w.call.affinity?.dead === true) {
        c.queue.splice(n, 1)
        this.#queued--
        w.deadline.cancel()
        w.reject(resourceLost())
        continue
      }
      const instance = this.#idleFor(w.call)
      if (instance === undefined) { n++; continue }
      // Its deadline is (all but) gone: started now it would only cost the instance it is given.
      if (w.deadline.at - performance.now() < MIN_START_MS) {
        w.deadline.cancel()
        this.#expire(w)
        continue
      }
      c.queue.splice(n, 1)
      this.#queued--
      w.deadline.cancel()
      return { w, instance }
    }
    return undefined
  }

  /** Starts an instance; `forQueued`: if it fails, a queued call fails with it (nothing may ever take it otherwise). */
  #grow (forQueued: boolean): void {
    this.#starting++
    const p = this.#spawn().then(instance => {
      this.#starting--
      if (this.#closed) { void instance.terminate(); return }
      this.#add(instance)
      this.#drain()
    }, (err: Error) => {
      this.#starting--
      if (forQueued) this.#failOneQueued(err)
      this.#drain()
    }).finally(() => this.#spawning.delete(p))
    this.#spawning.add(p)
  }

  #failOneQueued (err: Error): void {
    for (const c of this.#callers.values()) {
      const idx = c.queue.findIndex(w => w.call.affinity === undefined)
      if (idx < 0) continue
      const w = c.queue.splice(idx, 1)[0]
      this.#queued--
      w.deadline.cancel()
      this.#forgetIfIdle(c)
      w.reject(err)
      return
    }
  }

  async #execute (instance: Instance, w: Waiting): Promise<void> {
    this.#take(instance, w.caller)
    // What is left of the call's own deadline, whole milliseconds (so that inline deadlines share timers).
    const left = Math.ceil(w.deadline.at - performance.now())
    let outcome: { ok: true, results: unknown[] } | { ok: false, err: Error }
    try {
      outcome = { ok: true, results: await instance.call(w.call.iface, w.call.func, w.call.params, left) }
    } catch (err) {
      outcome = { ok: false, err: err as Error }
    }
    if (w.call.discardAfter === true && !instance.dead) void instance.terminate().catch(() => {})
    // Released (and a discarded instance's successor started) before the caller hears of it.
    this.#release(instance, w.caller)
    if (outcome.ok) w.resolve({ instance, results: outcome.results })
    else if (outcome.err instanceof NotStarted) this.#again(w)
    else w.reject(outcome.err)
  }

  /** A call that never began on its instance (its shared worker was stopped): queued again, first of its caller's, with what is left of its deadline. */
  #again (w: Waiting): void {
    if (w.call.affinity !== undefined) { w.reject(resourceLost()); return }
    if (this.#closed) { w.reject(new RuntimeError('stopped', 'the component was unloaded')); return }
    const left = w.deadline.at - performance.now()
    if (left < MIN_START_MS) { w.reject(new RuntimeError('timeout', `${callName(w.call.iface, w.call.func)} did not get an instance within ${w.timeoutMs} ms`)); return }
    const again: Waiting = { ...w, deadline: this.#deadlines.arm(Math.ceil(left), () => { this.#expire(again) }) }
    again.caller.queue.unshift(again)
    if (!this.#callers.has(again.caller.key)) this.#callers.set(again.caller.key, again.caller)
    this.#queued++
    this.#drain()
  }

  /** Fails queued calls with `stopped` and terminates every instance. */
  async close (): Promise<void> {
    this.#closed = true
    clearTimeout(this.#reaper)
    this.#reaper = undefined
    this.#idleSince.clear()
    for (const c of this.#callers.values()) {
      for (const w of c.queue.splice(0)) {
        w.deadline.cancel()
        w.reject(new RuntimeError('stopped', 'the component was unloaded'))
      }
    }
    this.#callers.clear()
    this.#queued = 0
    await Promise.all([...this.#spawning])
    const all = [...this.#instances]
    this.#instances.clear()
    await Promise.all([...all.map(async i => { await i.terminate() }), ...this.#ending])
  }
}

function resourceLost (): RuntimeError {
  return new RuntimeError('resource-lost', 'the instance that owned this resource is gone')
}
