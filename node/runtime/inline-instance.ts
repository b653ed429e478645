// One component instance on the node's own thread: no thread hop per call, for components trusted not to spin (a deadline cannot stop a loop here).
import type { Deadline, DeadlineQueue } from './deadlines.ts'
import { RuntimeError } from './errors.ts'
import { importFailure, instantiateGuest, type Guest } from './guest.ts'
import { asRuntimeError, newInstanceId, refusal, timeoutMessage, type Instance, type InstanceHooks, type InstanceOptions } from './instance.ts'
import type { WorkerInit } from './messages.ts'
import { createWasiImports } from './sandbox.ts'

export class InlineInstance implements Instance {
  readonly id = newInstanceId()
  readonly handles = new Set<string>()
  readonly instantiateMs: number
  busy = false
  #dead = false
  #guest: Guest
  readonly #deadlines: DeadlineQueue
  /** The call in flight: failed at once when the instance is discarded under it. */
  #pending: { readonly reject: (err: RuntimeError) => void, readonly deadline: Deadline } | null = null

  private constructor (guest: Guest, deadlines: DeadlineQueue) {
    this.#guest = guest
    this.#deadlines = deadlines
    this.instantiateMs = guest.instantiateMs
  }

  get dead (): boolean { return this.#dead }

  /** Instantiates the component on this thread, with a sandbox of its own that touches nothing thread-wide. */
  static async create (init: WorkerInit, opts: InstanceOptions & { deadlines: DeadlineQueue }, hooks: InstanceHooks): Promise<InlineInstance> {
    let self: InlineInstance | undefined
    const guest = instantiateGuest(init, {
      wasi: createWasiImports(init.grants, { thread: 'shared', output: hooks.log, maxOutputLinesPerSecond: init.maxOutputLinesPerSecond, outgoingHttp: init.outgoingHttp }),
      importCall: async (iface, func, params) => {
        if (self?.dead === true) throw importFailure('stopped', 'the instance was discarded')
        try {
          return await hooks.onImport(iface, func, params)
        } catch (err) {
          const e = asRuntimeError(err, 'trap')
          throw importFailure(e.code, e.message)
        }
      },
      drop: (iface, func, params) => { if (self?.dead !== true) hooks.onDrop(iface, func, params) }
    })
    guest.catch(() => {}) // past the deadline nobody awaits it
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new RuntimeError('trap', `instantiation took over ${opts.instantiateTimeoutMs} ms`)) }, opts.instantiateTimeoutMs)
    })
    try {
      self = new InlineInstance(await Promise.race([guest, late]), opts.deadlines)
      return self
    } catch (err) {
      if (err instanceof RuntimeError) throw err
      throw new RuntimeError('trap', `instantiation failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    } finally {
      clearTimeout(timer)
    }
  }

  call (iface: string, func: string, params: unknown[], timeoutMs: number): Promise<unknown[]> {
    const refused = refusal(this.#dead, this.#pending !== null)
    if (refused !== undefined) return refused
    return new Promise((resolve, reject) => {
      // Fires only while the guest awaits (an import): a guest that loops holds this thread, timers included.
      const deadline = this.#deadlines.arm(timeoutMs, () => { this.#discard(new RuntimeError('timeout', timeoutMessage(iface, func, timeoutMs))) })
      const pending = { reject, deadline }
      this.#pending = pending
      this.#guest.call(iface, func, params, a => {
        if (this.#pending !== pending) return
        this.#pending = null
        deadline.cancel()
        if (a.ok) {
          resolve(a.results)
        } else {
          if (a.discard) this.#discard(null)
          reject(new RuntimeError(a.code, a.message))
        }
      })
    })
  }

  /** Marks the instance dead and fails its call in flight with `err`; the guest is left to the GC. */
  #discard (err: RuntimeError | null): void {
    this.#dead = true
    const p = this.#pending
    this.#pending = null
    if (p === null) return
    p.deadline.cancel()
    p.reject(err ?? new RuntimeError('trap', 'instance discarded'))
  }

  async terminate (): Promise<void> {
    this.#discard(new RuntimeError('stopped', 'the instance was stopped'))
  }
}
