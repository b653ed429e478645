// One instantiated component and the calls into it, independent of the thread it runs on: jco's conventions, the resource handle table, imports.
import { performance } from 'node:perf_hooks'
import type { Func, HandleType, Resource, Type } from '../../protocol/wit/model.ts'
import { forEachHandle, funcHandles, handleKey, mapHandles } from './values.ts'
import { toJsClassName, toJsName } from '../../protocol/jco-names.ts'
import { unversioned } from '../../protocol/versions.ts'
import type { RuntimeErrorCode } from './errors.ts'
import type { PlanInterface } from './messages.ts'
import { wasm, type WasmInstance, type WasmMemory, type WasmModule } from './wasm.ts'
import { createIncomingHttp, type HttpRequestHead } from './wasi-http.ts'
import { createBlobstoreGuest } from './host/blobstore-guest.ts'

/** What instantiating a transpiled component needs, wherever it runs. */
export interface GuestPlan {
  /** file: URL of the transpiled component's JS. */
  readonly entryUrl: string
  /** Compiled core modules by the file name the transpiled JS asks for. */
  readonly modules: Readonly<Record<string, WasmModule>>
  readonly exports: readonly PlanInterface[]
  /** Non-WASI imports. */
  readonly imports: readonly PlanInterface[]
  readonly maxMemoryBytes: number
  /** The `wasi:http/incoming-handler@0.2.x` the component exports, if any: its `handle` takes an `HttpRequestHead`. */
  readonly httpExport?: string
}

/** What the guest reaches outside itself. */
export interface GuestHost {
  /** The WASI half of the import object (sandbox.ts). */
  readonly wasi: Record<string, unknown>
  /** A non-WASI import: handles as wire bytes. A rejection fails the call in flight and discards the instance. */
  readonly importCall: (iface: string, func: string, params: unknown[]) => Promise<unknown[]>
  /** The guest dropped an imported resource (`[resource-drop]r`); nobody waits for the answer. */
  readonly drop: (iface: string, func: string, params: unknown[]) => void
}

export type Answer =
  | { readonly ok: true, readonly results: unknown[] }
  | { readonly ok: false, readonly code: RuntimeErrorCode, readonly message: string, readonly discard: boolean }

export interface Guest {
  /** Importing the transpiled JS and instantiating, in ms. */
  readonly instantiateMs: number
  /** Runs one export call (one at a time); `done` is called exactly once. */
  call (iface: string, func: string, params: unknown[], done: (a: Answer) => void): void
}

/** A failure the guest must not be able to swallow: it fails the current call whatever the guest does with it. */
class CallFailure extends Error {
  readonly code: RuntimeErrorCode
  readonly discard: boolean
  constructor (code: RuntimeErrorCode, message: string, discard: boolean) {
    super(message)
    this.code = code
    this.discard = discard
  }
}

/** An import's rejection as the failure it causes: the instance is discarded whatever the code. */
export function importFailure (code: RuntimeErrorCode, message: string): Error {
  return new CallFailure(code, message, true)
}

const HANDLE = Symbol('wasmesh.handle')
interface Wrapper { [HANDLE]: Uint8Array | Promise<Uint8Array> }
type Callable = (...args: unknown[]) => unknown

function isComponentError (err: unknown): err is Error & { payload: unknown } {
  return err instanceof Error && Object.hasOwn(err, 'payload')
}

/** Instantiates the transpiled component with `host`'s imports. */
export async function instantiateGuest (plan: GuestPlan, host: GuestHost): Promise<Guest> {
  const exportedIds = new Set(plan.exports.map(i => i.id))
  /** Exported resources this instance created and lent out, by handle. */
  const table = new Map<string, object>()
  let failure: CallFailure | null = null
  /** Settles the call being run; set for its whole duration. */
  let settleCurrent: ((a: Answer) => void) | null = null
  const importClasses = new Map<string, Map<string, { prototype: object }>>()
  const memories: WasmMemory[] = []
  const funcs = new Map<string, Map<string, Func>>()
  for (const p of plan.exports) funcs.set(p.id, new Map(p.funcs.map(f => [f.name, f])))
  let root: Record<string, unknown> = {}

  function newHandle (obj: object): Uint8Array {
    const handle = crypto.getRandomValues(new Uint8Array(16))
    table.set(handleKey(handle), obj)
    return handle
  }

  function wrapImported (resource: Resource, handle: unknown): unknown {
    if (!(handle instanceof Uint8Array)) throw new CallFailure('invalid-params', `a handle of ${resource.name} must be bytes`, false)
    const cls = importClasses.get(resource.owner)?.get(resource.name)
    if (cls === undefined) throw new CallFailure('invalid-params', `no imported resource ${resource.owner}#${resource.name}`, false)
    const obj = Object.create(cls.prototype) as Wrapper
    obj[HANDLE] = handle
    return obj
  }

  /** Wire -> guest: handles become the objects they stand for. */
  function fromWire (h: HandleType, value: unknown): unknown {
    if (!exportedIds.has(h.resource.owner)) return wrapImported(h.resource, value)
    if (!(value instanceof Uint8Array)) throw new CallFailure('invalid-params', `a handle of ${h.resource.name} must be bytes`, false)
    const key = handleKey(value)
    const obj = table.get(key)
    if (obj === undefined) throw new CallFailure('invalid-params', `unknown ${h.resource.name} handle`, false)
    if (h.kind === 'own') table.delete(key)
    return obj
  }

  /** Guest -> wire: objects become handles (imported wrappers give back the handle they were made from). */
  function toWire (h: HandleType, value: unknown): unknown {
    if (typeof value === 'object' && value !== null && HANDLE in value) return (value as Wrapper)[HANDLE]
    if (typeof value !== 'object' || value === null) throw new CallFailure('trap', `guest returned a non-object for ${h.resource.name}`, true)
    return newHandle(value)
  }

  async function settleWrappers (funcParams: Func['params'], args: unknown[]): Promise<void> {
    const pending: Array<Promise<unknown>> = []
    funcParams.forEach((p, i) => {
      forEachHandle(p.type, args[i], (_, v) => {
        const h = (typeof v === 'object' && v !== null && HANDLE in v) ? (v as Wrapper)[HANDLE] : undefined
        if (h instanceof Promise) pending.push(h.then(bytes => { (v as Wrapper)[HANDLE] = bytes }))
      })
    })
    await Promise.all(pending)
  }

  async function callImport (iface: string, func: Func, args: unknown[]): Promise<unknown> {
    if (failure !== null) throw failure
    await settleWrappers(func.params, args)
    const params = func.params.map((p, i) => mapHandles(p.type, args[i], toWire))
    let results: unknown[]
    try {
      results = await host.importCall(iface, func.name, params)
    } catch (err) {
      failure = err instanceof CallFailure ? err : new CallFailure('trap', String(err), true)
      // jco may leave the export pending forever once an import failed: answer now; the instance is discarded.
      settleCurrent?.({ ok: false, code: failure.code, message: failure.message, discard: true })
      throw failure
    }
    const type = func.results[0]
    if (type === undefined) return undefined
    // A top-level result goes back tagged: jco's lowering accepts {tag, val} as is.
    return mapHandles(type, results[0], fromWire)
  }

  function importFunction (iface: string, func: Func): (...args: unknown[]) => Promise<unknown> {
    return async (...args) => await callImport(iface, func, args)
  }

  function importedResourceClass (iface: string, name: string, all: readonly Func[]): { prototype: object } {
    const own = all.filter(f => f.resource === name)
    const ctor = own.find(f => f.kind === 'constructor')
    const cls = class {
      [HANDLE]: Uint8Array | Promise<Uint8Array>
      constructor (...args: unknown[]) {
        if (ctor === undefined) throw new Error(`${name} has no constructor`)
        this[HANDLE] = callImport(iface, ctor, args).then(h => (h as Wrapper)[HANDLE] as Uint8Array)
        this[HANDLE].catch(() => {})
      }

      [Symbol.dispose] (): void {
        const handle = this[HANDLE]
        void Promise.resolve(handle).then(bytes => { host.drop(iface, `[resource-drop]${name}`, [bytes]) }, () => {})
      }
    } as unknown as { prototype: Record<string, unknown> } & Record<string, unknown>
    for (const f of own) {
      const short = f.name.slice(f.name.indexOf('.') + 1)
      if (f.kind === 'method') {
        cls.prototype[toJsName(short)] = async function (this: unknown, ...args: unknown[]) { return await callImport(iface, f, [this, ...args]) }
      } else if (f.kind === 'static') {
        cls[toJsName(short)] = importFunction(iface, f)
      }
    }
    return cls
  }

  const httpExport = plan.httpExport
  const http = httpExport === undefined ? undefined : createIncomingHttp(host.importCall, host.wasi)

  /** wasi:blobstore values hand out wasi:io streams, which are made here (host/blobstore-guest.ts). */
  const blobstore = createBlobstoreGuest(host.importCall, host.drop, async obj => await ((obj as Wrapper)[HANDLE]))

  function buildImports (): Record<string, unknown> {
    const imports: Record<string, unknown> = { ...host.wasi, ...http?.imports }
    for (const p of plan.imports) {
      if (p.id === '') {
        for (const f of p.funcs) imports[f.name] = { default: importFunction('', f) }
        continue
      }
      const obj: Record<string, unknown> = {}
      const classes = new Map<string, { prototype: object }>()
      for (const r of p.resources) {
        const cls = importedResourceClass(p.id, r, p.funcs)
        classes.set(r, cls)
        obj[toJsClassName(r)] = cls
      }
      importClasses.set(p.id, classes)
      if (unversioned(p.id) === 'wasi:blobstore/types') blobstore.patch(p.id, classes as Map<string, { prototype: Record<string, unknown> } & Record<string, unknown>>)
      for (const f of p.funcs) if (f.kind === 'freestanding') obj[toJsName(f.name)] = importFunction(p.id, f)
      imports[unversioned(p.id)] = obj
    }
    return imports
  }

  /** An export resolved once: the JS function behind it and where handles can occur. */
  interface Plan {
    readonly func: Func
    readonly invoke: (args: unknown[]) => unknown
    readonly paramHandles: boolean
    readonly result: Type | undefined
    readonly resultHandles: boolean
  }
  const resolved = new Map<Func, Plan>()

  function planOf (iface: string, func: Func): Plan {
    let plan = resolved.get(func)
    if (plan !== undefined) return plan
    const ns = (iface === '' ? root : root[iface]) as Record<string, unknown> | undefined
    if (ns === undefined) throw new CallFailure('no-such-export', `no export ${iface}`, false)
    let invoke: (args: unknown[]) => unknown
    if (func.kind === 'freestanding') {
      const fn = ns[toJsName(func.name)] as Callable
      invoke = args => fn(...args)
    } else {
      const cls = ns[toJsClassName(func.resource ?? '')] as (Callable & (new (...a: unknown[]) => object)) | undefined
      if (cls === undefined) throw new CallFailure('no-such-export', `no resource ${func.resource ?? ''} in ${iface}`, false)
      const short = toJsName(func.name.slice(func.name.indexOf('.') + 1))
      if (func.kind === 'constructor') {
        invoke = args => new cls(...args)
      } else if (func.kind === 'static') {
        invoke = args => (cls as unknown as Record<string, Callable>)[short](...args)
      } else {
        invoke = ([self, ...rest]) => ((self as Record<string, Callable>)[short]).apply(self, rest)
      }
    }
    const result = func.results[0]
    const handles = funcHandles(func)
    plan = { func, invoke, paramHandles: handles.params, result, resultHandles: handles.results }
    resolved.set(func, plan)
    return plan
  }

  function memoryBytes (): number {
    let n = 0
    for (const m of memories) n += m.buffer.byteLength
    return n
  }

  function dropResource (params: unknown[]): unknown[] {
    const h = params[0]
    const obj = h instanceof Uint8Array ? table.get(handleKey(h)) : undefined
    if (obj === undefined) throw new CallFailure('invalid-params', 'unknown handle', false)
    table.delete(handleKey(h as Uint8Array))
    const dispose = (obj as { [Symbol.dispose]?: () => void })[Symbol.dispose]
    if (typeof dispose === 'function') dispose.call(obj)
    return []
  }

  /** One HTTP request through the component's incoming-handler: a trap fails the call, the response went out through the exchange. */
  async function runHttp (head: HttpRequestHead): Promise<unknown[]> {
    const handler = root[httpExport ?? ''] as { handle: (req: object, out: object) => unknown } | undefined
    if (http === undefined || handler === undefined) throw new CallFailure('no-such-export', 'no export wasi:http/incoming-handler', false)
    let held: unknown[] | undefined
    try {
      held = await http.handle(handler, head)
    } catch (err) {
      if (failure !== null) throw failure
      if (err instanceof CallFailure) throw err
      throw new CallFailure('trap', trapMessage(err), true)
    }
    if (failure !== null) throw failure
    // The exchange calls not sent yet ride on the result: the runtime applies them as one batch.
    return held === undefined ? [] : [held]
  }

  async function runCall (iface: string, name: string, params: unknown[]): Promise<unknown[]> {
    if (name.startsWith('[resource-drop]')) return dropResource(params)
    if (iface === httpExport && name === 'handle') return await runHttp(params[0] as HttpRequestHead)
    const func = funcs.get(iface)?.get(name)
    if (func === undefined) throw new CallFailure('no-such-export', `no export ${iface}#${name}`, false)
    const plan = planOf(iface, func)
    const args = plan.paramHandles ? func.params.map((p, i) => mapHandles(p.type, params[i], fromWire)) : params
    const type = plan.result
    let value: unknown
    try {
      value = await plan.invoke(args)
    } catch (err) {
      if (failure !== null) throw failure
      if (err instanceof CallFailure) throw err
      if (type?.kind === 'result' && isComponentError(err)) {
        return [{ tag: 'err', val: type.err == null ? undefined : mapHandles(type.err, err.payload, toWire) }]
      }
      throw new CallFailure('trap', trapMessage(err), true)
    }
    if (failure !== null) throw failure
    if (type === undefined) return []
    if (type.kind === 'result') return [{ tag: 'ok', val: type.ok == null ? undefined : plan.resultHandles ? mapHandles(type.ok, value, toWire) : value }]
    return [plan.resultHandles ? mapHandles(type, value, toWire) : value]
  }

  /** A trap's message, with how much linear memory the guest held then (an allocator refused at the limit traps too). */
  function trapMessage (err: unknown): string {
    const message = err instanceof Error ? err.message : String(err)
    return `${message} (linear memory ${memoryBytes()} bytes of maxInstanceMemoryBytes ${plan.maxMemoryBytes})`
  }

  function answerOf (results: unknown[]): Answer {
    const bytes = memoryBytes()
    return bytes > plan.maxMemoryBytes
      ? { ok: false, code: 'trap', message: `instance memory ${bytes} bytes is over maxInstanceMemoryBytes`, discard: true }
      : { ok: true, results }
  }

  function failureAnswer (err: unknown): Answer {
    const f = err instanceof CallFailure ? err : new CallFailure('trap', String(err), true)
    return { ok: false, code: f.code, message: f.message, discard: f.discard }
  }

  const started = performance.now()
  const mod = await import(plan.entryUrl) as {
    instantiate: (get: (name: string) => WasmModule, imports: Record<string, unknown>,
      core: (m: WasmModule, i: object) => Promise<WasmInstance>) => Promise<Record<string, unknown>>
  }
  root = await mod.instantiate(name => {
    const m = plan.modules[name]
    if (m === undefined) throw new Error(`missing core module ${name}`)
    return m
  }, buildImports(), async (m, imports) => {
    const instance = await wasm.instantiate(m, imports)
    for (const v of Object.values(instance.exports)) if (v instanceof wasm.Memory) memories.push(v)
    return instance
  })
  const instantiateMs = performance.now() - started

  return {
    instantiateMs,
    call (iface, func, params, done) {
      failure = null
      let answered = false
      const settle = (a: Answer): void => {
        if (answered) return
        answered = true
        settleCurrent = null
        // `failure` stays set: a discarded guest that runs on must not reach its imports again.
        done(a)
      }
      settleCurrent = settle
      runCall(iface, func, params).then(results => { settle(answerOf(results)) }, (err: unknown) => { settle(failureAnswer(err)) })
    }
  }
}
