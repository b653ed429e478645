// The WASI WIT a build stages beside a world's own packages: WASI 0.2.12 as jco ships it (copied into wit/wasi-0.2.12), renamed to the 0.2.x minor the world names (shared by `wasmesh build` and examples/build.ts).
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ToolchainMissingError } from './toolchain.ts'

/** The WASI version jco ships as WIT and the guest engines import. */
export const WASI_VERSION = '0.2.12'
/** componentize-js 0.23's StarlingMonkey exports `wasi:http/incoming-handler@0.2.10#handle` (its fetch event): an HTTP world names this version. */
export const HTTP_WASI_VERSION = '0.2.10'

/**
 * The copy in this package's wit/ (two up from cli/build/ in a clone, three from dist/cli/build/ in the package): jco,
 * where it comes from, is only a dev dependency, and an installed wasmesh must build HTTP projects too.
 */
export const wasiWitDir: string = [new URL('../../wit/wasi-0.2.12/', import.meta.url), new URL('../../../wit/wasi-0.2.12/', import.meta.url)]
  .map(u => fileURLToPath(u)).find(dir => existsSync(dir)) ?? fileURLToPath(new URL('../../wit/wasi-0.2.12/', import.meta.url))

/** One WIT input: where the staged copy goes (relative to the stage root) and its text. */
export interface WitFile {
  readonly stagePath: string
  readonly text: string
}

export async function witFilesIn (dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(f => f.endsWith('.wit')).sort()
}

/**
 * WASI's packages (cli, clocks, filesystem, http, io, random, sockets) as WIT files under `deps/`, at `version`.
 * 0.2.x minors differ only in `@since` gates, so the 0.2.12 text under another minor's version is that minor.
 */
export async function wasiWit (version: string): Promise<WitFile[]> {
  const wasi = wasiWitDir
  if (!existsSync(wasi)) throw new ToolchainMissingError(`the WASI ${WASI_VERSION} WIT is missing (${wasi}): reinstall wasmesh`)
  const files: WitFile[] = []
  for (const pkg of (await readdir(wasi, { withFileTypes: true })).filter(e => e.isDirectory()).map(e => e.name).sort()) {
    for (const file of await witFilesIn(join(wasi, pkg))) {
      const text = (await readFile(join(wasi, pkg, file), 'utf8')).replaceAll(`@${WASI_VERSION}`, `@${version}`)
      files.push({ stagePath: join('deps', `${pkg}-${version}`, file), text })
    }
  }
  return files
}

/**
 * The WASI versions a world's own WIT names (`wasi:http/incoming-handler@0.2.10` -> 0.2.10) whose packages it does
 * not bring itself: what a build must stage. `texts` are the project's WIT files, `declared` the packages they
 * and their deps declare (`wasi:keyvalue@0.2.0-draft`), so a WASI proposal shipped in `deps/` is left alone.
 */
export function wasiVersionsNeeded (texts: readonly string[], declared: ReadonlySet<string>): string[] {
  const versions = new Set<string>()
  for (const text of texts) {
    // Comments may mention WASI without using it; a pre-release (0.2.0-draft) is a proposal the project ships itself.
    const code = text.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '')
    for (const m of code.matchAll(/\bwasi:([a-z0-9-]+)\/[a-z0-9-]+@(0\.2\.\d+)(?![\w-]|\.\d)/g)) {
      if (!declared.has(`wasi:${m[1]}@${m[2]}`)) versions.add(m[2])
    }
  }
  return [...versions].sort()
}

/** The `package ns:name[@version];` a WIT file declares, if any. */
export function packageOf (text: string): string | undefined {
  return /^\s*package\s+([a-z0-9-]+:[a-z0-9-]+(?:@[^\s;{]+)?)\s*;/m.exec(text)?.[1]
}

/** Writes `files` as one resolvable WIT directory at `dir` (replacing what was there); returns `dir`. */
export async function stageWit (files: readonly WitFile[], dir: string): Promise<string> {
  await rm(dir, { recursive: true, force: true })
  for (const w of files) {
    await mkdir(dirname(join(dir, w.stagePath)), { recursive: true })
    await writeFile(join(dir, w.stagePath), w.text)
  }
  return dir
}
