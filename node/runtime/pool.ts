// The instance pool of one component: at most maxInstances busy instances, a bounded queue, affinity for resource handles.
import { RuntimeError } from './errors.ts'
import type { Instance } from './instance.ts'

export interface PoolLimits {
  readonly maxInstances: number
  readonly maxQueued: number
  readonly callTimeoutMs: number
}

export interface PoolStats {
  /** Live instances (idle and busy). */
  readonly instances: number
  readonly busy: number
  /** Calls waiting for an instance. */
  readonly queued: number
}

export interface PoolCall {
  readonly iface: string
  readonly func: string
  readonly params: unknown[]
  /** The instance that owns a resource handle in the parameters: the call must run there. */
  readonly affinity?: Instance
}

interface Waiting {
  readonly call: PoolCall
  readonly resolve: (r: { instance: Instance, results: unknown[] }) => void
  readonly reject: (err: Error) => void
}

export class InstancePool {
  readonly #spawn: () => Promise<Instance>
  readonly #limits: PoolLimits
  readonly #instances = new Set<Instance>()
  readonly #queue: Waiting[] = []
  #starting = 0
  readonly #spawning = new Set<Promise<unknown>>()
  #closed = false

  constructor (spawn: () => Promise<Instance>, limits: PoolLimits) {
    this.#spawn = spawn
    this.#limits = limits
  }

  stats (): PoolStats {
    let busy = 0
    for (const i of this.#instances) if (i.busy) busy++
    return { instances: this.#instances.size, busy, queued: this.#queue.length }
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
    this.#instances.add(instance)
    this.#drain()
    return instance
  }

  /** Runs a call that neither passes nor returns resource handles, so any instance will do and who ran it does not matter. */
  call (iface: string, func: string, params: unknown[]): Promise<unknown[]> {
    if (!this.#closed && this.#queue.length === 0) {
      // Nobody waits: straight to an idle instance, with no queue entry.
      for (const i of this.#instances) {
        if (i.busy || i.dead) continue
        i.busy = true
        return i.call(iface, func, params, this.#limits.callTimeoutMs)
          .then(results => { this.#release(i); return results }, (err: unknown) => { this.#release(i); throw err })
      }
    }
    return this.run({ iface, func, params }).then(r => r.results)
  }

  #release (instance: Instance): void {
    instance.busy = false
    if (instance.dead) this.#instances.delete(instance)
    if (this.#queue.length > 0) this.#drain()
  }

  /** Runs a call on a free instance (the owning one when `affinity` is set), resolving with the instance that ran it. */
  run (call: PoolCall): Promise<{ instance: Instance, results: unknown[] }> {
    if (this.#closed) return Promise.reject(new RuntimeError('stopped', 'the component was unloaded'))
    if (call.affinity?.dead === true) return Promise.reject(new RuntimeError('resource-lost', 'the instance that owned this resource is gone'))
    const free = this.#idleFor(call)
    const canGrow = call.affinity === undefined && this.#instances.size + this.#starting < this.#limits.maxInstances
    // Calls that instances now starting will take do not count as queued.
    const queued = Math.max(0, this.#queue.length - this.#starting)
    if (free === undefined && !canGrow && queued >= this.#limits.maxQueued) {
      return Promise.reject(new RuntimeError('overloaded', `all ${this.#limits.maxInstances} instances are busy and ${queued} calls are queued (maxQueued)`))
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ call, resolve, reject })
      this.#drain()
    })
  }

  #idleFor (call: PoolCall): Instance | undefined {
    if (call.affinity !== undefined) return call.affinity.busy || call.affinity.dead ? undefined : call.affinity
    for (const i of this.#instances) if (!i.busy && !i.dead) return i
    return undefined
  }

  #drain (): void {
    if (this.#closed) return
    for (let n = 0; n < this.#queue.length;) {
      const w = this.#queue[n]
      if (w.call.affinity?.dead === true) {
        this.#queue.splice(n, 1)
        w.reject(new RuntimeError('resource-lost', 'the instance that owned this resource is gone'))
        continue
      }
      const instance = this.#idleFor(w.call)
      if (instance === undefined) { n++; continue }
      this.#queue.splice(n, 1)
      void this.#execute(instance, w)
    }
    const unassigned = this.#queue.filter(w => w.call.affinity === undefined).length
    const room = this.#limits.maxInstances - this.#instances.size - this.#starting
    for (let k = 0; k < Math.min(unassigned - this.#starting, room); k++) this.#grow()
  }

  #grow (): void {
    this.#starting++
    const p = this.#spawn().then(instance => {
      this.#starting--
      if (this.#closed) { void instance.terminate(); return }
      this.#instances.add(instance)
      this.#drain()
    }, (err: Error) => {
      this.#starting--
      // Nothing will ever take these calls if no instance can start: fail one per failed start.
      const idx = this.#queue.findIndex(w => w.call.affinity === undefined)
      if (idx >= 0) this.#queue.splice(idx, 1)[0].reject(err)
      this.#drain()
    }).finally(() => this.#spawning.delete(p))
    this.#spawning.add(p)
  }

  async #execute (instance: Instance, w: Waiting): Promise<void> {
    instance.busy = true
    try {
      const results = await instance.call(w.call.iface, w.call.func, w.call.params, this.#limits.callTimeoutMs)
      w.resolve({ instance, results })
    } catch (err) {
      w.reject(err as Error)
    } finally {
      this.#release(instance)
    }
  }

  /** Fails queued calls with `stopped` and terminates every instance. */
  async close (): Promise<void> {
    this.#closed = true
    for (const w of this.#queue.splice(0)) w.reject(new RuntimeError('stopped', 'the component was unloaded'))
    await Promise.all([...this.#spawning])
    const all = [...this.#instances]
    this.#instances.clear()
    await Promise.all(all.map(async i => { await i.terminate() }))
  }
}
