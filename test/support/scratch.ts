// The one way tests get a scratch directory: a fresh one under the system's temp folder, and a way to remove it.
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface ScratchDir {
  readonly path: string
  remove (): Promise<void>
  /** `remove()` for where nothing can be awaited: a process `exit` handler. */
  removeSync (): void
}

export interface ScratchOptions {
  /** The folder to make it in. Default the system's temp folder; a test that needs its files inside the project (vitest transforms TypeScript only there) names a folder of its own. */
  readonly under?: string
}

/** A new empty directory `wasmesh-<purpose>-XXXXXX` in the temp folder; `remove()` deletes it and all it holds. */
export async function scratchDir (purpose: string, opts: ScratchOptions = {}): Promise<ScratchDir> {
  const path = await mkdtemp(join(opts.under ?? tmpdir(), `wasmesh-${purpose}-`))
  return {
    path,
    remove: async () => { await rm(path, { recursive: true, force: true }) },
    removeSync: () => { rmSync(path, { recursive: true, force: true }) }
  }
}
