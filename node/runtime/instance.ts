// One component instance in a worker thread of its own: the main-thread side of the worker protocol, deadlines and teardown (and what a shared worker's instances use of it).
import type { Worker } from 'node:worker_threads'
import { createInterface } from 'node:readline'
import { RuntimeError, type RuntimeErrorCode } from './errors.ts'
import type { FromWorker, SpareInit, ToWorker, WorkerInit } from './messages.ts'
import { startWorker, type SpareWorkers } from './spares.ts'

export interface InstanceHooks {
  /** A line the guest wrote to stdout or stderr. */
  readonly log: (stream: 'stdout' | 'stderr', line: string) => void
  /** The guest called a non-WASI import. */
  readonly onImport: (iface: string, func: string, params: unknown[]) => Promise<unknown[]>
  /** The guest dropped an imported resource (`[resource-drop]r`); nobody waits for the answer. */
  readonly onDrop: (iface: string, func: string, params: unknown[]) => void
}

export interface InstanceOptions {
  readonly heapMb: number
  readonly instantiateTimeoutMs: number
  /** Where a worker instance takes a started thread from; without one (or none spare) it starts its own. */
  readonly spares?: SpareWorkers
}

/** One instance of a component, wherever it runs: what the pool needs of it. */
export interface Instance {
  readonly id: number
  /** Handles of resources this instance lent out (hex). */
  readonly handles: Set<string>
  readonly instantiateMs: number
  busy: boolean
  readonly dead: boolean
  /** Runs one call; past `timeoutMs` the call fails with `timeout` and the instance is discarded. */
  call (iface: string, func: string, params: unknown[], timeoutMs: number): Promise<unknown[]>
  /** Ends the instance (and any call in flight, with `stopped`). */
  terminate (): Promise<void>
}

/** Instance ids, unique across both kinds, for logs and affinity. */
let nextInstanceId = 0
export function newInstanceId (): number {
  return nextInstanceId++
}

/** `iface#func`, or `func` alone for a world function. */
export function callName (iface: string, func: string): string {
  return `${iface === '' ? '' : iface + '#'}${func}`
}

/** A call an instance cannot take: it is gone (`resource-lost`), or runs one already (the pool never asks that). */
export function refusal (dead: boolean, busy: boolean): Promise<never> | undefined {
  if (dead) return Promise.reject(new RuntimeError('resource-lost', 'the instance is gone'))
  if (busy) return Promise.reject(new Error('instance is busy'))
  return undefined
}

export function timeoutMessage (iface: string, func: string, timeoutMs: number): string {
  return `${callName(iface, func)} did not return within ${timeoutMs} ms; its instance was terminated`
}

interface Pending {
  readonly id: number
  readonly resolve: (results: unknown[]) => void
  readonly reject: (err: RuntimeError) => void
  readonly timer: NodeJS.Timeout
}

/** An instance in a worker thread of its own: a deadline can terminate a guest that never returns. */
export class WorkerInstance implements Instance {
  readonly id = newInstanceId()
  /** Handles of resources this instance lent out (hex). */
  readonly handles = new Set<string>()
  instantiateMs = 0
  busy = false
  #dead = false
  #worker: Worker
  #pending: Pending | null = null
  #nextCall = 0
  #exited: Promise<void>

  private constructor (worker: Worker) {
    this.#worker = worker
    this.#exited = new Promise(resolve => worker.once('exit', () => resolve()))
  }

  get dead (): boolean { return this.#dead }

  /** Starts a worker and resolves once the component is instantiated in it. */
  static async spawn (init: WorkerInit, opts: InstanceOptions, hooks: InstanceHooks): Promise<WorkerInstance> {
    const spare = opts.spares?.take(opts.heapMb)
    if (spare !== undefined) spare.postMessage({ type: 'init', init } satisfies SpareInit)
    const worker = spare ?? startWorker(opts.heapMb, init)
    const instance = new WorkerInstance(worker)
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: worker[stream], crlfDelay: Infinity }).on('line', line => { hooks.log(stream, line) })
    }
    return await new Promise<WorkerInstance>((resolve, reject) => {
      let ready = false
      const fail = (err: RuntimeError): void => {
        clearTimeout(timer)
        void instance.terminate()
        reject(err)
      }
      const timer = setTimeout(() => { fail(new RuntimeError('trap', `instantiation took over ${opts.instantiateTimeoutMs} ms`)) }, opts.instantiateTimeoutMs)
      worker.on('message', (msg: FromWorker) => {
        switch (msg.type) {
          case 'ready':
            ready = true
            clearTimeout(timer)
            instance.instantiateMs = msg.instantiateMs
            resolve(instance)
            break
          case 'init-error':
            fail(new RuntimeError('trap', `instantiation failed: ${msg.message}`))
            break
          case 'result':
            instance.#settle(msg)
            break
          case 'import':
            answerImport(hooks, msg, answer => { instance.#send(answer) })
            break
          case 'drop':
            hooks.onDrop(msg.iface, msg.func, msg.params)
            break
          case 'log':
            hooks.log(msg.stream, msg.line)
            break
        }
      })
      worker.on('error', (err: Error) => {
        const oom = (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY'
        instance.#die(new RuntimeError('trap', oom ? `instance ran out of memory: ${err.message}` : `instance crashed: ${err.message}`))
        if (!ready) fail(new RuntimeError('trap', `instantiation failed: ${err.message}`))
      })
      worker.on('exit', code => {
        instance.#die(new RuntimeError('trap', `instance exited (code ${code})`))
        if (!ready) fail(new RuntimeError('trap', `instance exited during instantiation (code ${code})`))
      })
    })
  }

  /** Runs one call; past `timeoutMs` the worker is terminated and the call fails with `timeout`. */
  call (iface: string, func: string, params: unknown[], timeoutMs: number): Promise<unknown[]> {
    const refused = refusal(this.#dead, this.#pending !== null)
    if (refused !== undefined) return refused
    const id = this.#nextCall++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#die(new RuntimeError('timeout', timeoutMessage(iface, func, timeoutMs)))
      }, timeoutMs)
      this.#pending = { id, resolve, reject, timer }
      this.#send({ type: 'call', id, iface, func, params })
    })
  }

  #send (msg: ToWorker): void {
    if (!this.#dead) this.#worker.postMessage(msg)
  }

  #settle (msg: ResultMessage): void {
    const p = this.#pending
    if (p === null || p.id !== msg.id) return
    this.#pending = null
    settleCall(p, msg, () => { this.#die(null) })
  }

  /** Marks the instance dead, fails its call in flight with `err`, and ends the worker. */
  #die (err: RuntimeError | null): void {
    const p = this.#pending
    this.#pending = null
    if (p !== null) {
      clearTimeout(p.timer)
      p.reject(err ?? new RuntimeError('trap', 'instance discarded'))
    }
    if (this.#dead) return
    this.#dead = true
    void this.#worker.terminate()
  }

  /** Ends the worker (and any call in flight, with `stopped`). */
  async terminate (): Promise<void> {
    this.#die(new RuntimeError('stopped', 'the instance was stopped'))
    await this.#exited
  }
}

type ResultMessage = Extract<FromWorker, { type: 'result' }>
type ImportAnswer = Extract<ToWorker, { type: 'import-result' }>

/** Settles a call with its `result` message; a failure that asks for it (`discard`) discards the instance first. */
export function settleCall (p: { readonly resolve: (r: unknown[]) => void, readonly reject: (e: RuntimeError) => void, readonly timer: NodeJS.Timeout }, msg: ResultMessage, discard: () => void): void {
  clearTimeout(p.timer)
  if (msg.ok) {
    p.resolve(msg.results)
  } else {
    if (msg.discard) discard()
    p.reject(new RuntimeError(msg.code, msg.message))
  }
}

/** Serves a guest's import through `hooks.onImport`; `send` takes the answer (its failure as a code and message). */
export function answerImport (hooks: InstanceHooks, msg: { readonly id: number, readonly iface: string, readonly func: string, readonly params: unknown[] }, send: (answer: ImportAnswer) => void): Promise<void> {
  return hooks.onImport(msg.iface, msg.func, msg.params).then(
    results => { send({ type: 'import-result', id: msg.id, ok: true, results }) },
    (err: unknown) => {
      const e = asRuntimeError(err, 'trap')
      send({ type: 'import-result', id: msg.id, ok: false, code: e.code, message: e.message })
    })
}

export function asRuntimeError (err: unknown, fallback: RuntimeErrorCode): RuntimeError {
  if (err instanceof RuntimeError) return err
  const code = (err as { code?: unknown } | null)?.code
  const message = err instanceof Error ? err.message : String(err)
  return new RuntimeError(typeof code === 'string' && isRuntimeCode(code) ? code : fallback, message, { cause: err })
}

const codes = new Set<string>(['not-a-component', 'component-too-large', 'invalid-component', 'no-such-component', 'no-such-export',
  'invalid-params', 'overloaded', 'timeout', 'trap', 'unresolved-import', 'resource-lost', 'stopped'])

function isRuntimeCode (code: string): code is RuntimeErrorCode {
  return codes.has(code)
}
