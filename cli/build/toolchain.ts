// The JavaScript-to-component toolchain shared by `wasmesh build` and examples/build.ts: StarlingMonkey or QuickJS, in the calling process.
import { existsSync } from 'node:fs'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/** How JavaScript becomes a component. */
export type JsEngine =
  | 'starlingmonkey' // @bytecodealliance/componentize-js (SpiderMonkey)
  | 'quickjs'        // componentize-qjs, its non-async (plain WASI 0.2) runtime

export const jsEngines: readonly JsEngine[] = ['starlingmonkey', 'quickjs']

export const enginePackages: Record<JsEngine, string> = {
  starlingmonkey: '@bytecodealliance/componentize-js',
  quickjs: 'componentize-qjs'
}

export class ToolchainMissingError extends Error {
  override readonly name = 'ToolchainMissingError'
  readonly code = 'toolchain-missing'
}

/**
 * The directory of an installed package, looked up the way Node does (node_modules of `from` and its
 * parents) rather than through import.meta.resolve, which vitest's global set-up lacks and which some of
 * these packages' export maps would refuse.
 */
export function packageDir (pkg: string, from: string): string {
  let dir = from
  for (;;) {
    const candidate = join(dir, 'node_modules', pkg)
    if (existsSync(join(candidate, 'package.json'))) return candidate
    if (dir === dirname(dir)) throw new ToolchainMissingError(`${pkg} is not installed; wasmesh depends on it to build components: reinstall wasmesh (npm ci in a clone, npm install -g for an install)`)
    dir = dirname(dir)
  }
}

/** `name@version` of an installed package: part of every build hash, so a toolchain upgrade rebuilds. */
export async function packageVersion (pkg: string, from: string): Promise<string> {
  const manifest = JSON.parse(await readFile(join(packageDir(pkg, from), 'package.json'), 'utf8')) as { version?: string }
  return `${pkg}@${manifest.version ?? '?'}`
}

/** Writes through a temporary file and a rename, so a killed build never leaves a partial file. */
export async function writeAtomic (path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  try {
    await writeFile(tmp, data)
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}

let preopensSet = false

/**
 * componentize-js's splicer and jco's wasm-tools run on preview2-shim, which starts with no
 * preopens, so they cannot read the WIT or the sources. Opening `/` widens the shim's global
 * filesystem for the whole process, which is why every build runs in a child process of its own.
 */
export async function openFilesystem (): Promise<void> {
  if (preopensSet) return
  // TypeScript resolves the browser typings of this module, whose _setPreopens takes file data.
  const { _setPreopens } = await import('@bytecodealliance/preview2-shim/filesystem') as unknown as { _setPreopens: (preopens: Record<string, string>) => void }
  _setPreopens({ '/': '/' })
  preopensSet = true
}

export interface ComponentizeJob {
  readonly engine: JsEngine
  /** The JavaScript module to componentize (ES module syntax, WIT imports as bare specifiers). */
  readonly sourcePath: string
  /** A WIT file or a directory (with `deps/`) that holds `world`. */
  readonly witPath: string
  readonly world: string
}

/** Componentizes one JavaScript module. Needs openFilesystem() first: call it only in a build process. */
export async function componentizeJs (job: ComponentizeJob): Promise<Uint8Array> {
  if (job.engine === 'starlingmonkey') {
    const { componentize } = await import('@bytecodealliance/componentize-js')
    const { component } = await componentize({ sourcePath: job.sourcePath, witPath: job.witPath, worldName: job.world })
    return component
  }
  // componentize-qjs is installed as a dependency of jco, not of this project.
  const { componentize } = await import('componentize-qjs')
  const { component } = await componentize({
    witPath: job.witPath,
    jsSource: await readFile(job.sourcePath, 'utf8'),
    jsPath: job.sourcePath,
    world: job.world,
    // The non-async runtime: components that also run on hosts without component-model async
    // support (the default runtime's output works under jco too, measured; it is just less portable).
    sync: true
  })
  return new Uint8Array(component)
}
