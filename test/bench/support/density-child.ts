// One density measurement in a process of its own (so its RSS is its own): a runtime loads the given components, calls each, and reports RSS at each stage and the first call after reaping.
// Run with --expose-gc; argv[2] is the JSON of `DensityJob`; prints one JSON `DensityResult` line and exits once the runtime has stopped.
import { readFile } from 'node:fs/promises'
import type { createRuntime as CreateRuntime } from '../../../node/runtime/index.ts'

export interface DensityJob {
  /** file: URL of the node/runtime/index.ts to measure: this tree's, or the baseline's (the branch point, extracted). */
  readonly runtimeModule: string
  readonly cacheDir: string
  readonly files: readonly string[]
  readonly isolation: 'worker' | 'inline'
  /** 0: never reaped (the old path: every loaded component keeps its instance). */
  readonly idleMs: number
  readonly call: { readonly iface: string, readonly func: string, readonly params: unknown[], readonly expected: unknown }
  /** Components whose first call after reaping is timed (the first ones loaded). */
  readonly coldCalls: number
  /** More runtime limits (`sharedWorkers: 0`: a thread per worker instance). */
  readonly limits?: Readonly<Record<string, number>>
}

export interface DensityResult {
  /** Runtime started, nothing loaded (MB). */
  readonly emptyMb: number
  /** Every component loaded and called once (MB). */
  readonly loadedMb: number
  /** Once every instance is reaped (idleMs > 0), else equal to loadedMb (MB). */
  readonly restMb: number
  readonly loadMs: number
  /** ms of each timed first call after reaping. */
  readonly coldCallMs: number[]
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => { throw new Error('run with --expose-gc') })()

async function rssMb (): Promise<number> {
  // Twice, with a turn between: finalizers freed by the first collection run before the second.
  gc()
  await new Promise(resolve => setImmediate(resolve))
  gc()
  return process.memoryUsage.rss() / 2 ** 20
}

async function until (what: string, check: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

const job = JSON.parse(process.argv[2]) as DensityJob
const { createRuntime } = await import(job.runtimeModule) as { createRuntime: typeof CreateRuntime }
const runtime = createRuntime({
  cacheDir: job.cacheDir,
  logger: { info: () => {}, error: () => {} },
  limits: { instanceIdleTimeoutMs: job.idleMs, minInstances: 0, maxInstances: 1, maxInstancesPerCaller: 1, ...job.limits }
})
await runtime.start()
try {
  const emptyMb = await rssMb()
  const started = performance.now()
  const ids: string[] = []
  for (const file of job.files) {
    const c = await runtime.load(await readFile(file), { isolation: job.isolation })
    const [got] = await runtime.call(c.id, job.call.iface, job.call.func, job.call.params)
    if (JSON.stringify(got) !== JSON.stringify(job.call.expected)) throw new Error(`${file}: expected ${JSON.stringify(job.call.expected)}, got ${JSON.stringify(got)}`)
    ids.push(c.id)
  }
  const loadMs = performance.now() - started
  const loadedMb = await rssMb()
  let restMb = loadedMb
  const coldCallMs: number[] = []
  if (job.idleMs > 0) {
    await until('every instance reaped', () => ids.every(id => runtime.stats(id).instances === 0))
    restMb = await rssMb()
    for (const id of ids.slice(0, job.coldCalls)) {
      // One at a time: the spare the last one took has been replaced (a burst is served as fast as spares boot).
      if (job.isolation === 'worker') await until('a spare worker ready', () => (runtime as { spareWorkers?: number }).spareWorkers !== 0)
      const t0 = performance.now()
      await runtime.call(id, job.call.iface, job.call.func, job.call.params)
      coldCallMs.push(performance.now() - t0)
    }
  }
  const result: DensityResult = { emptyMb, loadedMb, restMb, loadMs, coldCallMs }
  process.stdout.write(JSON.stringify(result) + '\n')
} finally {
  await runtime.stop()
}
