// Transpiles components with jco-transpile and keeps the output on disk, keyed by digest, jco version and options, verified on every use.
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createRequire } from 'node:module'
import { RuntimeError } from './errors.ts'

/** Which imports and exports are async (JSPI), as `ns:pkg/iface@ver#func` names. */
export interface TranspilePlan {
  readonly asyncImports: readonly string[]
  readonly asyncExports: readonly string[]
}

export interface TranspiledComponent {
  /** The cache entry's folder. */
  readonly dir: string
  /** file: URL of the generated ES module. */
  readonly entryUrl: string
  /** Core wasm files by the name the generated JS asks for. */
  readonly coreFiles: Readonly<Record<string, Uint8Array>>
  /** Whether this load transpiled (false: served from the cache). */
  readonly fresh: boolean
}

export interface TranspileCache {
  get (digest: string, bytes: Uint8Array, plan: TranspilePlan): Promise<TranspiledComponent>
  /** How many transpiles this cache has run (for tests and metrics). */
  readonly transpiles: number
}

export interface TranspileCacheInit {
  /** Default: `$XDG_CACHE_HOME/wasmesh`, else `~/.cache/wasmesh`. */
  readonly cacheDir?: string
}

const ENTRY = 'component.js'

/** Bumped whenever `patchGeneratedJs` changes what it writes: another version is another cache entry. */
const PATCH_VERSION = 1

/** jco-transpile 0.15's debug hook, called dozens of times per export call: each reads `process.env`, a host call. */
const DEBUG_CHECK = 'if (!globalThis?.process?.env?.JCO_DEBUG) { return; }'

/**
 * Reads JCO_DEBUG once when the module loads instead of on every debug-log call: measured here, that
 * halves the cost of a call into a component (a WAT add 4.8 -> 2.4 µs, a StarlingMonkey echo
 * 58 -> 30 µs). Output without the check is left as it is. Upstream: jco's `_debugLog` should test a
 * module-level constant.
 */
export function patchGeneratedJs (js: string): string {
  if (!js.includes(DEBUG_CHECK)) return js
  return 'const __wasmeshJcoDebug = Boolean(globalThis?.process?.env?.JCO_DEBUG);\n' +
    js.replaceAll(DEBUG_CHECK, 'if (!__wasmeshJcoDebug) { return; }')
}
const MANIFEST = 'manifest.json'

interface Manifest {
  readonly key: string
  readonly files: Record<string, string>
}

export function defaultCacheDir (): string {
  const xdg = process.env.XDG_CACHE_HOME
  return join(xdg != null && xdg !== '' ? xdg : join(homedir(), '.cache'), 'wasmesh')
}

let versionPromise: Promise<string> | undefined
/** The installed jco-transpile version: output of another version is another cache entry. */
export function jcoTranspileVersion (): Promise<string> {
  versionPromise ??= (async () => {
    // createRequire rather than import.meta.resolve, which some module runners (vitest's) lack.
    const main = createRequire(import.meta.url).resolve('@bytecodealliance/jco-transpile')
    const pkg = JSON.parse(await readFile(join(dirname(main), '..', 'package.json'), 'utf8')) as { version: string }
    return pkg.version
  })()
  return versionPromise
}

function sha256 (bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex')
}

async function readEntry (dir: string, key: string): Promise<Record<string, Uint8Array> | null> {
  let manifest: Manifest
  try {
    manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as Manifest
  } catch {
    return null
  }
  if (manifest.key !== key || typeof manifest.files !== 'object' || manifest.files === null || !(ENTRY in manifest.files)) return null
  const files: Record<string, Uint8Array> = {}
  for (const [name, hash] of Object.entries(manifest.files)) {
    if (name.includes('..') || name.startsWith('/')) return null
    let bytes: Uint8Array
    try {
      bytes = await readFile(join(dir, name))
    } catch {
      return null
    }
    if (sha256(bytes) !== hash) return null
    files[name] = bytes
  }
  return files
}

/**
 * Puts a written entry in place. Runtimes of one process and processes of one machine share the
 * cache and race here, so an entry is never deleted where it stands (a reader or a rename could
 * meet it half gone): the first rename wins, the others find its entry and keep it; a corrupt
 * entry is first moved aside whole, then removed.
 */
async function install (tmp: string, dir: string, key: string): Promise<void> {
  const attempts = 5
  for (let attempt = 1; ; attempt++) {
    if ((await readEntry(dir, key)) !== null) return
    try {
      await rename(tmp, dir)
      return
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt === attempts) throw err
    }
    if ((await readEntry(dir, key)) !== null) return
    const aside = `${tmp}.corrupt`
    try {
      await rename(dir, aside)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    await rm(aside, { recursive: true, force: true })
  }
}

export function createTranspileCache (init: TranspileCacheInit = {}): TranspileCache {
  const root = init.cacheDir ?? defaultCacheDir()
  const inflight = new Map<string, Promise<TranspiledComponent>>()
  let transpiles = 0

  async function transpile (bytes: Uint8Array, plan: TranspilePlan): Promise<Record<string, Uint8Array>> {
    transpiles++
    try {
      // Loaded on the first cache miss only: the transpiler is ~25 MB of RSS and ~75 ms that a node whose components are all cached never needs.
      const { transpileBytes } = await import('@bytecodealliance/jco-transpile')
      const out = await transpileBytes(bytes, {
        name: 'component',
        instantiation: 'async',
        asyncMode: 'jspi',
        asyncImports: [...plan.asyncImports],
        asyncExports: [...plan.asyncExports],
        // A result's err must arrive as a ComponentError so that it cannot be mistaken for a trap.
        noComponentErrorWrapping: false,
        emitTypescriptDeclarations: false
      })
      const files = { ...out.files }
      const entry = files[ENTRY]
      if (entry !== undefined) files[ENTRY] = new TextEncoder().encode(patchGeneratedJs(new TextDecoder().decode(entry)))
      return files
    } catch (err) {
      throw new RuntimeError('invalid-component', `transpile failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
  }

  async function build (digest: string, bytes: Uint8Array, plan: TranspilePlan): Promise<TranspiledComponent> {
    const version = await jcoTranspileVersion()
    const key = `${digest}/${version}/patch-${PATCH_VERSION}/${sha256(JSON.stringify(plan))}`
    const dir = join(root, `${digest}-${sha256(key).slice(0, 16)}`)
    const done = (files: Record<string, Uint8Array>, fresh: boolean): TranspiledComponent => ({
      dir,
      entryUrl: pathToFileURL(join(dir, ENTRY)).href,
      coreFiles: Object.fromEntries(Object.entries(files).filter(([name]) => name.endsWith('.wasm'))),
      fresh
    })
    const cached = await readEntry(dir, key)
    if (cached !== null) return done(cached, false)

    const files = await transpile(bytes, plan)
    if (!(ENTRY in files)) throw new RuntimeError('invalid-component', 'transpile produced no component.js')
    await mkdir(root, { recursive: true })
    // The transpiled `.js` is ES modules: say so, or Node warns (MODULE_TYPELESS_PACKAGE_JSON) under a package.json without "type".
    await writeFile(join(root, 'package.json'), '{ "type": "module" }\n', { flag: 'wx' }).catch(() => {})
    // Written aside and renamed into place, so a reader never sees a half-written entry.
    const tmp = await mkdtemp(join(root, '.tmp-'))
    try {
      const manifest: Manifest = { key, files: {} }
      for (const [name, data] of Object.entries(files)) {
        await mkdir(dirname(join(tmp, name)), { recursive: true })
        await writeFile(join(tmp, name), data)
        manifest.files[name] = sha256(data)
      }
      await writeFile(join(tmp, MANIFEST), JSON.stringify(manifest))
      await install(tmp, dir, key)
    } finally {
      await rm(tmp, { recursive: true, force: true })
    }
    return done(files, true)
  }

  return {
    get (digest, bytes, plan) {
      const k = `${digest}:${JSON.stringify(plan)}`
      let p = inflight.get(k)
      if (p === undefined) {
        p = build(digest, bytes, plan).finally(() => inflight.delete(k))
        inflight.set(k, p)
      }
      return p
    },
    get transpiles () { return transpiles }
  }
}

