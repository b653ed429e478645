// The body of an instance worker: instantiates one transpiled component in its own sandbox and runs the calls it is sent, one at a time.
import { parentPort, workerData } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'
import type { Func, HandleType, Resource } from '../../protocol/wit/model.ts'
import { createWasiImports } from './sandbox.ts'
import { camelCase, forEachHandle, handleKey, mapHandles, pascalCase } from './values.ts'
import type { RuntimeErrorCode } from './errors.ts'
import type { FromWorker, ToWorker, WorkerInit } from './messages.ts'
import { wasm, type WasmInstance, type WasmMemory, type WasmModule } from './wasm.ts'

const init = workerData as WorkerInit
const port = parentPort ?? (() => { throw new Error('worker.ts must run in a worker thread') })()
const post = (msg: FromWorker): void => { port.postMessage(msg) }

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

const exportedIds = new Set(init.exports.map(i => i.id))
const HANDLE = Symbol('wasmesh.handle')
interface Wrapper { [HANDLE]: Uint8Array | Promise<Uint8Array> }

/** Exported resources this instance created and lent out, by handle. */
const table = new Map<string, object>()
let failure: CallFailure | null = null
/** The call being run and whether its answer was sent. */
let current: { id: number, answered: boolean } | null = null
let nextImportId = 0
const pendingImports = new Map<number, { resolve: (r: unknown[]) => void, reject: (e: Error) => void }>()
const importClasses = new Map<string, Map<string, { prototype: object }>>()

function isExported (h: HandleType): boolean {
  return exportedIds.has(h.resource.owner)
}

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
  if (!isExported(h)) return wrapImported(h.resource, value)
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

function rpcImport (iface: string, func: string, params: unknown[]): Promise<unknown[]> {
  const id = nextImportId++
  return new Promise((resolve, reject) => {
    pendingImports.set(id, { resolve, reject })
    post({ type: 'import', id, iface, func, params })
  })
}

async function callImport (iface: string, func: Func, args: unknown[]): Promise<unknown> {
  if (failure !== null) throw failure
  await settleWrappers(func.params, args)
  const params = func.params.map((p, i) => mapHandles(p.type, args[i], toWire))
  let results: unknown[]
  try {
    results = await rpcImport(iface, func.name, params)
  } catch (err) {
    failure = err instanceof CallFailure ? err : new CallFailure('trap', String(err), true)
    // jco may leave the export pending forever once an import failed: answer now; the instance is discarded.
    answer({ ok: false, code: failure.code, message: failure.message, discard: true })
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

function importedResourceClass (iface: string, name: string, funcs: readonly Func[]): { prototype: object } {
  const own = funcs.filter(f => f.resource === name)
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
      void Promise.resolve(handle).then(bytes => {
        post({ type: 'drop', iface, func: `[resource-drop]${name}`, params: [bytes] })
      }, () => {})
    }
  } as unknown as { prototype: Record<string, unknown> } & Record<string, unknown>
  for (const f of own) {
    const short = f.name.slice(f.name.indexOf('.') + 1)
    if (f.kind === 'method') {
      cls.prototype[camelCase(short)] = async function (this: unknown, ...args: unknown[]) { return await callImport(iface, f, [this, ...args]) }
    } else if (f.kind === 'static') {
      cls[camelCase(short)] = importFunction(iface, f)
    }
  }
  return cls
}

function unversioned (id: string): string {
  const at = id.indexOf('@')
  return at < 0 ? id : id.slice(0, at)
}

function buildImports (): Record<string, unknown> {
  const imports: Record<string, unknown> = createWasiImports(init.grants)
  for (const plan of init.imports) {
    if (plan.id === '') {
      for (const f of plan.funcs) imports[f.name] = { default: importFunction('', f) }
      continue
    }
    const obj: Record<string, unknown> = {}
    const classes = new Map<string, { prototype: object }>()
    for (const r of plan.resources) {
      const cls = importedResourceClass(plan.id, r, plan.funcs)
      classes.set(r, cls)
      obj[pascalCase(r)] = cls
    }
    importClasses.set(plan.id, classes)
    for (const f of plan.funcs) if (f.kind === 'freestanding') obj[camelCase(f.name)] = importFunction(plan.id, f)
    imports[unversioned(plan.id)] = obj
  }
  return imports
}

type Callable = (...args: unknown[]) => unknown
let root: Record<string, unknown> = {}
const memories: WasmMemory[] = []
const plans = new Map<string, Map<string, Func>>()
for (const p of init.exports) plans.set(p.id, new Map(p.funcs.map(f => [f.name, f])))

function target (iface: string, func: Func, args: unknown[]): unknown {
  const ns = (iface === '' ? root : root[iface]) as Record<string, unknown> | undefined
  if (ns === undefined) throw new CallFailure('no-such-export', `no export ${iface}`, false)
  if (func.kind === 'freestanding') return (ns[camelCase(func.name)] as Callable)(...args)
  const cls = ns[pascalCase(func.resource ?? '')] as (Callable & (new (...a: unknown[]) => object)) | undefined
  if (cls === undefined) throw new CallFailure('no-such-export', `no resource ${func.resource ?? ''} in ${iface}`, false)
  const short = camelCase(func.name.slice(func.name.indexOf('.') + 1))
  if (func.kind === 'constructor') return new cls(...args)
  if (func.kind === 'static') return (cls as unknown as Record<string, Callable>)[short](...args)
  const [self, ...rest] = args
  return ((self as Record<string, Callable>)[short]).apply(self, rest)
}

function isComponentError (err: unknown): err is Error & { payload: unknown } {
  return err instanceof Error && Object.hasOwn(err, 'payload')
}

function memoryBytes (): number {
  let n = 0
  for (const m of memories) n += m.buffer.byteLength
  return n
}

async function runCall (iface: string, name: string, params: unknown[]): Promise<unknown[]> {
  if (name.startsWith('[resource-drop]')) {
    const h = params[0]
    const obj = h instanceof Uint8Array ? table.get(handleKey(h)) : undefined
    if (obj === undefined) throw new CallFailure('invalid-params', 'unknown handle', false)
    table.delete(handleKey(h as Uint8Array))
    const dispose = (obj as { [Symbol.dispose]?: () => void })[Symbol.dispose]
    if (typeof dispose === 'function') dispose.call(obj)
    return []
  }
  const func = plans.get(iface)?.get(name)
  if (func === undefined) throw new CallFailure('no-such-export', `no export ${iface}#${name}`, false)
  const args = func.params.map((p, i) => mapHandles(p.type, params[i], fromWire))
  const type = func.results[0]
  let value: unknown
  try {
    value = await target(iface, func, args)
  } catch (err) {
    if (failure !== null) throw failure
    if (err instanceof CallFailure) throw err
    if (type?.kind === 'result' && isComponentError(err)) {
      return [{ tag: 'err', val: type.err == null ? undefined : mapHandles(type.err, err.payload, toWire) }]
    }
    throw new CallFailure('trap', err instanceof Error ? err.message : String(err), true)
  }
  if (failure !== null) throw failure
  if (type === undefined) return []
  if (type.kind === 'result') return [{ tag: 'ok', val: type.ok == null ? undefined : mapHandles(type.ok, value, toWire) }]
  return [mapHandles(type, value, toWire)]
}

type Answer = { ok: true, results: unknown[] } | { ok: false, code: RuntimeErrorCode, message: string, discard: boolean }

function answer (a: Answer): void {
  if (current === null || current.answered) return
  current.answered = true
  post({ type: 'result', id: current.id, ...a })
}

async function onCall (msg: Extract<ToWorker, { type: 'call' }>): Promise<void> {
  failure = null
  current = { id: msg.id, answered: false }
  try {
    const results = await runCall(msg.iface, msg.func, msg.params)
    if (memoryBytes() > init.maxMemoryBytes) {
      answer({ ok: false, code: 'trap', message: `instance memory ${memoryBytes()} bytes is over maxInstanceMemoryBytes`, discard: true })
    } else {
      answer({ ok: true, results })
    }
  } catch (err) {
    const f = err instanceof CallFailure ? err : new CallFailure('trap', String(err), true)
    answer({ ok: false, code: f.code, message: f.message, discard: f.discard })
  } finally {
    failure = null
    current = null
  }
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'call') {
    void onCall(msg)
  } else if (msg.type === 'import-result') {
    const p = pendingImports.get(msg.id)
    if (p === undefined) return
    pendingImports.delete(msg.id)
    if (msg.ok) p.resolve(msg.results)
    else p.reject(new CallFailure(msg.code, msg.message, true))
  }
})

try {
  const started = performance.now()
  const mod = await import(init.entryUrl) as {
    instantiate: (get: (name: string) => WasmModule, imports: Record<string, unknown>,
      core: (m: WasmModule, i: object) => Promise<WasmInstance>) => Promise<Record<string, unknown>>
  }
  root = await mod.instantiate(name => {
    const m = init.modules[name]
    if (m === undefined) throw new Error(`missing core module ${name}`)
    return m
  }, buildImports(), async (m, imports) => {
    const instance = await wasm.instantiate(m, imports)
    for (const v of Object.values(instance.exports)) if (v instanceof wasm.Memory) memories.push(v)
    return instance
  })
  post({ type: 'ready', instantiateMs: performance.now() - started })
} catch (err) {
  post({ type: 'init-error', message: err instanceof Error ? err.message : String(err) })
}

