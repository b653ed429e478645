// Builds the example components offline and in-process, cached by a hash of their inputs: `node examples/build.ts [name...] [--force]`.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { componentizeJs, openFilesystem, packageDir as findPackageDir, packageVersion as findPackageVersion, ToolchainMissingError, writeAtomic } from '../cli/build/toolchain.ts'
import { HTTP_WASI_VERSION, packageOf as declaredPackage, stageWit, WASI_VERSION, wasiWit, witFilesIn } from '../cli/build/wasi-wit.ts'
import type { WitFile } from '../cli/build/wasi-wit.ts'

/** How an example is turned into a component. */
export type ExampleEngine =
  | 'starlingmonkey' // @bytecodealliance/componentize-js (SpiderMonkey)
  | 'quickjs'        // componentize-qjs, its non-async (plain WASI 0.2) runtime
  | 'wat'            // a hand-written core module, embedded and wrapped with wasm-tools

export interface ExampleSpec {
  /** Output file is `examples/build/<name>.wasm`. */
  readonly name: string
  /** Folder under `examples/` holding the sources; every file in it is hashed. */
  readonly dir: string
  /** Entry file inside `dir`. */
  readonly entry: string
  /** World of the `wasmesh:examples` package the component targets. */
  readonly world: string
  readonly engine: ExampleEngine
  /**
   * `http`: the world is in `wit/examples-http` (package `wasmesh:http-examples`), built against jco's WASI WIT
   * renamed to `HTTP_WASI_VERSION`, the wasi:http version StarlingMonkey's fetch event exports.
   */
  readonly wit?: WitKind
}

/**
 * `blobstore`: `http` plus `wasi:blobstore@0.2.0-draft` (and the `wasi:io@0.2.1` it names), worlds in
 * `wit/examples-blobstore` (package `wasmesh:blobstore-examples`); a kind of its own so that the other examples' WIT,
 * and so their hashes, stay as they were.
 */
type WitKind = 'default' | 'http' | 'blobstore'

export const examples: readonly ExampleSpec[] = [
  { name: 'hello', dir: 'hello', entry: 'hello.js', world: 'hello', engine: 'starlingmonkey' },
  { name: 'hello-quickjs', dir: 'hello', entry: 'hello.js', world: 'hello', engine: 'quickjs' },
  { name: 'upper', dir: 'upper', entry: 'upper.js', world: 'upper', engine: 'starlingmonkey' },
  { name: 'upper-quickjs', dir: 'upper', entry: 'upper.js', world: 'upper', engine: 'quickjs' },
  { name: 'shout', dir: 'shout', entry: 'shout.js', world: 'shout', engine: 'starlingmonkey' },
  { name: 'types', dir: 'types', entry: 'types.js', world: 'echo-types', engine: 'starlingmonkey' },
  { name: 'types-quickjs', dir: 'types', entry: 'types.js', world: 'echo-types', engine: 'quickjs' },
  { name: 'counter', dir: 'counter', entry: 'counter.js', world: 'keyvalue-counter', engine: 'starlingmonkey' },
  { name: 'counter-quickjs', dir: 'counter', entry: 'counter.js', world: 'keyvalue-counter', engine: 'quickjs' },
  // QuickJS only: componentize-js 0.23 defines no JS binding for the resource-only
  // wasi:sockets/network interface, so its guests cannot call instance-network.
  { name: 'sandbox-probe', dir: 'sandbox-probe', entry: 'probe.js', world: 'sandbox-probe', engine: 'quickjs' },
  // StarlingMonkey only: its fetch() is the engine's own wasi:http import, which QuickJS lacks.
  { name: 'sandbox-fetch', dir: 'sandbox-fetch', entry: 'fetch.js', world: 'sandbox-fetch', engine: 'starlingmonkey' },
  { name: 'arith', dir: 'arith', entry: 'arith.wat', world: 'wat-arith', engine: 'wat' },
  // The host interfaces a node serves itself (wasi:logging, wasi:config, wasmcloud:secrets, wasmcloud:bus).
  { name: 'host-ifaces', dir: 'host-ifaces', entry: 'host.js', world: 'host-ifaces', engine: 'quickjs' },
  // StarlingMonkey: fetch() reading whole bodies, for outgoing HTTP grants and limits.
  { name: 'http-client', dir: 'http-client', entry: 'client.js', world: 'http-fetch', engine: 'starlingmonkey' },
  { name: 'msg-pub', dir: 'msg-pub', entry: 'pub.js', world: 'messaging-publisher', engine: 'starlingmonkey' },
  { name: 'msg-sub', dir: 'msg-sub', entry: 'sub.js', world: 'messaging-subscriber', engine: 'starlingmonkey' },
  { name: 'http-hello', dir: 'http-hello', entry: 'hello.js', world: 'http-service', engine: 'starlingmonkey', wit: 'http' },
  // The same service with no JS engine inside: what a component compiled from Rust or Go costs (benchmarks).
  { name: 'http-hello-wat', dir: 'http-hello-wat', entry: 'hello.wat', world: 'http-service', engine: 'wat', wit: 'http' },
  { name: 'http-echo', dir: 'http-echo', entry: 'echo.js', world: 'http-service', engine: 'starlingmonkey', wit: 'http' },
  { name: 'http-counter', dir: 'http-counter', entry: 'counter.js', world: 'http-keyvalue-counter', engine: 'starlingmonkey', wit: 'http' },
  { name: 'http-files', dir: 'http-files', entry: 'files.js', world: 'http-files', engine: 'starlingmonkey', wit: 'blobstore' }
]

export const examplesDir: string = dirname(fileURLToPath(import.meta.url))
export const buildDir: string = join(examplesDir, 'build')
const repoDir = dirname(examplesDir)

/** Bump when the way a component is produced changes, so cached outputs are rebuilt. */
const RECIPE_VERSION = 1
const LOCK_WAIT_MS = 15 * 60_000
const LOCK_POLL_MS = 250

export type ExampleBuildErrorCode =
  | 'unknown-example'   // a name that is not in `examples`
  | 'toolchain-missing' // componentize-js, componentize-qjs or jco is not installed (dev dependencies)
  | 'build-failed'      // the engine rejected the sources or the WIT
  | 'lock-timeout'      // another build held examples/build/.lock for too long

export class ExampleBuildError extends Error {
  override readonly name: string = 'ExampleBuildError'
  readonly code: ExampleBuildErrorCode

  constructor (code: ExampleBuildErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

export interface BuildReport {
  name: string
  engine: ExampleEngine
  path: string
  bytes: number
  /** Wall time of the build; 0 when the cached output was still valid. */
  ms: number
  cached: boolean
}

export interface BuildOptions {
  /** Rebuild even when the cached output's hash matches. */
  force?: boolean
  /** Receives one line per example; defaults to stdout. */
  log?: (line: string) => void
}

export interface EnsureOptions {
  /** Only these examples (default: all). */
  names?: readonly string[]
}

function specsFor (names: readonly string[] | undefined): ExampleSpec[] {
  if (names == null || names.length === 0) return [...examples]
  return names.map(name => {
    const spec = examples.find(e => e.name === name)
    if (spec == null) {
      throw new ExampleBuildError('unknown-example', `no example named "${name}"; known: ${examples.map(e => e.name).join(', ')}`)
    }
    return spec
  })
}

function outputPath (spec: ExampleSpec): string {
  return join(buildDir, `${spec.name}.wasm`)
}

function hashPath (spec: ExampleSpec): string {
  return join(buildDir, `${spec.name}.hash`)
}

/** An installed package's directory (cli/build/toolchain.ts), its absence reported as this build's own error. */
function packageDir (pkg: string): string {
  try {
    return findPackageDir(pkg, repoDir)
  } catch (err) {
    throw new ExampleBuildError('toolchain-missing', `${pkg} is not installed; building the examples needs the dev dependencies (npm install)`, { cause: err })
  }
}

async function packageVersion (pkg: string): Promise<string> {
  packageDir(pkg)
  return await findPackageVersion(pkg, repoDir)
}

const enginePackages: Record<ExampleEngine, string> = {
  starlingmonkey: '@bytecodealliance/componentize-js',
  quickjs: 'componentize-qjs',
  wat: '@bytecodealliance/jco-transpile'
}

/** Packages of `wit/deps/` the example worlds import. */
const depPackages = [
  'wasi-keyvalue-0.2.0-draft',
  'wasi-logging-0.1.0-draft', 'wasi-config-0.2.0-draft', 'wasmcloud-bus-1.0.0', 'wasmcloud-secrets-0.1.0-draft',
  'wasmcloud-messaging-0.2.0'
]

/** What the `blobstore` kind stages besides. */
const blobstoreDepPackages = ['wasi-blobstore-0.2.0-draft', 'wasi-io-0.2.1']

function packageOf (text: string, file: string): string {
  const pkg = declaredPackage(text)
  if (pkg === undefined) throw new ExampleBuildError('build-failed', `${file} declares no package`)
  return pkg
}

/**
 * Every WIT file a build sees, laid out as one resolvable directory: `wasmesh:examples` at the
 * root and every other package under `deps/` (local:demo, wasi:keyvalue, and WASI itself, which
 * comes with jco rather than being copied into the repository).
 */
async function witInputs (kind: WitKind = 'default'): Promise<WitFile[]> {
  const files: WitFile[] = []
  const examplesWit = join(repoDir, 'wit', kind === 'http' ? 'examples-http' : kind === 'blobstore' ? 'examples-blobstore' : 'examples')
  const root = kind === 'http' ? 'wasmesh:http-examples' : kind === 'blobstore' ? 'wasmesh:blobstore-examples' : 'wasmesh:examples'
  const wasiVersion = kind === 'default' ? WASI_VERSION : HTTP_WASI_VERSION
  for (const file of await witFilesIn(examplesWit)) {
    const text = await readFile(join(examplesWit, file), 'utf8')
    const pkg = packageOf(text, file)
    const stagePath = pkg === root ? file : join('deps', pkg.replace(/[:@]/g, '-'), file)
    files.push({ stagePath, text })
  }
  for (const dep of kind === 'blobstore' ? [...depPackages, ...blobstoreDepPackages] : depPackages) {
    const dir = join(repoDir, 'wit', 'deps', dep)
    for (const file of await witFilesIn(dir)) {
      files.push({ stagePath: join('deps', dep, file), text: await readFile(join(dir, file), 'utf8') })
    }
  }
  try {
    files.push(...await wasiWit(wasiVersion))
  } catch (err) {
    if (err instanceof ToolchainMissingError) throw new ExampleBuildError('toolchain-missing', err.message, { cause: err })
    throw err
  }
  return files
}

async function sourceHash (spec: ExampleSpec, wit: readonly WitFile[]): Promise<string> {
  const hash = createHash('sha256')
  const field = (s: string | Uint8Array): void => {
    hash.update(String(s.length)).update(':').update(s)
  }
  field(`recipe ${RECIPE_VERSION}`)
  field(JSON.stringify(spec))
  field(await packageVersion(enginePackages[spec.engine]))
  const dir = join(examplesDir, spec.dir)
  for (const file of (await readdir(dir)).sort()) {
    field(file)
    field(await readFile(join(dir, file)))
  }
  for (const w of wit) {
    field(w.stagePath)
    field(w.text)
  }
  return hash.digest('hex')
}

async function isFresh (spec: ExampleSpec, hash: string): Promise<boolean> {
  if (!existsSync(outputPath(spec))) return false
  try {
    return (await readFile(hashPath(spec), 'utf8')).trim() === hash
  } catch {
    return false
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Serialises builds across processes (parallel test workers) with a lock directory; a dead holder's lock is taken over. */
async function withBuildLock<T> (fn: () => Promise<T>): Promise<T> {
  await mkdir(buildDir, { recursive: true })
  const lock = join(buildDir, '.lock')
  const deadline = Date.now() + LOCK_WAIT_MS
  for (;;) {
    try {
      await mkdir(lock)
      await writeFile(join(lock, 'pid'), String(process.pid))
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const holder = Number.parseInt(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''), 10)
    if (Number.isInteger(holder) && !isAlive(holder)) {
      await rm(lock, { recursive: true, force: true })
      continue
    }
    if (Date.now() > deadline) {
      throw new ExampleBuildError('lock-timeout', `examples/build/.lock held by process ${holder} for over ${LOCK_WAIT_MS / 60_000} minutes; remove it if that process is gone`)
    }
    await sleep(LOCK_POLL_MS)
  }
  try {
    return await fn()
  } finally {
    await rm(lock, { recursive: true, force: true })
  }
}

/** Temporary files and WIT stages of killed builds; safe to remove while holding the lock. */
async function removeLeftovers (): Promise<void> {
  for (const entry of await readdir(buildDir)) {
    if (entry.endsWith('.tmp') || entry.startsWith('.wit-')) await rm(join(buildDir, entry), { recursive: true, force: true })
  }
}

async function stage (wit: readonly WitFile[], kind: WitKind = 'default'): Promise<string> {
  return await stageWit(wit, join(buildDir, `.wit-${process.pid}${kind === 'default' ? '' : `-${kind}`}`))
}

async function buildStarlingMonkey (spec: ExampleSpec, witDir: string): Promise<Uint8Array> {
  return await componentizeJs({ engine: 'starlingmonkey', sourcePath: join(examplesDir, spec.dir, spec.entry), witPath: witDir, world: spec.world })
}

async function buildQuickJs (spec: ExampleSpec, witDir: string): Promise<Uint8Array> {
  return await componentizeJs({ engine: 'quickjs', sourcePath: join(examplesDir, spec.dir, spec.entry), witPath: witDir, world: spec.world })
}

async function buildWat (spec: ExampleSpec, witDir: string): Promise<Uint8Array> {
  const tools = await import('@bytecodealliance/jco-transpile/wasm-tools')
  const core = await tools.parse(await readFile(join(examplesDir, spec.dir, spec.entry), 'utf8'))
  const embedded = await tools.componentEmbed({ binary: core, witPath: witDir, world: spec.world, stringEncoding: 'utf8' })
  return await tools.componentNew(embedded)
}

const builders: Record<ExampleEngine, (spec: ExampleSpec, witDir: string) => Promise<Uint8Array>> = {
  starlingmonkey: buildStarlingMonkey,
  quickjs: buildQuickJs,
  wat: buildWat
}

function formatLine (r: BuildReport): string {
  const size = `${(r.bytes / 1024).toFixed(0)} KiB`
  const time = r.cached ? 'cached' : `${(r.ms / 1000).toFixed(1)} s`
  return `${r.name.padEnd(16)} ${r.engine.padEnd(15)} ${time.padStart(8)} ${size.padStart(10)}`
}

/**
 * Builds the named examples (default: all) in this process, one after another, skipping those
 * whose cached output is current. Sets preview2-shim's global preopens to `/` (componentize-js
 * needs it), so call it from a build process, not from one that runs components.
 */
export async function buildExamples (names?: readonly string[], options: BuildOptions = {}): Promise<BuildReport[]> {
  const specs = specsFor(names)
  const log = options.log ?? ((line: string) => { process.stdout.write(`${line}\n`) })
  return await withBuildLock(async () => {
    await removeLeftovers()
    const wits = { default: await witInputs(), http: await witInputs('http'), blobstore: await witInputs('blobstore') }
    const witDirs: { default?: string, http?: string, blobstore?: string } = {}
    const reports: BuildReport[] = []
    try {
      for (const spec of specs) {
        const kind = spec.wit ?? 'default'
        const wit = wits[kind]
        const hash = await sourceHash(spec, wit)
        const path = outputPath(spec)
        if (options.force !== true && await isFresh(spec, hash)) {
          const bytes = (await readFile(path)).length
          reports.push({ name: spec.name, engine: spec.engine, path, bytes, ms: 0, cached: true })
        } else {
          const witDir = witDirs[kind] ??= await stage(wit, kind)
          await openFilesystem()
          const started = performance.now()
          let component: Uint8Array
          try {
            component = await builders[spec.engine](spec, witDir)
          } catch (err) {
            if (err instanceof ExampleBuildError) throw err
            throw new ExampleBuildError('build-failed', `building example "${spec.name}" (${spec.engine}) failed: ${(err as Error).message ?? String(err)}`, { cause: err })
          }
          const ms = performance.now() - started
          await writeAtomic(path, component)
          // The hash is written last: a build killed in between is seen as stale, never as current.
          await writeAtomic(hashPath(spec), `${hash}\n`)
          reports.push({ name: spec.name, engine: spec.engine, path, bytes: component.length, ms, cached: false })
        }
        log(formatLine(reports[reports.length - 1]))
      }
    } finally {
      for (const dir of Object.values(witDirs)) await rm(dir, { recursive: true, force: true })
    }
    return reports
  })
}

/** Names of the given examples whose built output is missing or older than their inputs. */
export async function staleExamples (names?: readonly string[]): Promise<string[]> {
  const specs = specsFor(names)
  const wits = { default: await witInputs(), http: await witInputs('http'), blobstore: await witInputs('blobstore') }
  const stale: string[] = []
  for (const spec of specs) {
    if (!await isFresh(spec, await sourceHash(spec, wits[spec.wit ?? 'default']))) stale.push(spec.name)
  }
  return stale
}

/**
 * Returns name -> absolute path of each built example (default: all), first building what is
 * missing or stale. The build runs in a child process so that the toolchain's global WASI state
 * (and its memory) never touches the caller, which may be running components.
 */
export async function ensureExamples (options: EnsureOptions = {}): Promise<Record<string, string>> {
  const specs = specsFor(options.names)
  const stale = await staleExamples(specs.map(s => s.name))
  if (stale.length > 0) {
    const script = fileURLToPath(import.meta.url)
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [script, ...stale], { stdio: ['ignore', 'inherit', 'inherit'] })
      child.once('error', reject)
      child.once('exit', (code, signal) => {
        if (code === 0) resolve()
        else reject(new ExampleBuildError('build-failed', `building examples ${stale.join(', ')} failed (${signal ?? `exit code ${code}`}); run \`npm run build:examples\` to see why`))
      })
    })
    const still = await staleExamples(stale)
    if (still.length > 0) throw new ExampleBuildError('build-failed', `examples ${still.join(', ')} are still missing after a build`)
  }
  return Object.fromEntries(specs.map(spec => [spec.name, outputPath(spec)]))
}

async function main (args: string[]): Promise<void> {
  const force = args.includes('--force')
  const names = args.filter(a => !a.startsWith('--'))
  const started = performance.now()
  const reports = await buildExamples(names, { force })
  const built = reports.filter(r => !r.cached).length
  process.stdout.write(`${built} built, ${reports.length - built} cached, ${((performance.now() - started) / 1000).toFixed(1)} s in all -> ${buildDir}\n`)
}

if (process.argv[1] != null && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const e = err as Error & { code?: string }
    process.stderr.write(`build:examples: ${e.code != null ? `[${e.code}] ` : ''}${e.message ?? String(err)}\n`)
    process.exitCode = 1
  })
}
