// The build child process of `wasmesh build`: componentizes one job given as JSON and writes the component; its own process because the toolchain opens `/` to the whole process's WASI shim.
import { componentizeJs, openFilesystem, writeAtomic } from './toolchain.ts'
import type { ComponentizeJob } from './toolchain.ts'

export interface WorkerJob extends ComponentizeJob {
  /** Where the component goes (written atomically). */
  readonly outPath: string
}

async function run (job: WorkerJob): Promise<void> {
  await openFilesystem()
  await writeAtomic(job.outPath, await componentizeJs(job))
}

run(JSON.parse(process.argv[2] ?? '{}') as WorkerJob).catch((err: unknown) => {
  // The parent reads this one line: the engine's message, which names the missing export or the bad WIT.
  process.stderr.write(`${JSON.stringify({ message: (err as Error)?.message ?? String(err) })}\n`)
  process.exitCode = 1
})
