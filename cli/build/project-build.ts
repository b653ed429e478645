// `wasmesh build`'s work: a project's TypeScript compiled, its JavaScript checked, then componentized in a child process, cached by a hash of every input.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, readdir, rm } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CliError } from '../errors.ts'
import { isTypeScript, projectFileName } from '../project.ts'
import type { Project } from '../project.ts'
import { enginePackages, packageDir, packageVersion, ToolchainMissingError, writeAtomic } from './toolchain.ts'
import { packageOf, stageWit, wasiVersionsNeeded, wasiWit } from './wasi-wit.ts'
import type { WitFile } from './wasi-wit.ts'
import type { WorkerJob } from './worker.ts'

/** Bump when the way a project is built changes, so cached outputs are rebuilt. */
const recipeVersion = 1
/** Where wasmesh's own toolchain packages are found (its node_modules, wherever the project is). */
const wasmeshDir = fileURLToPath(new URL('../../', import.meta.url))
const workerPath = fileURLToPath(new URL('./worker.ts', import.meta.url))

export interface ProjectBuild {
  /** The component, `<project>/build/<name>.wasm`. */
  readonly path: string
  readonly bytes: number
  /** True when the hash of the inputs was unchanged and nothing was built. */
  readonly cached: boolean
  readonly ms: number
}

export interface ProjectBuildOptions {
  /** Rebuild even when the hash matches. */
  readonly force?: boolean
}

export function buildDirOf (project: Project): string {
  return join(project.dir, 'build')
}

/** Builds `project` unless its output is current; a mistake in the sources or the WIT is `build-failed` naming the file and line. */
export async function buildProject (project: Project, opts: ProjectBuildOptions = {}): Promise<ProjectBuild> {
  const started = performance.now()
  const out = buildDirOf(project)
  const path = join(out, `${project.name}.wasm`)
  const hashPath = join(out, `${project.name}.hash`)
  const wit = await witOf(project)
  const hash = await inputHash(project, wit.wasi)
  if (opts.force !== true && existsSync(path) && (await readFile(hashPath, 'utf8').catch(() => '')).trim() === hash) {
    return { path, bytes: (await readFile(path)).length, cached: true, ms: performance.now() - started }
  }
  await mkdir(out, { recursive: true })
  let sourcePath = join(project.dir, project.source)
  if (isTypeScript(project)) {
    sourcePath = await compileTypeScript(project, join(out, '.js'))
  } else {
    for (const file of await sourcesOf(project)) if (/\.m?js$/.test(file)) await checkSyntax(project, file)
  }
  // A world naming WASI (an HTTP component's wasi:http/incoming-handler) is built against a staged copy of the
  // project's WIT with WASI beside it, as examples/build.ts builds the HTTP examples.
  const stageDir = join(out, '.wit')
  const witPath = wit.wasi.length === 0 ? join(project.dir, project.wit) : await stageWit([...wit.own, ...wit.wasi], stageDir)
  const job: WorkerJob = { engine: project.engine, sourcePath, witPath, world: project.world, outPath: path }
  let failure: string | undefined
  try {
    failure = await runChild([workerPath, JSON.stringify(job)], project.dir)
  } finally {
    if (wit.wasi.length > 0) await rm(stageDir, { recursive: true, force: true })
  }
  if (failure !== undefined) {
    let message = failure
    try { message = (JSON.parse(failure.trim().split('\n').at(-1) ?? '') as { message: string }).message } catch {}
    throw new CliError('build-failed', await explain(project, message))
  }
  // The hash is written last: a build killed in between is seen as stale, never as current.
  await writeAtomic(hashPath, `${hash}\n`)
  return { path, bytes: (await readFile(path)).length, cached: false, ms: performance.now() - started }
}

/** The folder of the entry module: every file under it is a source. */
function sourceDirOf (project: Project): string {
  return dirname(join(project.dir, project.source))
}

async function filesUnder (dir: string): Promise<string[]> {
  if (!existsSync(dir)) return []
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter(e => e.isFile()).map(e => join(e.parentPath, e.name)).sort()
}

async function sourcesOf (project: Project): Promise<string[]> {
  const build = buildDirOf(project) + sep
  // A source folder that is the project's own root holds build/ too: never hash or check the outputs.
  return (await filesUnder(sourceDirOf(project))).filter(f => !f.startsWith(build) && !f.includes(`${sep}node_modules${sep}`))
}

/** The project's WIT files (paths relative to its WIT folder), and the WASI WIT its world names but does not bring. */
async function witOf (project: Project): Promise<{ own: WitFile[], wasi: WitFile[] }> {
  const root = join(project.dir, project.wit)
  const own: WitFile[] = []
  for (const file of await filesUnder(root)) {
    if (file.endsWith('.wit')) own.push({ stagePath: relative(root, file), text: await readFile(file, 'utf8') })
  }
  const declared = new Set(own.flatMap(f => packageOf(f.text) ?? []))
  const versions = wasiVersionsNeeded(own.filter(f => !f.stagePath.startsWith(`deps${sep}`)).map(f => f.text), declared)
  const wasi: WitFile[] = []
  try {
    for (const version of versions) wasi.push(...await wasiWit(version))
  } catch (err) {
    if (err instanceof ToolchainMissingError) throw new CliError('toolchain-missing', `${project.wit}: the world names WASI ${versions.join(', ')}: ${err.message}`, { cause: err })
    throw err
  }
  return { own, wasi }
}

/** SHA-256 of the recipe, the project file, the engine's (and TypeScript's) version, every source and WIT file by path, and the WASI WIT staged beside them. */
async function inputHash (project: Project, wasi: readonly WitFile[]): Promise<string> {
  const hash = createHash('sha256')
  const field = (s: string | Uint8Array): void => { hash.update(String(s.length)).update(':').update(s) }
  field(`recipe ${recipeVersion}`)
  field(await readFile(join(project.dir, projectFileName)))
  try {
    field(await packageVersion(enginePackages[project.engine], wasmeshDir))
    if (isTypeScript(project)) field(await packageVersion('typescript', wasmeshDir))
  } catch (err) {
    if (err instanceof ToolchainMissingError) throw new CliError('toolchain-missing', err.message, { cause: err })
    throw err
  }
  const files = new Set([...await sourcesOf(project), ...await filesUnder(join(project.dir, project.wit))])
  for (const file of [...files].sort()) {
    field(relative(project.dir, file))
    field(await readFile(file))
  }
  for (const w of wasi) {
    field(w.stagePath)
    field(w.text)
  }
  return hash.digest('hex')
}

/** Runs `process.execPath args` in `cwd`; undefined when it exits 0, else what it wrote to standard error. */
async function runChild (args: string[], cwd: string, input?: string): Promise<string | undefined> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    const chunks: Buffer[] = []
    child.stdout?.on('data', (c: Buffer) => { chunks.push(c) })
    child.stderr?.on('data', (c: Buffer) => { chunks.push(c) })
    child.once('error', reject)
    child.once('close', (code, signal) => {
      resolve(code === 0 ? undefined : (Buffer.concat(chunks).toString('utf8') || `exited with ${signal ?? code}`))
    })
    child.stdin?.end(input)
  })
}

/** Node's own parser, as an ES module: `src/x.js:3: SyntaxError: Unexpected end of input`. */
async function checkSyntax (project: Project, file: string): Promise<void> {
  const failure = await runChild(['--check', '--input-type=module', '-'], project.dir, await readFile(file, 'utf8'))
  if (failure === undefined) return
  const line = /^\[stdin\]:(\d+)/m.exec(failure)?.[1]
  const error = /^(\w*Error: .*)$/m.exec(failure)?.[1] ?? failure.trim().split('\n')[0]
  throw new CliError('build-failed', `${relative(project.dir, file)}${line === undefined ? '' : `:${line}`}: ${error}`)
}

/**
 * TypeScript's own compiler, types stripped without checking them (the WIT imports have no typings), imports kept
 * as written; `src/x.ts:3:22: error TS1005: ',' expected`. Returns the compiled entry module.
 */
async function compileTypeScript (project: Project, outDir: string): Promise<string> {
  const tsc = join(packageDir('typescript', wasmeshDir), 'bin', 'tsc')
  const rootDir = sourceDirOf(project)
  const inputs = (await sourcesOf(project)).filter(f => /\.m?ts$/.test(f) && !/\.d\.m?ts$/.test(f))
  await rm(outDir, { recursive: true, force: true })
  const failure = await runChild([tsc, '--noCheck', '--verbatimModuleSyntax', '--module', 'esnext', '--target', 'es2022', '--skipLibCheck',
    '--types', '', '--pretty', 'false', '--rootDir', rootDir, '--outDir', outDir, ...inputs], project.dir)
  if (failure !== undefined) {
    const lines = failure.trim().split('\n').map(l => l.replace(/^(.+?)\((\d+),(\d+)\): /, '$1:$2:$3: '))
    throw new CliError('build-failed', lines.join('\n'))
  }
  return join(outDir, relative(rootDir, join(project.dir, project.source)).replace(/\.(m?)ts$/, '.$1js'))
}

/** The engine's words for a WIT mismatch, with the WIT file and line of the function the source lacks. */
async function explain (project: Project, message: string): Promise<string> {
  const missing = /does not export a "([^"]+)" ([\w-]+) function/.exec(message)
  if (missing === null) return `${/resolving WIT|\.wit\b/.test(message) ? project.wit : project.source}: ${message}`
  const [, iface, func] = missing
  const where = await witLineOf(project, func)
  return `${where ?? project.wit}: ${iface}#${func} is exported by world ${project.world}, but ${project.source} does not export it ` +
    `(export const ${camel(iface.replace(/^.*\//, '').replace(/@.*$/, ''))} = { ${camel(func)} (...) { ... } })`
}

async function witLineOf (project: Project, func: string): Promise<string | undefined> {
  const declared = new RegExp(`^\\s*${func}\\s*:\\s*func\\b`)
  for (const file of await filesUnder(join(project.dir, project.wit))) {
    if (!file.endsWith('.wit') || file.includes(`${sep}deps${sep}`)) continue
    const lines = (await readFile(file, 'utf8')).split('\n')
    const i = lines.findIndex(l => declared.test(l))
    if (i >= 0) return `${relative(project.dir, file)}:${i + 1}`
  }
  return undefined
}

function camel (kebab: string): string {
  return kebab.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}
