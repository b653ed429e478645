// Picks the server for each call (local first, else the less loaded of two random plausible ones), retries elsewhere before the first result byte, sends calls on a resource handle to its issuer.

import { DeadlineQueue } from './runtime/deadlines.ts'
import { createHandleLedger } from './handles.ts'
import type { HandleLedger } from './handles.ts'
import type { Registry, Server } from './registry.ts'
import { unversioned } from '../protocol/versions.ts'

/** This node serving an interface itself, for the local-first path that needs no registry. */
export interface LocalRoute {
  /** The exact exported id. */
  readonly iface: string
  /** Runs the call here; rejects like `callServer`. */
  call (func: string, params: unknown[]): Promise<unknown[]>
}

export interface RouterInit {
  readonly registry: Registry
  readonly self: string
  /**
   * Calls a server: local (runtime/provider) or remote (wRPC over libp2p). `iface` is the server's
   * exact exported id. Errors carry `code` and `resultStarted` (protocol/session.ts RemoteError and
   * SessionError); an error without `resultStarted` is taken to have failed before any result byte.
   * `component` is the call's `CallOptions.component`: the server must run it on that component.
   */
  readonly callServer: (server: Server, iface: string, func: string, params: unknown[], signal: AbortSignal, component?: string) => Promise<unknown[]>
  /**
   * This node's own server of `iface`, if any: local-first calls without a target, labels or
   * signal go straight to it while this node is healthy, with no registry look-up or per-call timer.
   */
  readonly local?: (iface: string) => LocalRoute | undefined
  /** Prefer this node's own instance when it serves the interface. Default true. */
  readonly localFirst?: boolean
  /** Further attempts on other servers after a failure before any result byte. Default 2. */
  readonly maxRetries?: number
  /** The whole call's deadline, retries included. Default 30,000 ms. */
  readonly callTimeoutMs?: number
  /** Two load scores closer than this (in calls per unit of capacity) are a tie, decided by latency. Default 0.05. */
  readonly loadTieTolerance?: number
  /** Which peer issued each resource handle (node/handles.ts); the router reads it and forgets dropped and lost handles. Default a ledger of its own. */
  readonly handles?: HandleLedger
  /** Uniform in [0, 1). Default Math.random. */
  readonly random?: () => number
  /** Milliseconds, monotonic, for latency samples. Default performance.now. */
  readonly clock?: () => number
}

export interface CallOptions {
  /** Only this peer. */
  readonly target?: string
  /** Only servers carrying all these labels. */
  readonly labels?: Readonly<Record<string, string>>
  /** Only exports of this component (its name or digest). */
  readonly component?: string
  /** Overrides callTimeoutMs for this call. */
  readonly timeoutMs?: number
  readonly signal?: AbortSignal
  /** A resource handle the call acts on: the call goes only to the peer that issued it. */
  readonly handle?: Uint8Array
  /** The peer that must serve the call (the owner of a handle the router does not know of). */
  readonly owner?: string
}

export interface CallResult {
  readonly results: unknown[]
  /** The peer that answered (this node's own id for a local call). */
  readonly peer: string
  readonly local: boolean
  /** Servers tried, this one included. */
  readonly attempts: number
}

export interface Router {
  call(iface: string, func: string, params: unknown[], opts?: CallOptions): Promise<CallResult>
  /** Drops the deadlines of calls in flight (their timers); for the node's stop. */
  close(): void
}

/** `no-server`, `timeout`, `aborted`, `resource-lost`, or the code of the last attempt's error. */
export type RouterErrorCode = 'no-server' | 'timeout' | 'aborted' | 'resource-lost' | (string & {})

export class RouterError extends Error {
  override readonly name: string = 'RouterError'
  readonly code: RouterErrorCode
  /** Servers tried. */
  readonly attempts: number
  /** The peers tried, in order. */
  readonly tried: readonly string[]
  /** Whether a result byte had arrived (from protocol's InvokeError). */
  readonly resultStarted: boolean

  constructor (code: RouterErrorCode, message: string, details: { attempts: number, tried: readonly string[], cause?: unknown, resultStarted?: boolean }) {
    super(message)
    this.code = code
    this.attempts = details.attempts
    this.tried = details.tried
    this.resultStarted = details.resultStarted ?? false
    if (details.cause !== undefined) this.cause = details.cause
  }
}

/** Errors that are the function's own answer, or that would be the same on any server: never retried, the server is not at fault. */
export const answerCodes: ReadonlySet<string> = new Set([
  'no-such-function', 'no-such-export', 'invalid-params', 'trap', 'timeout', 'unresolved-import', 'resource-lost', 'internal',
  // the parameters could not be encoded: every server would fail the same way
  'value-type', 'value-range', 'invalid-utf8', 'invalid-flags', 'unsupported-type', 'async-unsupported'
])

/**
 * Errors of a healthy server that will not take this call (busy, or its policy refuses this caller): retried
 * elsewhere without marking it unhealthy, since its other calls (other interfaces, other callers' rules) are fine.
 */
export const busyCodes: ReadonlySet<string> = new Set(['overloaded', 'refused', 'no-such-component'])

/** Errors saying the server could not be reached at all: it is left out until it shows it is back (`markUnreachable`). */
export const unreachableCodes: ReadonlySet<string> = new Set(['dial-failed'])

export const defaultRouterOptions = Object.freeze({
  localFirst: true,
  maxRetries: 2,
  callTimeoutMs: 30_000,
  loadTieTolerance: 0.05
})

interface Failure { code: string, resultStarted: boolean }

/** Where a call acting on a resource handle must go. */
interface Pin { readonly owner?: string, readonly handle?: Uint8Array, readonly unknownHandle?: boolean }

function failureOf (err: unknown): Failure {
  const e = err as { code?: unknown, resultStarted?: unknown } | null
  const code = typeof e?.code === 'string' ? e.code : 'internal'
  return { code, resultStarted: e?.resultStarted === true }
}

function messageOf (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** `[method]r.m` and `[resource-drop]r` act on the handle passed first. */
function takesSelf (func: string): boolean {
  return func.startsWith('[method]') || func.startsWith('[resource-drop]')
}

function describeLabels (labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ')
}

export function createRouter (init: RouterInit): Router {
  const registry = init.registry
  const localFirst = init.localFirst ?? defaultRouterOptions.localFirst
  const maxRetries = init.maxRetries ?? defaultRouterOptions.maxRetries
  const callTimeoutMs = init.callTimeoutMs ?? defaultRouterOptions.callTimeoutMs
  const tieTolerance = init.loadTieTolerance ?? defaultRouterOptions.loadTieTolerance
  const random = init.random ?? Math.random
  const clock = init.clock ?? (() => performance.now())
  const handles = init.handles ?? createHandleLedger()
  // Real time, as the general path's setTimeout: `clock` may be a test's.
  const deadlines = new DeadlineQueue()

  function score (s: Server): number {
    return (s.inflight + s.load) / Math.max(1, s.capacity)
  }

  /** The better of two servers: lower load score; near-ties go to the lower latency (unknown counts as 0, so new servers get tried). */
  function better (a: Server, b: Server): Server {
    const d = score(a) - score(b)
    if (Math.abs(d) > tieTolerance) return d < 0 ? a : b
    const la = a.latencyMs ?? 0
    const lb = b.latencyMs ?? 0
    if (la !== lb) return la < lb ? a : b
    return d <= 0 ? a : b
  }

  function pick (all: Server[]): Server {
    if (localFirst) {
      const local = all.find(s => s.local)
      if (local !== undefined) return local
    }
    // Servers only a relay vouched for come last: a sync reply can list any number of them.
    const plausible = all.filter(s => s.plausible)
    const candidates = plausible.length > 0 ? plausible : all
    if (candidates.length === 1) return candidates[0]
    const i = Math.floor(random() * candidates.length) % candidates.length
    let j = Math.floor(random() * (candidates.length - 1)) % (candidates.length - 1)
    if (j >= i) j++
    return better(candidates[i], candidates[j])
  }

  /** Why nobody can take the call, naming what excluded everyone. */
  function noServerMessage (iface: string, opts: CallOptions, tried: readonly string[]): string {
    const all = registry.servers(iface)
    if (all.length === 0) {
      const name = unversioned(iface)
      const other = [...registry.interfaces().keys()].filter(id => unversioned(id) === name)
      return other.length > 0
        ? `no server exports a version of ${iface} compatible with it (offered: ${other.join(', ')})`
        : `no server exports ${iface}`
    }
    let pool = all
    const why: string[] = []
    if (opts.target !== undefined) {
      pool = pool.filter(s => s.peer === opts.target)
      if (pool.length === 0) why.push(`target peer ${opts.target} does not serve it (${all.length} other server${all.length === 1 ? '' : 's'} do)`)
    }
    if (opts.labels !== undefined && pool.length > 0) {
      const labels = opts.labels
      pool = pool.filter(s => Object.entries(labels).every(([k, v]) => Object.hasOwn(s.labels, k) && s.labels[k] === v))
      if (pool.length === 0) why.push(`none of its servers has the labels ${describeLabels(labels)}`)
    }
    if (opts.component !== undefined && pool.length > 0) {
      pool = registry.servers(iface, { peer: opts.target, labels: opts.labels, component: opts.component })
      if (pool.length === 0) why.push(`no server of it is the component ${opts.component}`)
    }
    if (pool.length > 0) {
      const left = pool.filter(s => !tried.includes(s.peer))
      if (left.length === 0) {
        why.push(`every server was tried (${tried.join(', ')})`)
      } else {
        const soonest = Math.min(...left.map(s => s.retryAt ?? 0))
        why.push(`all ${left.length} of its servers are backing off after failures (next retry in ${Math.max(0, Math.ceil(soonest - clock()))} ms)`)
      }
    }
    return `no server can take ${iface}: ${why.join('; ')}`
  }

  /** The peer a call must go to, when it acts on a resource handle. */
  function pinnedOwner (func: string, params: unknown[], opts: CallOptions): Pin {
    if (opts.owner !== undefined) return { owner: opts.owner, handle: opts.handle }
    if (opts.handle !== undefined) {
      const owner = handles.owner(opts.handle)
      return owner === undefined ? { handle: opts.handle, unknownHandle: true } : { owner, handle: opts.handle }
    }
    const first = params[0]
    if (takesSelf(func) && first instanceof Uint8Array) {
      const owner = handles.owner(first)
      if (owner !== undefined) return { owner, handle: first }
    }
    return {}
  }

  /** A failed attempt: how the server is marked (not at all when the failure is the function's own answer or a busy server). */
  function blame (peer: string, code: string): void {
    if (unreachableCodes.has(code)) registry.markUnreachable(peer)
    else if (!busyCodes.has(code) && !answerCodes.has(code)) registry.markFailure(peer)
  }

  /** Whether a failure ends the call rather than moving on to another server. */
  function isFinal (failure: Failure, pinned: boolean, attempts: number): boolean {
    return failure.resultStarted || answerCodes.has(failure.code) || pinned || attempts > maxRetries
  }

  function finalError (iface: string, func: string, peer: string, err: unknown, failure: Failure, pinned: boolean, tried: readonly string[]): RouterError {
    const why = failure.resultStarted
      ? 'after results had started (not retried)'
      : answerCodes.has(failure.code) || pinned ? '(not retried)' : `(gave up after ${tried.length} attempts)`
    return new RouterError(failure.code, `${iface}#${func} on ${peer} failed ${why}: ${messageOf(err)}`,
      { attempts: tried.length, tried, cause: err, resultStarted: failure.resultStarted })
  }

  /**
   * The local-first call on this node's own route: one promise, its deadline on the shared queue,
   * the general path only when this node cannot take it.
   */
  function callHere (route: LocalRoute, iface: string, func: string, params: unknown[], opts: CallOptions, pin: Pin): Promise<CallResult> {
    const timeoutMs = opts.timeoutMs ?? callTimeoutMs
    return new Promise((resolve, reject) => {
      let timedOut = false
      const deadline = deadlines.arm(timeoutMs, () => {
        timedOut = true
        reject(new RouterError('timeout', `${iface}#${func}: no answer within ${timeoutMs} ms (1 attempt: ${init.self})`, { attempts: 1, tried: [init.self] }))
      })
      route.call(func, params).then(results => {
        deadline.cancel()
        registry.markSuccess(init.self)
        if (pin.handle !== undefined && func.startsWith('[resource-drop]')) forgetHandle(pin.handle)
        resolve({ results, peer: init.self, local: true, attempts: 1 })
      }, (err: unknown) => {
        deadline.cancel()
        if (timedOut) return
        const failure = failureOf(err)
        const pinned = pin.owner !== undefined || opts.target !== undefined
        const tried = [init.self]
        if (failure.code === 'resource-lost' && pin.handle !== undefined) forgetHandle(pin.handle)
        if (isFinal(failure, pinned, tried.length)) {
          reject(finalError(iface, func, init.self, err, failure, pinned, tried))
          return
        }
        if (!busyCodes.has(failure.code)) registry.markFailure(init.self)
        // Not this node's answer, and nothing was returned: the servers elsewhere may take it, within what is left of the deadline.
        const left = { ...opts, timeoutMs: Math.max(1, Math.ceil(deadline.at - performance.now())) }
        callRouted(iface, func, params, left, pin, tried, { err, failure }).then(resolve, reject)
      })
    })
  }

  function call (iface: string, func: string, params: unknown[], opts: CallOptions = {}): Promise<CallResult> {
    const pin = pinnedOwner(func, params, opts)
    if (pin.unknownHandle === true) {
      return Promise.reject(new RouterError('resource-lost', `${iface}#${func}: the handle was not issued by any known peer (or was forgotten)`, { attempts: 0, tried: [] }))
    }
    if (localFirst && init.local !== undefined && opts.labels === undefined && opts.component === undefined && opts.signal === undefined &&
        (opts.target === undefined || opts.target === init.self) && (pin.owner === undefined || pin.owner === init.self)) {
      const route = registry.healthy(init.self) ? init.local(iface) : undefined
      if (route !== undefined) return callHere(route, iface, func, params, opts, pin)
    }
    return callRouted(iface, func, params, opts, pin, [], undefined)
  }

  /** The general path: pick a server from the registry, retry elsewhere before the first result byte, within one deadline. */
  async function callRouted (iface: string, func: string, params: unknown[], opts: CallOptions, pin: Pin,
    tried: string[], previous: { err: unknown, failure: Failure } | undefined): Promise<CallResult> {
    if (pin.owner !== undefined && registry.servers(iface, { peer: pin.owner }).length === 0) {
      if (pin.handle !== undefined) forgetHandle(pin.handle)
      throw new RouterError('resource-lost', `${iface}#${func}: peer ${pin.owner}, which issued the resource, no longer serves ${iface}`, { attempts: 0, tried })
    }

    const timeoutMs = opts.timeoutMs ?? callTimeoutMs
    const deadline = new AbortController()
    // The attempt in flight is rejected straight from the deadline timer or the caller's abort, so
    // that a server which ignores its signal cannot hold the call; no listener per attempt.
    let wake: ((reason: unknown) => void) | undefined
    const timer = setTimeout(() => {
      deadline.abort()
      wake?.(deadline.signal.reason)
    }, timeoutMs)
    const callerSignal = opts.signal
    const onCallerAbort = (): void => { wake?.(callerSignal?.reason) }
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true })
    const signal = callerSignal === undefined ? deadline.signal : AbortSignal.any([deadline.signal, callerSignal])
    const stopped = (): RouterError | undefined => {
      if (opts.signal?.aborted === true) return new RouterError('aborted', `${iface}#${func}: aborted by the caller`, { attempts: tried.length, tried, cause: opts.signal.reason })
      if (deadline.signal.aborted) return new RouterError('timeout', `${iface}#${func}: no answer within ${timeoutMs} ms (${tried.length} attempt${tried.length === 1 ? '' : 's'}${tried.length > 0 ? ': ' + tried.join(', ') : ''})`, { attempts: tried.length, tried })
      return undefined
    }

    try {
      let last = previous
      while (true) {
        const halt = stopped()
        if (halt !== undefined) throw withCause(halt, last?.err)

        let server: Server | undefined
        if (pin.owner !== undefined) {
          // a pinned call goes to its owner whatever its health: no other server holds the resource
          server = tried.length === 0 ? registry.servers(iface, { peer: pin.owner })[0] : undefined
        } else {
          const candidates = registry.servers(iface, { peer: opts.target, labels: opts.labels, component: opts.component })
            .filter(s => !tried.includes(s.peer) && (s.healthy || opts.target !== undefined))
          if (candidates.length > 0) server = pick(candidates)
        }
        if (server === undefined) {
          if (last === undefined) throw new RouterError('no-server', noServerMessage(iface, opts, tried), { attempts: 0, tried })
          throw new RouterError(last.failure.code, `${iface}#${func} failed on ${tried.join(', ')} and no other server can take it: ${messageOf(last.err)}`,
            { attempts: tried.length, tried, cause: last.err })
        }

        tried.push(server.peer)
        const started = clock()
        registry.beginCall(server.peer)
        let results: unknown[]
        try {
          results = await new Promise<unknown[]>((resolve, reject) => {
            wake = reject
            init.callServer(server, server.iface, func, params, signal, opts.component).then(resolve, reject)
          })
          wake = undefined
        } catch (err) {
          wake = undefined
          registry.endCall(server.peer)
          const halt = stopped()
          if (halt !== undefined) throw withCause(halt, err)
          const failure = failureOf(err)
          last = { err, failure }
          blame(server.peer, failure.code)
          if (failure.code === 'resource-lost' && pin.handle !== undefined) forgetHandle(pin.handle)
          if (isFinal(failure, pin.owner !== undefined, tried.length)) throw finalError(iface, func, server.peer, err, failure, pin.owner !== undefined, tried)
          continue
        }
        registry.endCall(server.peer)
        registry.markSuccess(server.peer, clock() - started)
        if (pin.handle !== undefined && func.startsWith('[resource-drop]')) forgetHandle(pin.handle)
        return { results, peer: server.peer, local: server.local, attempts: tried.length }
      }
    } finally {
      clearTimeout(timer)
      callerSignal?.removeEventListener('abort', onCallerAbort)
    }
  }

  function forgetHandle (handle: Uint8Array): void {
    handles.forget(handle)
  }

  return {
    call,
    close () { deadlines.clear() }
  }
}

function withCause (err: RouterError, cause: unknown): RouterError {
  if (cause !== undefined && err.cause === undefined) err.cause = cause
  return err
}
