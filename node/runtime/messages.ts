// The messages between the runtime (main thread) and an instance worker, and the plan a worker is started with.
import type { Func } from '../../protocol/wit/model.ts'
import type { OutgoingHttpLimits, SandboxGrants } from './sandbox.ts'
import type { RuntimeErrorCode } from './errors.ts'
import type { GuestPlan } from './guest.ts'

/**
 * The internal interface through which a guest's HTTP resources reach the exchange on the runtime's side
 * (runtime.ts answers it itself; it never reaches the node's resolver, and no component can import it).
 * Here, not in wasi-http.ts, so that the main thread knows it without loading preview2-shim.
 */
export const EXCHANGE_IFACE = 'wasmesh:runtime/http-exchange'

/** One interface's functions as the worker needs them: `id` is `ns:pkg/iface@ver`, or '' for the world's own functions. */
export interface PlanInterface {
  readonly id: string
  readonly funcs: readonly Func[]
  /** Names of the resources the interface declares (jco wants a class for each imported one). */
  readonly resources: readonly string[]
}

/** An instance's plan and what its sandbox grants, wherever it runs. */
export interface WorkerInit extends GuestPlan {
  readonly name: string
  readonly grants: SandboxGrants
  /** Bounds of its outgoing HTTP; default `defaultHostLimits`. */
  readonly outgoingHttp?: OutgoingHttpLimits
  /** Lines it may write to stdout and stderr per second (`maxLogLinesPerSecond`); unset: no bound. */
  readonly maxOutputLinesPerSecond?: number
}

/** The first and only message a spare worker waits for: the plan of the instance it becomes. */
export interface SpareInit { readonly type: 'init', readonly init: WorkerInit }

export type ToWorker =
  | { readonly type: 'call', readonly id: number, readonly iface: string, readonly func: string, readonly params: unknown[] }
  | { readonly type: 'import-result', readonly id: number, readonly ok: true, readonly results: unknown[] }
  | { readonly type: 'import-result', readonly id: number, readonly ok: false, readonly code: RuntimeErrorCode, readonly message: string }

export type FromWorker =
  | { readonly type: 'spare-ready' }
  | { readonly type: 'log', readonly stream: 'stdout' | 'stderr', readonly line: string }
  | { readonly type: 'ready', readonly instantiateMs: number }
  | { readonly type: 'init-error', readonly message: string }
  | { readonly type: 'result', readonly id: number, readonly ok: true, readonly results: unknown[] }
  | { readonly type: 'result', readonly id: number, readonly ok: false, readonly code: RuntimeErrorCode, readonly message: string, readonly discard: boolean }
  | { readonly type: 'import', readonly id: number, readonly iface: string, readonly func: string, readonly params: unknown[] }
  | { readonly type: 'drop', readonly iface: string, readonly func: string, readonly params: unknown[] }

/** The first message to a spare that becomes a shared worker (shared-workers.ts): the port its instances' messages go through. */
export interface HostInit { readonly type: 'host', readonly port: import('node:worker_threads').MessagePort }

/** To a shared worker: the messages of an instance worker, each naming the instance it is for, and its start and end. */
export type ToHost =
  | { readonly type: 'instantiate', readonly instance: number, readonly init: WorkerInit }
  | { readonly type: 'end', readonly instance: number }
  | (ToWorker & { readonly instance: number })

/** From a shared worker: an instance worker's messages, each naming its instance, and the lines its guest wrote. */
export type FromHost = Exclude<FromWorker, { type: 'spare-ready' }> & { readonly instance: number }
