// A component project's file, wasmesh.json: what `wasmesh build` and `wasmesh dev` build (name, world, source, engine, WIT folder).
import { readFile } from 'node:fs/promises'
import { isAbsolute, join, normalize } from 'node:path'
import { CliError } from './errors.ts'
import { jsEngines } from './build/toolchain.ts'
import type { JsEngine } from './build/toolchain.ts'

export const projectFileName = 'wasmesh.json'
/** A project file is a few lines; anything bigger is not one. */
export const maxProjectFileBytes = 64 * 1024

export interface Project {
  /** The project's folder (absolute). */
  readonly dir: string
  /** The component's name: `build/<name>.wasm`, and its name on the node. */
  readonly name: string
  /** The world of the project's WIT the component targets. */
  readonly world: string
  /** The entry module, relative to `dir`: `.js` (or `.mjs`) as it is, `.ts` (or `.mts`) compiled first. */
  readonly source: string
  readonly engine: JsEngine
  /** The WIT folder, relative to `dir` (default `wit`); other packages under its `deps/`. */
  readonly wit: string
}

/** What `wasmesh new` accepts as a name, and a WIT package name takes: lowercase words joined by `-`. */
export const projectNamePattern = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/

const keys = ['name', 'world', 'source', 'engine', 'wit'] as const

/** Reads and checks `<dir>/wasmesh.json`; every mistake is `bad-project` naming the file and the key. */
export async function readProject (dir: string): Promise<Project> {
  const file = join(dir, projectFileName)
  let text: string
  try {
    const bytes = await readFile(file)
    if (bytes.length > maxProjectFileBytes) throw new CliError('bad-project', `${file}: over ${maxProjectFileBytes} bytes (maxProjectFileBytes); not a project file`)
    text = bytes.toString('utf8')
  } catch (err) {
    if (err instanceof CliError) throw err
    throw new CliError('bad-project', `no ${projectFileName} in ${dir}: run wasmesh build in a project folder (make one with wasmesh new)`, { cause: err })
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new CliError('bad-project', `${file}: ${(err as Error).message}`, { cause: err })
  }
  const fail = (message: string): never => { throw new CliError('bad-project', `${file}: ${message}`) }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('not a JSON object')
  const obj = raw as Record<string, unknown>
  for (const key of Object.keys(obj)) if (!(keys as readonly string[]).includes(key)) fail(`unknown key ${JSON.stringify(key)} (the keys are ${keys.join(', ')})`)
  const string = (key: string, fallback?: string): string => {
    const v = obj[key] ?? fallback
    if (typeof v !== 'string' || v === '') return fail(`"${key}" must be a non-empty string`)
    return v
  }
  const name = string('name')
  if (!projectNamePattern.test(name)) fail(`"name" ${JSON.stringify(name)} is not lowercase words joined by "-" (e.g. "my-service")`)
  const engine = string('engine', 'starlingmonkey')
  if (!(jsEngines as readonly string[]).includes(engine)) fail(`"engine" ${JSON.stringify(engine)} is not one of ${jsEngines.join(', ')}`)
  const source = inside(string('source'), 'source', fail)
  if (!/\.(?:m?js|m?ts)$/.test(source)) fail(`"source" ${JSON.stringify(source)} is not a .js or .ts file`)
  return { dir, name, world: string('world'), source, engine: engine as JsEngine, wit: inside(string('wit', 'wit'), 'wit', fail) }
}

/** A path of the project must stay in its folder: a build reads and hashes everything under it. */
function inside (path: string, key: string, fail: (message: string) => never): string {
  const n = normalize(path)
  if (isAbsolute(n) || n === '..' || n.startsWith('../')) fail(`"${key}" ${JSON.stringify(path)} must be a path inside the project folder`)
  return n
}

export function isTypeScript (project: Project): boolean {
  return /\.m?ts$/.test(project.source)
}
