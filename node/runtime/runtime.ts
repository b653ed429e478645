// The component runtime: loads components, keeps an instance pool per component, and runs calls with handles, imports and limits.
import { basename } from 'node:path'
import type { Func, Interface, Resource, World } from '../../protocol/wit/model.ts'
import { checkComponentBytes, digestOf, inspectComponent, readComponentSource, transpilePlan, usesFetchEvent, workerPlan, type ComponentSurface } from './component.ts'
import { RuntimeError } from './errors.ts'
import { DeadlineQueue } from './deadlines.ts'
import { WorkerInstance, type Instance, type InstanceHooks } from './instance.ts'
import { SpareWorkers } from './spares.ts'
import { SharedWorkers } from './shared-workers.ts'
import { installLazyShimIo } from './shim-io.ts'
import { defaultRuntimeLimits, type RuntimeLimits } from './limits.ts'
import { capMemories } from './memory-cap.ts'
import { InstancePool, type PoolCallOptions, type PoolStats } from './pool.ts'
import type { SandboxGrants } from './sandbox.ts'
import { createTranspileCache } from './transpile-cache.ts'
import { forEachHandle, funcHandles, handleKey } from './values.ts'
import { unversioned } from '../../protocol/versions.ts'
import { wasm, type WasmModule } from './wasm.ts'
import { createComponentHost, redact, type InstanceHost, type SecretSource } from './host/index.ts'
import type { FieldEntries, HttpRequestHead } from './wasi-http.ts'
import { EXCHANGE_IFACE } from './messages.ts'

export type { FieldEntries }

/**
 * One HTTP request as the runtime hands it to an HTTP component, and where its response goes. The guest pulls the
 * request body (`read`) and pushes the response body (`write`, whose promise is its back-pressure).
 */
export interface HttpExchange {
  readonly head: Omit<HttpRequestHead, 'exchange'>
  /** The next bytes of the request body (at most `max`), or undefined at its end. */
  read (max: number): Promise<Uint8Array | undefined>
  /** The request's trailers, once its body has ended. */
  trailers (): Promise<FieldEntries | undefined>
  /** The guest set its response (`response-outparam.set` with ok). */
  respond (status: number, headers: FieldEntries): void
  /** The guest set an error code instead of a response (wasi:http `error-code`, jco's form). */
  respondError (code: unknown): void
  /** A chunk of the response body; resolves when there is room for the next one. */
  write (chunk: Uint8Array): Promise<void>
  /** The guest finished the response body (`outgoing-body.finish`), with trailers or none. */
  finish (trailers: FieldEntries | undefined): void
}

/**
 * Serves a component's non-WASI imports: `iface` is `ns:pkg/iface@ver` (or ''
 * for a bare world function), `func` the component-model name (`get`,
 * `[method]bucket.get`, `[resource-drop]bucket`), values in jco's conventions,
 * resources as the opaque `Uint8Array` handles their server gave out. Throw a
 * RuntimeError `unresolved-import` when no one serves it.
 */
export type ImportResolver = (iface: string, func: string, params: unknown[], from: ImportCaller) => Promise<unknown[]>

/** The component whose import is being served (links bind imports per component). */
export interface ImportCaller {
  readonly id: string
  readonly name: string
  /** The link name the calling instance chose for this interface (`wasmcloud:bus/lattice#set-link-name`); unset: `default`. */
  readonly linkName?: string
  /**
   * The interface whose links route this call, when it is not `iface` itself: the node's `wasi:blobstore` host
   * calls `wrpc:blobstore` on a component's behalf, routed by the links of its `wasi:blobstore` import.
   */
  readonly linkIface?: string
}

export interface RuntimeLogger {
  info (message: string): void
  error (message: string): void
  /** `wasi:logging` lines at trace and debug (dropped when unset). */
  debug? (message: string): void
  /** `wasi:logging` lines at warn (written as info when unset). */
  warn? (message: string): void
}

export interface RuntimeInit {
  readonly resolver?: ImportResolver
  /** Where guests' stdout (info) and stderr (error) lines go, prefixed with the component's name. */
  readonly logger?: RuntimeLogger
  /** Transpile cache; default `$XDG_CACHE_HOME/wasmesh` or `~/.cache/wasmesh`. */
  readonly cacheDir?: string
  readonly limits?: Partial<RuntimeLimits>
  /** Reads a secret reference of `ComponentConfig.secrets` (`env:NAME`, `file:/path`) when a component asks for it. */
  readonly secretSource?: SecretSource
}

export interface ComponentConfig {
  /** Shown in logs; default: the file name, else the digest's first 12 characters. */
  readonly name?: string
  readonly limits?: Partial<Omit<RuntimeLimits, 'maxComponentBytes'>>
  /** What the sandbox lets this component reach; nothing by default. */
  readonly grants?: SandboxGrants
  /**
   * Where its instances run. `worker` (the default): each in a worker thread of its own, so a
   * deadline can stop a guest that never returns, at 30-170 µs per call for the hand-off.
   * `inline`: on the node's own thread, with the same sandbox and no hand-off; a guest that loops
   * without awaiting an import holds the whole node (deadlines fire only while it awaits), and its
   * memory counts against the node's heap. For components you trust, on the hot path.
   */
  readonly isolation?: Isolation
  /** Named config values the component reads with `wasi:config/store` (or the legacy `wasi:config/runtime`). */
  readonly config?: Readonly<Record<string, string>>
  /** Secrets it may read with `wasmcloud:secrets/store`: key -> where the value is (`env:NAME`, `file:/path`), read when asked for, never logged. */
  readonly secrets?: Readonly<Record<string, string>>
}

export type Isolation = 'worker' | 'inline'

export interface LoadedComponent {
  /** The sha256 digest of the bytes (hex): the id to call it by. */
  readonly id: string
  readonly digest: string
  readonly name: string
  readonly size: number
  readonly imports: ComponentSurface
  readonly exports: ComponentSurface
  readonly world: World
  /** The component's world as `componentWit` prints it. */
  readonly wit: string
  /** Whether this load transpiled or used the cache. */
  readonly transpiled: 'fresh' | 'cached'
  /** Time the first instance took to instantiate (importing the transpiled JS + instantiating), in ms; a worker thread's own boot (~70-80 ms here) is not included. */
  readonly instantiateMs: number
  readonly isolation: Isolation
  /** The `wasi:http/incoming-handler@0.2.x` it exports (an HTTP component), if any: call it with `handleHttp`. */
  readonly http?: string
}

/** Per call: whose share of the instances it counts against, and how long it may take. */
export interface CallOptions extends PoolCallOptions {
  /** The peer id of a caller from the mesh; default `local` (the node itself). Each caller holds at most `maxInstancesPerCaller` instances of a component. */
  readonly caller?: string
  /** At most the component's `callTimeoutMs` (the default), counted from now: queued or running, the call fails with `timeout` past it. */
  readonly timeoutMs?: number
}

export interface Runtime {
  start (): Promise<void>
  stop (): Promise<void>
  load (source: string | Uint8Array, config?: ComponentConfig): Promise<LoadedComponent>
  unload (id: string): Promise<void>
  /** Calls an export: `iface` is `ns:pkg/iface@ver` (version optional when unambiguous) or '' for a world function. */
  call (id: string, iface: string, func: string, params: unknown[], opts?: CallOptions): Promise<unknown[]>
  /** Runs one HTTP request through an HTTP component's `wasi:http/incoming-handler`; settles when its `handle` returns. */
  handleHttp (id: string, exchange: HttpExchange, opts?: CallOptions): Promise<void>
  components (): LoadedComponent[]
  stats (id: string): PoolStats
  /** How many transpiles have run (the rest came from the cache). */
  readonly transpiles: number
  /** Worker threads started, their modules loaded, waiting to become an instance (`spareWorkers`). */
  readonly spareWorkers: number
  /** Shared worker threads running (`sharedWorkers`), with instances or lingering after their last. */
  readonly sharedWorkers: number
}

interface Entry {
  readonly info: LoadedComponent
  readonly pool: InstancePool
  readonly exportedIds: ReadonlySet<string>
  /** Lent-out resource handles -> the instance that owns them. */
  readonly handles: Map<string, Instance>
  /** An HTTP component whose instances serve one request each (set when a reused one failed to answer). */
  httpSingleUse: boolean
  /** Exports as asked (`iface` -> `func`), resolved once. */
  readonly targets: Map<string, Map<string, Target | null>>
}

/** An export resolved for calling: which parameters and results can hold resource handles is known up front. */
type Target =
  | { readonly iface: string, readonly func: Func, readonly paramHandles: boolean, readonly resultHandles: boolean }
  | { readonly iface: string, readonly drop: Resource }

function targetOf (e: Entry, iface: string, func: string): Target | undefined {
  let byFunc = e.targets.get(iface)
  if (byFunc === undefined) {
    if (e.targets.size >= 1024) e.targets.clear()
    e.targets.set(iface, byFunc = new Map())
  }
  let t = byFunc.get(func)
  if (t === undefined) {
    const found = findExport(e.info, iface, func)
    t = found === undefined
      ? null
      : 'drop' in found
        ? found
        : { ...found, paramHandles: funcHandles(found.func).params, resultHandles: funcHandles(found.func).results }
    // Only real exports are kept: a caller cannot fill this with names that do not exist.
    if (t !== null) byFunc.set(func, t)
  }
  return t ?? undefined
}

function findExport (info: LoadedComponent, iface: string, func: string): { iface: string, func: Func } | { iface: string, drop: Resource } | undefined {
  if (iface === '') {
    const f = info.exports.functions.find(f => f.name === func)
    return f === undefined ? undefined : { iface: '', func: f }
  }
  let i: Interface | undefined = info.exports.interfaces.find(i => i.id === iface)
  if (i === undefined && unversioned(iface) === iface) {
    const matches = info.exports.interfaces.filter(i => unversioned(i.id) === iface)
    if (matches.length === 1) i = matches[0]
  }
  if (i === undefined) return undefined
  if (func.startsWith('[resource-drop]')) {
    const r = i.types.get(func.slice('[resource-drop]'.length))
    return r?.kind === 'resource' ? { iface: i.id, drop: r } : undefined
  }
  const f = i.functions.get(func)
  return f === undefined ? undefined : { iface: i.id, func: f }
}

export function createRuntime (init: RuntimeInit = {}): Runtime {
  const limits: RuntimeLimits = { ...defaultRuntimeLimits, ...init.limits }
  const cache = createTranspileCache({ cacheDir: init.cacheDir })
  const components = new Map<string, Entry>()
  /** Deadlines of inline instances' calls (a worker instance keeps its own timer, it terminates a thread). */
  const deadlines = new DeadlineQueue()
  const spares = new SpareWorkers(limits.spareWorkers)
  const shared = new SharedWorkers(limits.sharedWorkers, spares, limits.instanceIdleTimeoutMs)
  const loading = new Map<string, Promise<LoadedComponent>>()
  let started = false

  const log = (name: string, stream: 'stdout' | 'stderr', line: string): void => {
    if (stream === 'stdout') init.logger?.info(`[${name}] ${line}`)
    else init.logger?.error(`[${name}] ${line}`)
  }

  /** HTTP exchanges in flight, by id: the guests' body and response imports are answered here, never by the resolver. */
  const exchanges = new Map<string, HttpExchange>()

  const batchable = new Set(['respond', 'respond-error', 'write', 'finish'])
  async function exchangeCall (func: string, params: unknown[]): Promise<unknown[]> {
    const ex = typeof params[0] === 'string' ? exchanges.get(params[0]) : undefined
    if (ex === undefined) throw new RuntimeError('invalid-params', 'the HTTP exchange is over')
    switch (func) {
      case 'read': return [await ex.read(Math.max(1, Math.min(Number(params[1]) || 65536, 1048576)))]
      case 'trailers': return [await ex.trailers()]
      case 'respond': ex.respond(Number(params[1]), params[2] as FieldEntries); return []
      case 'respond-error': ex.respondError(params[1]); return []
      case 'write': await ex.write(params[1] as Uint8Array); return []
      case 'finish': ex.finish(params[1] as FieldEntries | undefined); return []
      case 'batch': {
        // Started in order and at once (a write's bytes are queued before the next op runs), then waited for together.
        const ops = params[1]
        if (!Array.isArray(ops)) throw new RuntimeError('invalid-params', 'an exchange batch is a list of calls')
        const done: Array<Promise<unknown[]>> = []
        for (const op of ops as unknown[]) {
          if (!Array.isArray(op) || !batchable.has(op[0] as string)) throw new RuntimeError('invalid-params', 'an exchange batch holds only respond, respond-error, write and finish')
          done.push(exchangeCall(op[0] as string, [params[0], ...op.slice(1) as unknown[]]))
        }
        await Promise.all(done)
        return []
      }
      default: throw new RuntimeError('invalid-params', `no exchange function ${func}`)
    }
  }

  async function resolveImport (iface: string, func: string, params: unknown[], from: ImportCaller): Promise<unknown[]> {
    if (iface === EXCHANGE_IFACE) return await exchangeCall(func, params)
    const name = `${iface === '' ? '' : iface + '#'}${func}`
    if (init.resolver === undefined) throw new RuntimeError('unresolved-import', `no one serves the import ${name}`)
    try {
      return await init.resolver(iface, func, params, from)
    } catch (err) {
      // A dependency nobody serves is not the guest's fault: say which import, not `trap`, whatever code the resolver used.
      const code = (err as { code?: unknown } | null)?.code
      if (code === 'no-server' || code === 'unresolved-import') {
        const message = err instanceof Error ? err.message : String(err)
        throw new RuntimeError('unresolved-import', message.includes(name) ? message : `import ${name}: ${message}`, { cause: err })
      }
      throw err
    }
  }

  async function doLoad (bytes: Uint8Array, digest: string, name: string, config: ComponentConfig): Promise<LoadedComponent> {
    const info = await inspectComponent(bytes, { maxComponentBytes: limits.maxComponentBytes })
    const transpiled = await cache.get(digest, bytes, transpilePlan(info))
    const l = { ...limits, ...config.limits }
    const modules: Record<string, WasmModule> = {}
    for (const [file, data] of Object.entries(transpiled.coreFiles)) {
      // Every memory the guest defines gets the instance's limit as its maximum: growing past it fails inside the guest, while it runs.
      const capped = capMemories(data, l.maxInstanceMemoryBytes, file)
      try {
        modules[file] = await wasm.compile(capped)
      } catch (err) {
        throw new RuntimeError('invalid-component', `a core module does not compile: ${(err as Error).message}`, { cause: err })
      }
    }
    const plan = workerPlan(info)
    const outgoingHttp = { maxOutgoingHttpRequests: l.maxOutgoingHttpRequests, maxOutgoingHttpResponseBytes: l.maxOutgoingHttpResponseBytes, outgoingHttpTimeoutMs: l.outgoingHttpTimeoutMs }
    const workerInit = { name, entryUrl: transpiled.entryUrl, modules, ...plan, grants: config.grants ?? {}, outgoingHttp, maxOutputLinesPerSecond: l.maxLogLinesPerSecond, maxMemoryBytes: l.maxInstanceMemoryBytes }
    const logger = init.logger
    const host = createComponentHost({
      name,
      limits: l,
      config: config.config,
      secrets: config.secrets,
      secretSource: init.secretSource,
      call: async (iface, func, params, linkIface, linkName) => await resolveImport(iface, func, params, { id: digest, name, linkIface, ...(linkName !== undefined ? { linkName } : {}) }),
      logger: {
        debug: m => { logger?.debug?.(m) },
        info: m => { logger?.info(m) },
        warn: m => { if (logger?.warn !== undefined) logger.warn(m); else logger?.info(m) },
        error: m => { logger?.error(m) }
      }
    })
    /** Each instance has its own link names and handles of host resources. */
    const hooksOf = (instanceHost: InstanceHost): InstanceHooks => ({
      // A secret the component was given never reaches the node's log through its output either.
      log: (stream, line) => { log(name, stream, host.revealed.size === 0 ? line : redact(line, host.revealed)) },
      onImport: async (iface, func, params) => {
        const served = instanceHost.serve(iface, func, params)
        if (served !== undefined) return await served
        return await resolveImport(iface, func, params, { id: digest, name, linkName: instanceHost.linkName(iface) })
      },
      onDrop: (iface, func, params) => {
        const served = instanceHost.serve(iface, func, params)
        if (served !== undefined) { served.catch(() => {}); return }
        resolveImport(iface, func, params, { id: digest, name, linkName: instanceHost.linkName(iface) }).catch(() => {})
      }
    })
    const opts = { heapMb: l.instanceHeapMb, instantiateTimeoutMs: l.instantiateTimeoutMs, spares }
    const spawn = config.isolation === 'inline'
      // Imported with the first inline instance: it brings preview2-shim (and its I/O thread) onto the node's own thread, which worker instances never need there.
      ? async (): Promise<Instance> => {
        installLazyShimIo()
        return await (await import('./inline-instance.ts')).InlineInstance.create(workerInit, { ...opts, deadlines }, hooksOf(host.instance()))
      }
      // A shared worker, unless the component needs a thread of its own: a network grant opens the thread's shim
      // defaults, a heap bound of its own is a thread's resourceLimits.
      : shared.enabled && config.grants?.network !== true && l.instanceHeapMb === limits.instanceHeapMb
        ? async (): Promise<Instance> => await shared.spawn(digest, workerInit, opts, hooksOf(host.instance()))
        : async (): Promise<Instance> => await WorkerInstance.spawn(workerInit, opts, hooksOf(host.instance()))
    const pool = new InstancePool(spawn, l, deadlines)
    let first: Instance
    try {
      first = await pool.warm()
    } catch (err) {
      await pool.close()
      if (err instanceof RuntimeError && err.code === 'stopped') throw err
      throw new RuntimeError('invalid-component', `the component does not instantiate: ${(err as Error).message}`, { cause: err })
    }
    const loaded: LoadedComponent = {
      id: digest,
      digest,
      name,
      size: info.size,
      imports: info.imports,
      exports: info.exports,
      world: info.world,
      wit: info.wit,
      transpiled: transpiled.fresh ? 'fresh' : 'cached',
      instantiateMs: first.instantiateMs,
      isolation: config.isolation ?? 'worker',
      ...(plan.httpExport !== undefined ? { http: plan.httpExport } : {})
    }
    if (!started) {
      await pool.close()
      throw new RuntimeError('stopped', 'the runtime stopped while loading')
    }
    components.set(digest, { info: loaded, pool, exportedIds: new Set(info.exports.interfaces.map(i => i.id)), handles: new Map(), targets: new Map(), httpSingleUse: plan.httpExport !== undefined && usesFetchEvent(bytes) })
    return loaded
  }

  return {
    async start () {
      if (started) return
      started = true
      spares.start()
    },

    async stop () {
      if (!started) return
      started = false
      const all = [...components.values()]
      components.clear()
      await Promise.allSettled([...loading.values()])
      await Promise.all(all.map(async e => { await e.pool.close() }))
      await shared.stop()
      await spares.stop()
      deadlines.clear()
    },

    async load (source, config = {}) {
      if (!started) throw new RuntimeError('stopped', 'the runtime is not started')
      if (config.isolation !== undefined && config.isolation !== 'worker' && config.isolation !== 'inline') {
        throw new RuntimeError('invalid-params', `isolation must be worker or inline, not ${String(config.isolation)}`)
      }
      const bytes = await readComponentSource(source, limits.maxComponentBytes)
      checkComponentBytes(bytes, limits.maxComponentBytes)
      const digest = digestOf(bytes)
      const existing = components.get(digest)
      if (existing !== undefined) return existing.info
      let p = loading.get(digest)
      if (p === undefined) {
        const name = config.name ?? (typeof source === 'string' ? basename(source).replace(/\.wasm$/, '') : digest.slice(0, 12))
        p = doLoad(bytes, digest, name, config).finally(() => loading.delete(digest))
        loading.set(digest, p)
      }
      return await p
    },

    async unload (id) {
      const e = components.get(id)
      if (e === undefined) return
      components.delete(id)
      await e.pool.close()
    },

    call (id, iface, func, params, opts) {
      if (!started) return Promise.reject(new RuntimeError('stopped', 'the runtime is not started'))
      const e = components.get(id)
      if (e === undefined) return Promise.reject(new RuntimeError('no-such-component', `no component ${id} is loaded`))
      const target = targetOf(e, iface, func)
      if (target === undefined) return Promise.reject(new RuntimeError('no-such-export', `${e.info.name} exports no ${iface === '' ? '' : iface + '#'}${func}`))
      if (!Array.isArray(params)) return Promise.reject(new RuntimeError('invalid-params', 'params must be an array'))
      const timeoutMs = opts?.timeoutMs
      if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0 && Number.isFinite(timeoutMs))) {
        return Promise.reject(new RuntimeError('invalid-params', `timeoutMs must be a positive number of milliseconds, not ${String(timeoutMs)}`))
      }
      if ('func' in target) {
        if (params.length !== target.func.params.length) {
          return Promise.reject(new RuntimeError('invalid-params', `${func} takes ${target.func.params.length} parameters, got ${params.length}`))
        }
        // Nothing to pin or to move: any instance will do.
        if (!target.paramHandles && !target.resultHandles) return e.pool.call(target.iface, func, params, opts)
      }
      return callWithHandles(e, target, func, params, opts ?? {})
    },

    async handleHttp (id, exchange, opts) {
      if (!started) throw new RuntimeError('stopped', 'the runtime is not started')
      const e = components.get(id)
      if (e === undefined) throw new RuntimeError('no-such-component', `no component ${id} is loaded`)
      const iface = e.info.http
      if (iface === undefined) throw new RuntimeError('no-such-export', `${e.info.name} exports no wasi:http/incoming-handler`)
      const run = async (discardAfter: boolean): Promise<{ touched: boolean, instance: Instance }> => {
        // Unguessable, so no guest names another's exchange; randomUUID draws from a cached pool (no syscall per request).
        const key = crypto.randomUUID()
        let touched = false
        const touch = <A extends unknown[], R>(fn: (...a: A) => R) => (...a: A): R => { touched = true; return fn(...a) }
        exchanges.set(key, {
          head: exchange.head,
          read: touch(exchange.read),
          trailers: exchange.trailers,
          respond: touch(exchange.respond),
          respondError: touch(exchange.respondError),
          write: touch(exchange.write),
          finish: touch(exchange.finish)
        })
        try {
          const { instance, results } = await e.pool.run({ ...opts, iface, func: 'handle', params: [{ ...exchange.head, exchange: key }], discardAfter })
          // The exchange calls that rode on the end of the call (wasi-http.ts): their effects start now, in order.
          if (results.length > 0) exchangeCall('batch', [key, results[0]]).catch(() => {})
          return { touched, instance }
        } finally {
          exchanges.delete(key)
        }
      }
      if (e.httpSingleUse) { await run(true); return }
      const first = await run(false)
      if (first.touched) return
      // Returned without reading or answering: an instance that cannot take a second request (as StarlingMonkey's
      // fetch event, StarlingMonkey#247, when not seen at load). A fresh instance per request from now on; this request
      // runs again only if the component has no imports, through which the failed run might have done something.
      e.httpSingleUse = true
      init.logger?.info(`[${e.info.name}] serves one HTTP request per instance (its instance did not answer a second one): a fresh instance per request from now on`)
      void first.instance.terminate().catch(() => {})
      if (e.info.imports.interfaces.length === 0 && e.info.imports.functions.length === 0) await run(true)
    },

    components () {
      return [...components.values()].map(e => e.info)
    },

    stats (id) {
      const e = components.get(id)
      if (e === undefined) throw new RuntimeError('no-such-component', `no component ${id} is loaded`)
      return e.pool.stats()
    },

    get transpiles () { return cache.transpiles },

    get spareWorkers () { return spares.ready },

    get sharedWorkers () { return shared.threads }
  }

  /** A call whose parameters or results can hold resource handles: it runs on the instance that owns them, and records those it gives out. */
  async function callWithHandles (e: Entry, target: Target, func: string, params: unknown[], opts: CallOptions): Promise<unknown[]> {
    if ('drop' in target) {
      const h = params[0]
      if (params.length !== 1 || !(h instanceof Uint8Array)) throw new RuntimeError('invalid-params', `${func} takes one handle`)
      const owner = e.handles.get(handleKey(h))
      if (owner === undefined) throw new RuntimeError('invalid-params', `unknown ${target.drop.name} handle`)
      e.handles.delete(handleKey(h))
      owner.handles.delete(handleKey(h))
      if (owner.dead) return []
      await e.pool.run({ ...opts, iface: target.iface, func, params, affinity: owner })
      return []
    }

    const f = target.func
    let affinity: Instance | undefined
    const moved: string[] = []
    if (target.paramHandles) f.params.forEach((p, i) => {
      forEachHandle(p.type, params[i], (h, v) => {
        if (!e.exportedIds.has(h.resource.owner)) return
        if (!(v instanceof Uint8Array)) throw new RuntimeError('invalid-params', `${p.name}: a ${h.resource.name} handle must be a Uint8Array`)
        const key = handleKey(v)
        const owner = e.handles.get(key)
        if (owner === undefined) throw new RuntimeError('invalid-params', `${p.name}: unknown ${h.resource.name} handle`)
        if (affinity !== undefined && affinity !== owner) throw new RuntimeError('invalid-params', 'handles from different instances in one call')
        affinity = owner
        if (h.kind === 'own') moved.push(key)
      })
    })
    const { instance, results } = await e.pool.run({ ...opts, iface: target.iface, func, params, affinity })
    for (const key of moved) { e.handles.delete(key); instance.handles.delete(key) }
    const type = f.results[0]
    if (type !== undefined) {
      forEachHandle(type, results[0], (h, v) => {
        if (!e.exportedIds.has(h.resource.owner) || !(v instanceof Uint8Array)) return
        e.handles.set(handleKey(v), instance)
        instance.handles.add(handleKey(v))
      })
    }
    return results
  }
}
