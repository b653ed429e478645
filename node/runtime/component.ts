// Loads and inspects a component: checks the bytes, digests them, and resolves its imports and exports from its WIT.
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { ComponentDecodeError, decodeComponentWit, printWit, rootWorldId } from '../../protocol/wit/index.ts'
import type { Func, Interface, World } from '../../protocol/wit/model.ts'
import { RuntimeError } from './errors.ts'
import type { PlanInterface } from './messages.ts'
import type { TranspilePlan } from './transpile-cache.ts'

/** One side (imports or exports) of a component. */
export interface ComponentSurface {
  /** Interfaces other than WASI, resolved, with every function's signature. */
  readonly interfaces: readonly Interface[]
  /** Bare world functions (`export hello-world: func() -> string`). */
  readonly functions: readonly Func[]
  /** WASI interfaces the sandbox serves (`wasi:cli/environment@0.2.3`), not resolved here. */
  readonly wasi: readonly string[]
}

export interface ComponentInfo {
  /** sha256 of the bytes, lowercase hex: the component's id. */
  readonly digest: string
  readonly size: number
  /** The component's world as `componentWit` prints it. */
  readonly wit: string
  readonly world: World
  readonly imports: ComponentSurface
  readonly exports: ComponentSurface
}

const MAGIC = [0x00, 0x61, 0x73, 0x6d]

/** Rejects what is not a component before any decoder sees it. */
export function checkComponentBytes (bytes: Uint8Array, maxComponentBytes: number): void {
  if (bytes.byteLength > maxComponentBytes) {
    throw new RuntimeError('component-too-large', `component is ${bytes.byteLength} bytes, over maxComponentBytes (${maxComponentBytes})`)
  }
  if (bytes.byteLength < 8 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new RuntimeError('not-a-component', 'not WebAssembly: the file does not start with \\0asm')
  }
  const version = bytes[4] | (bytes[5] << 8)
  const layer = bytes[6] | (bytes[7] << 8)
  if (layer === 0) {
    throw new RuntimeError('not-a-component', `a core WebAssembly module (version ${version}), not a component: wrap it with \`wasm-tools component new\``)
  }
  if (layer !== 1) throw new RuntimeError('not-a-component', `unknown WebAssembly layer ${layer}`)
}

/** Reads a component from a path (checking its size first) or takes the bytes given. */
export async function readComponentSource (source: string | Uint8Array, maxComponentBytes: number): Promise<Uint8Array> {
  if (typeof source !== 'string') return source
  let bytes: Uint8Array
  try {
    const info = await stat(source)
    if (info.isDirectory()) throw new RuntimeError('not-a-file', `${source} is a directory, not a component file (give the .wasm file in it)`)
    if (info.size > maxComponentBytes) {
      throw new RuntimeError('component-too-large', `${source} is ${info.size} bytes, over maxComponentBytes (${maxComponentBytes})`)
    }
    const buf = await readFile(source)
    bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
  } catch (err) {
    throw fileError(source, err)
  }
  try {
    checkComponentBytes(bytes, maxComponentBytes)
  } catch (err) {
    // The bytes alone cannot say where they came from: name the file.
    if (err instanceof RuntimeError) throw new RuntimeError(err.code, `${source}: ${err.message}`, { cause: err })
    throw err
  }
  return bytes
}

/** A failed read as a runtime error naming the file, with a stable code instead of the system's errno. */
function fileError (file: string, err: unknown): unknown {
  if (err instanceof RuntimeError) return err
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOENT' || code === 'ENOTDIR') return new RuntimeError('file-not-found', `${file}: no such file`, { cause: err })
  if (code === 'EISDIR') return new RuntimeError('not-a-file', `${file} is a directory, not a component file`, { cause: err })
  if (code === 'EACCES' || code === 'EPERM') return new RuntimeError('unreadable-file', `${file}: permission denied`, { cause: err })
  return new RuntimeError('unreadable-file', `${file}: ${(err as Error).message}`, { cause: err })
}

export function digestOf (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** The WASI packages preview2-shim serves in the sandbox; other `wasi:` packages (keyvalue, config...) are ordinary imports. */
const sandboxWasi = /^wasi:(?:cli|clocks|filesystem|io|random|sockets|http)\//

/**
 * Reads the component's imports and exports straight from its binary (every
 * package it uses, no WIT sources needed), and prints them as WIT for people.
 */
export async function inspectComponent (bytes: Uint8Array, opts: { maxComponentBytes: number }): Promise<ComponentInfo> {
  checkComponentBytes(bytes, opts.maxComponentBytes)
  const digest = digestOf(bytes)
  let world: World | undefined
  let wit: string
  try {
    const decoded = decodeComponentWit(bytes)
    world = decoded.findWorld(rootWorldId)
    wit = printWit(decoded)
  } catch (err) {
    const code = err instanceof ComponentDecodeError && err.code === 'unsupported-component' ? 'unsupported-component' : 'invalid-component'
    throw new RuntimeError(code, `the component does not decode: ${firstLine(err)}`, { cause: err })
  }
  if (world === undefined) throw new RuntimeError('invalid-component', 'the component has no root world')
  return {
    digest,
    size: bytes.byteLength,
    wit,
    world,
    imports: surface(world.imports),
    exports: surface(world.exports)
  }
}

function firstLine (err: unknown): string {
  const msg = err instanceof Error ? err.message : typeof err === 'object' && err !== null && 'payload' in err ? String(err.payload) : String(err)
  return msg.split('\n').filter(l => l.trim() !== '').slice(0, 3).join(' ')
}

/**
 * QuickJS-built components (componentize-qjs) export `init(shim, script, entry-path, disable-gc)`,
 * which evaluates whatever JavaScript it is given: never exposed, advertised or callable.
 */
function isEvalBackdoor (f: Func): boolean {
  return f.name === 'init' && f.params.map(p => p.name).join() === 'shim,script,entry-path,disable-gc'
}

function surface (items: World['imports']): ComponentSurface {
  const interfaces: Interface[] = []
  const functions: Func[] = []
  const wasi: string[] = []
  for (const item of items.values()) {
    if (item.kind === 'interface' && sandboxWasi.test(item.interface.id)) wasi.push(item.interface.id)
    else if (item.kind === 'interface') interfaces.push(item.interface)
    else if (item.kind === 'function' && !isEvalBackdoor(item.func)) functions.push(item.func)
  }
  return { interfaces, functions, wasi }
}

function planOf (s: ComponentSurface): PlanInterface[] {
  const plans: PlanInterface[] = s.interfaces.map(i => ({
    id: i.id,
    funcs: [...i.functions.values()],
    resources: [...i.types.entries()].filter(([, t]) => t.kind === 'resource').map(([name]) => name)
  }))
  if (s.functions.length > 0) plans.push({ id: '', funcs: [...s.functions], resources: [] })
  return plans
}

/** The `wasi:http/incoming-handler@0.2.x` a component exports (an HTTP component: the gateway's requests go to it), if any. */
export function httpExportOf (info: Pick<ComponentInfo, 'exports'>): string | undefined {
  return info.exports.wasi.find(id => /^wasi:http\/incoming-handler@0\.2\.\d+$/.test(id))
}

/**
 * Whether an HTTP component serves one request per instance: StarlingMonkey's fetch event (componentize-js 0.23)
 * cannot take a second request on an instance (StarlingMonkey#247). Its JS source is embedded in the component,
 * so the listener is seen in the bytes.
 */
export function usesFetchEvent (bytes: Uint8Array): boolean {
  return /addEventListener\(\s*['"`]fetch['"`]/.test(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'))
}

/** What the worker needs to call exports and serve imports. */
export function workerPlan (info: ComponentInfo): { exports: PlanInterface[], imports: PlanInterface[], httpExport?: string } {
  const httpExport = httpExportOf(info)
  return { exports: planOf(info.exports), imports: planOf(info.imports), ...(httpExport !== undefined ? { httpExport } : {}) }
}

/**
 * The stream methods an HTTP component's bodies go through (runtime/wasi-http.ts): each may wait on the exchange,
 * so each is a JSPI-suspending import. Stdout's streams share them and simply never wait.
 */
const httpStreamMethods = [
  '[method]input-stream.read', '[method]input-stream.blocking-read', '[method]input-stream.skip', '[method]input-stream.blocking-skip',
  '[method]output-stream.write', '[method]output-stream.blocking-write-and-flush', '[method]output-stream.write-zeroes',
  '[method]output-stream.blocking-write-zeroes-and-flush', '[method]output-stream.splice', '[method]output-stream.blocking-splice'
]

function jspiNames (s: ComponentSurface): string[] {
  const names: string[] = []
  for (const i of s.interfaces) {
    // Constructors stay synchronous: a JS `new` cannot be awaited.
    for (const f of i.functions.values()) if (f.kind !== 'constructor') names.push(`${i.id}#${f.name}`)
  }
  for (const f of s.functions) names.push(f.name)
  return names.sort()
}

/** Every non-WASI import and every export is async under JSPI; an HTTP component's handler and body streams too, and a blobstore component's streams. */
export function transpilePlan (info: ComponentInfo): TranspilePlan {
  const asyncImports = jspiNames(info.imports)
  const asyncExports = jspiNames(info.exports)
  const http = httpExportOf(info)
  // wasi:blobstore values' streams wait on the host too (runtime/host/blobstore-guest.ts)
  const blobstore = info.imports.interfaces.some(i => i.id.startsWith('wasi:blobstore/types@'))
  if (http !== undefined) asyncExports.push(`${http}#handle`)
  if (http !== undefined || blobstore) {
    for (const id of info.imports.wasi) if (id.startsWith('wasi:io/streams@')) for (const m of httpStreamMethods) asyncImports.push(`${id}#${m}`)
    asyncImports.sort()
    asyncExports.sort()
  }
  return { asyncImports, asyncExports }
}

