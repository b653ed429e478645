// Builds the pg-demo component (StarlingMonkey) into examples/build/pg-demo.wasm, cached by a hash of its inputs: `node examples/pg-demo/build.ts [--force]`.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '..', '..')
export const pgDemoPath: string = join(repo, 'examples', 'build', 'pg-demo.wasm')
const hashFile = `${pgDemoPath.slice(0, -'.wasm'.length)}.hash`
const RECIPE = 'pg-demo 1'

/** Everything the build reads: the source, its world, and the wasmcloud:postgres WIT (without wasmCloud's own provider world). */
async function inputs (): Promise<{ wit: Record<string, string>, source: string, hash: string }> {
  const deps = join(repo, 'wit', 'deps', 'wasmcloud-postgres-0.2.0-draft')
  const wit: Record<string, string> = { 'pg-demo.wit': await readFile(join(here, 'pg-demo.wit'), 'utf8') }
  for (const f of ['query.wit', 'transaction.wit', 'types.wit']) wit[join('deps', 'wasmcloud-postgres', f)] = await readFile(join(deps, f), 'utf8')
  const source = await readFile(join(here, 'pg-demo.js'), 'utf8')
  const manifest = JSON.parse(await readFile(join(repo, 'node_modules', '@bytecodealliance', 'componentize-js', 'package.json'), 'utf8')) as { version: string }
  const hash = createHash('sha256').update(RECIPE).update(manifest.version).update(source)
  for (const [f, t] of Object.entries(wit).sort()) hash.update(`${f}\0${t}\0`)
  return { wit, source, hash: hash.digest('hex') }
}

async function fresh (hash: string): Promise<boolean> {
  if (!existsSync(pgDemoPath)) return false
  return (await readFile(hashFile, 'utf8').catch(() => '')).trim() === hash
}

/** Builds in this process: sets preview2-shim's global preopens to `/` (componentize-js needs it), so only from a build process. */
async function build (): Promise<void> {
  const { wit, hash } = await inputs()
  if (!process.argv.includes('--force') && await fresh(hash)) return
  const stage = await mkdtemp(join(tmpdir(), 'wasmesh-pg-demo-'))
  try {
    for (const [f, t] of Object.entries(wit)) {
      await mkdir(dirname(join(stage, f)), { recursive: true })
      await writeFile(join(stage, f), t)
    }
    const { _setPreopens } = await import('@bytecodealliance/preview2-shim/filesystem') as unknown as { _setPreopens: (p: Record<string, string>) => void }
    _setPreopens({ '/': '/' })
    const { componentize } = await import('@bytecodealliance/componentize-js')
    const { component } = await componentize({ sourcePath: join(here, 'pg-demo.js'), witPath: stage, worldName: 'pg-demo' })
    await mkdir(dirname(pgDemoPath), { recursive: true })
    // Output first, hash last, each through a rename: a killed build is seen as stale, never as current.
    const tmp = `${pgDemoPath}.${process.pid}.tmp`
    await writeFile(tmp, component)
    await rename(tmp, pgDemoPath)
    await writeFile(`${hashFile}.${process.pid}.tmp`, `${hash}\n`)
    await rename(`${hashFile}.${process.pid}.tmp`, hashFile)
  } finally {
    await rm(stage, { recursive: true, force: true })
  }
}

/** The built component's path, building it first (in a child process) when it is missing or stale. */
export async function ensurePgDemo (): Promise<string> {
  if (await fresh((await inputs()).hash)) return pgDemoPath
  await new Promise<void>((resolveBuild, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { stdio: ['ignore', 'inherit', 'inherit'] })
    child.once('error', reject)
    child.once('exit', code => { code === 0 ? resolveBuild() : reject(new Error(`building pg-demo failed (exit code ${code}); run node examples/pg-demo/build.ts to see why`)) })
  })
  return pgDemoPath
}

if (process.argv[1] != null && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  build().catch((e: unknown) => {
    process.stderr.write(`pg-demo: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exitCode = 1
  })
}
