// The one way tests get a scratch directory: a fresh one under the system's temp folder, and a way to remove it.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface ScratchDir {
  readonly path: string
  remove (): Promise<void>
}

/** A new empty directory `wasmesh-<purpose>-XXXXXX` in the temp folder; `remove()` deletes it and all it holds. */
export async function scratchDir (purpose: string): Promise<ScratchDir> {
  const path = await mkdtemp(join(tmpdir(), `wasmesh-${purpose}-`))
  return { path, remove: async () => { await rm(path, { recursive: true, force: true }) } }
}
