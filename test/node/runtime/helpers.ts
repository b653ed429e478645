// Shared setup of the runtime tests: temporary cache folders, example components and runtimes that are always stopped.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'
import { createRuntime, RuntimeError, type Runtime, type RuntimeInit } from '../../../node/runtime/index.ts'
import { ensureExamples } from '../../../examples/build.ts'
import { scratchDir } from '../../support/scratch.ts'
import type { ScratchDir } from '../../support/scratch.ts'

export const repoDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** A scratch folder for a runtime's cache. */
export async function tempDir (): Promise<ScratchDir> {
  return await scratchDir('runtime-test')
}

/** Paths of the example components, building the missing ones. */
export async function examplePaths (names: string[]): Promise<Record<string, string>> {
  return await ensureExamples({ names })
}

export interface TestRuntime {
  readonly runtime: Runtime
  readonly logs: string[]
  readonly cacheDir: string
  close (): Promise<void>
}

/** A started runtime with its own cache folder and a log that records guest output. */
export async function startRuntime (init: Partial<RuntimeInit> = {}, cacheDir?: string): Promise<TestRuntime> {
  const dir = cacheDir === undefined ? await tempDir() : null
  const logs: string[] = []
  const runtime = createRuntime({
    cacheDir: cacheDir ?? dir?.path,
    logger: { info: m => logs.push(m), error: m => logs.push(m) },
    ...init
  })
  await runtime.start()
  return {
    runtime,
    logs,
    cacheDir: cacheDir ?? dir?.path ?? '',
    close: async () => {
      await runtime.stop()
      await dir?.remove()
    }
  }
}

/** The RuntimeError `p` fails with (and that it fails with one). */
export async function failure (p: Promise<unknown>): Promise<RuntimeError> {
  const err = await p.then(() => null, (e: unknown) => e)
  expect(err).toBeInstanceOf(RuntimeError)
  return err as RuntimeError
}
