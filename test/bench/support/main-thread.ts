// Runs a transpiled component in the bench's own thread the way an instance worker does, and spawns bare instance workers, to price the runtime's isolation.
import { readFile, writeFile } from 'node:fs/promises'
import { inspectComponent, transpilePlan, workerPlan, type ComponentInfo } from '../../../node/runtime/component.ts'
import { defaultRuntimeLimits } from '../../../node/runtime/limits.ts'
import { WorkerInstance } from '../../../node/runtime/instance.ts'
import type { WorkerInit } from '../../../node/runtime/messages.ts'
import { createWasiImports } from '../../../node/runtime/sandbox.ts'
import { createTranspileCache, type TranspiledComponent } from '../../../node/runtime/transpile-cache.ts'
import { toJsName } from '../../../protocol/jco-names.ts'
import { wasm, type WasmInstance, type WasmModule } from '../../../node/runtime/wasm.ts'

/** A component inspected, transpiled (through the same cache as the runtime) and its core modules compiled. */
export interface PreparedComponent {
  readonly info: ComponentInfo
  readonly transpiled: TranspiledComponent
  readonly modules: Readonly<Record<string, WasmModule>>
}

type Root = Record<string, unknown>
type Instantiate = (get: (name: string) => WasmModule, imports: Record<string, unknown>,
  core: (m: WasmModule, i: object) => Promise<WasmInstance>) => Promise<Root>

export async function prepareComponent (path: string, cacheDir: string): Promise<PreparedComponent> {
  const bytes = new Uint8Array(await readFile(path))
  const info = await inspectComponent(bytes, { maxComponentBytes: defaultRuntimeLimits.maxComponentBytes })
  if (info.imports.interfaces.length > 0 || info.imports.functions.length > 0) {
    throw new Error(`${path} has non-WASI imports: a main-thread instance here serves WASI only`)
  }
  const transpiled = await createTranspileCache({ cacheDir }).get(info.digest, bytes, transpilePlan(info))
  const modules: Record<string, WasmModule> = {}
  for (const [file, data] of Object.entries(transpiled.coreFiles)) modules[file] = await wasm.compile(data)
  return { info, transpiled, modules }
}

let freshImports = 0

/**
 * Instantiates in this thread with the sandbox's WASI imports, timing what the
 * worker's `instantiateMs` times: importing the generated JS (a fresh module
 * each time, as in a new worker), building the imports and instantiating.
 */
export async function instantiateHere (p: PreparedComponent, entryUrl = p.transpiled.entryUrl): Promise<{ root: Root, ms: number }> {
  const started = performance.now()
  const mod = await import(`${entryUrl}?bench=${freshImports++}`) as { instantiate: Instantiate }
  const root = await mod.instantiate(name => {
    const m = p.modules[name]
    if (m === undefined) throw new Error(`missing core module ${name}`)
    return m
  }, createWasiImports({}, { thread: 'shared' }), async (m, imports) => await wasm.instantiate(m, imports))
  return { root, ms: performance.now() - started }
}

/** The jco export for `iface` ('' for a world function) and component-model `func` name, on a main-thread instance. */
export function exportedFunction (root: Root, iface: string, func: string): (...args: unknown[]) => Promise<unknown> {
  const ns = (iface === '' ? root : root[iface]) as Record<string, unknown> | undefined
  const f = ns?.[toJsName(func)]
  if (typeof f !== 'function') throw new Error(`no export ${iface === '' ? '' : iface + '#'}${func}`)
  return async (...args) => await (f as (...a: unknown[]) => unknown)(...args)
}

/** Starts one bare instance worker for the component, as the runtime's pool does, timing it from the main thread. */
export async function spawnInstance (p: PreparedComponent): Promise<{ instance: WorkerInstance, wallMs: number }> {
  const init: WorkerInit = {
    name: 'bench',
    entryUrl: p.transpiled.entryUrl,
    modules: p.modules,
    ...workerPlan(p.info),
    grants: {},
    maxMemoryBytes: defaultRuntimeLimits.maxInstanceMemoryBytes
  }
  const started = performance.now()
  const instance = await WorkerInstance.spawn(init, { heapMb: defaultRuntimeLimits.instanceHeapMb, instantiateTimeoutMs: defaultRuntimeLimits.instantiateTimeoutMs }, {
    log: () => {},
    onImport: async () => { throw new Error('the bench serves no imports') },
    onDrop: () => {}
  })
  return { instance, wallMs: performance.now() - started }
}

/**
 * The generated JS as jco-transpile wrote it, before the transpile cache's patch (which reads
 * JCO_DEBUG once instead of on every debug-log call), written beside the entry: the baseline of
 * "calling the jco export directly" without our change to jco's output.
 */
export async function stockEntryUrl (p: PreparedComponent): Promise<string> {
  const patched = await readFile(new URL(p.transpiled.entryUrl), 'utf8')
  const header = 'const __wasmeshJcoDebug = Boolean(globalThis?.process?.env?.JCO_DEBUG);\n'
  if (!patched.startsWith(header)) throw new Error('the cached component.js does not carry the debug-log patch')
  const stock = patched.slice(header.length).replaceAll('if (!__wasmeshJcoDebug) { return; }', 'if (!globalThis?.process?.env?.JCO_DEBUG) { return; }')
  const url = new URL('component.stock.js', p.transpiled.entryUrl)
  await writeFile(url, stock)
  return url.href
}
