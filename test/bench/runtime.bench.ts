// Component runtime cost: cold start with and without the transpile cache, instantiation, and per-call overhead of worker isolation against a main-thread instance.
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { ensureExamples } from '../../examples/build.ts'
import { createRuntime } from '../../node/runtime/index.ts'
import { table } from './harness.ts'
import { exportedFunction, instantiateHere, prepareComponent, spawnInstance } from './support/main-thread.ts'
import { formatMs, measureAsync, oneShot, type AsyncSample, type OneShot } from './support/timing.ts'
import { scratchDir } from '../support/scratch.ts'

/** One-shot repetitions per figure: a hello transpile is about a second, so this bounds the suite's run time. */
const RUNS = 5
const IN_FLIGHT = 8
const POOL_INSTANCES = 2
const SAMPLES = 9
const SAMPLE_MS = 300

interface Subject {
  readonly name: string
  readonly iface: string
  readonly func: string
  readonly params: unknown[]
  /** What the runtime answers (wire-ready) and what the jco export returns: the same here. */
  readonly expected: unknown
}

const subjects: readonly Subject[] = [
  { name: 'hello', iface: '', func: 'hello-world', params: [], expected: 'Hello, World!' },
  { name: 'arith', iface: 'wasmesh:examples/arith', func: 'add', params: [40, 2], expected: 42 }
]

const quiet = { info: () => {}, error: () => {} }

function check (what: string, got: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(got, expected)) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`)
}

interface Figures {
  readonly subject: Subject
  readonly uncached: OneShot
  readonly cached: OneShot
  readonly instantiateMs: number
  readonly spawnWall: OneShot
  readonly mainThread: OneShot
  readonly direct: AsyncSample
  readonly viaRuntime: AsyncSample
  readonly inFlight: AsyncSample
  readonly instancesUsed: number
}

async function measureSubject (s: Subject, path: string, root: string): Promise<Figures> {
  const warmDir = join(root, `warm-${s.name}`)

  /** createRuntime + start + load + first call, timed; the runtime is stopped before returning. */
  const coldStart = async (cacheDir: string, expect: 'fresh' | 'cached'): Promise<{ ms: number, instantiateMs: number }> => {
    const started = performance.now()
    const runtime = createRuntime({ cacheDir, logger: quiet })
    try {
      await runtime.start()
      const c = await runtime.load(path)
      const [result] = await runtime.call(c.id, s.iface, s.func, s.params)
      const ms = performance.now() - started
      check(`${s.name} cold call`, result, s.expected)
      check(`${s.name} transpile`, c.transpiled, expect)
      return { ms, instantiateMs: c.instantiateMs }
    } finally {
      await runtime.stop()
    }
  }

  // Fills the warm cache; also takes the process' one-time costs (jco-transpile's own load) out of the uncached figure.
  await coldStart(warmDir, 'fresh')
  // Runs taken in turn (uncached, cached, uncached...), so that a noisy moment of the machine falls on both alike.
  const uncachedMs: number[] = []
  const cachedMs: number[] = []
  const instantiate: number[] = []
  for (let r = 0; r < RUNS; r++) {
    uncachedMs.push((await coldStart(join(root, `cold-${s.name}-${r}`), 'fresh')).ms)
    const { ms, instantiateMs } = await coldStart(warmDir, 'cached')
    cachedMs.push(ms)
    instantiate.push(instantiateMs)
  }

  const prepared = await prepareComponent(path, warmDir)
  let here = await instantiateHere(prepared)
  const spawnMs: number[] = []
  const hereMs: number[] = []
  for (let r = 0; r < RUNS; r++) {
    const { instance, wallMs } = await spawnInstance(prepared)
    await instance.terminate()
    spawnMs.push(wallMs)
    here = await instantiateHere(prepared)
    hereMs.push(here.ms)
  }
  const fn = exportedFunction(here.root, s.iface, s.func)
  check(`${s.name} main-thread call`, await fn(...s.params), s.expected)

  // One caller keeps IN_FLIGHT calls going: it may use every instance (by default a caller gets all but one).
  const rt = createRuntime({ cacheDir: warmDir, logger: quiet, limits: { maxInstances: POOL_INSTANCES, maxInstancesPerCaller: POOL_INSTANCES } })
  try {
    await rt.start()
    const { id } = await rt.load(path)
    check(`${s.name} runtime call`, (await rt.call(id, s.iface, s.func, s.params))[0], s.expected)
    const call = async (): Promise<unknown> => await rt.call(id, s.iface, s.func, s.params)
    const [direct, viaRuntime, inFlight] = await measureAsync([
      { name: `${s.name}: jco export, main thread`, fn: async () => await fn(...s.params) },
      { name: `${s.name}: runtime.call, 1 in flight`, fn: call },
      { name: `${s.name}: runtime.call, ${IN_FLIGHT} in flight, ${POOL_INSTANCES} instances`, fn: call, concurrency: IN_FLIGHT }
    ], { samples: SAMPLES, sampleMs: SAMPLE_MS })
    const instancesUsed = rt.stats(id).instances
    return {
      subject: s,
      uncached: oneShot('uncached', uncachedMs),
      cached: oneShot('cached', cachedMs),
      instantiateMs: oneShot('instantiateMs', instantiate).medianMs,
      spawnWall: oneShot('worker spawn', spawnMs),
      mainThread: oneShot('main thread', hereMs),
      direct,
      viaRuntime,
      inFlight,
      instancesUsed
    }
  } finally {
    await rt.stop()
  }
}

const us = (opsPerSec: number): number => 1e6 / opsPerSec
const range = (o: OneShot): string => `${formatMs(o.minMs)} – ${formatMs(o.maxMs)}`

function coldStartTable (all: readonly Figures[]): string {
  const lines = ['| component | uncached (median) | range | cached (median) | range | uncached / cached |', '|---|---:|---:|---:|---:|---:|']
  for (const f of all) {
    lines.push(`| ${f.subject.name} | ${formatMs(f.uncached.medianMs)} | ${range(f.uncached)} | ${formatMs(f.cached.medianMs)} | ${range(f.cached)} | ${(f.uncached.medianMs / f.cached.medianMs).toFixed(1)}x |`)
  }
  return lines.join('\n')
}

function instantiationTable (all: readonly Figures[]): string {
  const lines = [
    '| component | `instantiateMs` (in the worker) | worker spawn, wall (main thread) | main thread: import + instantiate | spawn wall / main thread |',
    '|---|---:|---:|---:|---:|'
  ]
  for (const f of all) {
    lines.push(`| ${f.subject.name} | ${formatMs(f.instantiateMs)} | ${formatMs(f.spawnWall.medianMs)} | ${formatMs(f.mainThread.medianMs)} | ${(f.spawnWall.medianMs / f.mainThread.medianMs).toFixed(1)}x |`)
  }
  return lines.join('\n')
}

function isolationTable (all: readonly Figures[]): string {
  const lines = [
    `| component | main thread | runtime, 1 in flight | isolation cost per call | runtime / main thread | best samples: cost per call, ratio | runtime, ${IN_FLIGHT} in flight on ${POOL_INSTANCES} instances |`,
    '|---|---:|---:|---:|---:|---:|---:|'
  ]
  for (const f of all) {
    const direct = us(f.direct.opsPerSec)
    const rt = us(f.viaRuntime.opsPerSec)
    const bestDirect = us(f.direct.bestOpsPerSec)
    const bestRt = us(f.viaRuntime.bestOpsPerSec)
    lines.push(`| ${f.subject.name} | ${direct.toFixed(1)} µs | ${rt.toFixed(1)} µs | +${(rt - direct).toFixed(1)} µs | ${(rt / direct).toFixed(1)}x | +${(bestRt - bestDirect).toFixed(1)} µs, ${(bestRt / bestDirect).toFixed(1)}x | ${us(f.inFlight.opsPerSec).toFixed(1)} µs |`)
  }
  return lines.join('\n')
}

export async function run (): Promise<string> {
  const paths = await ensureExamples({ names: subjects.map(s => s.name) })
  const scratch = await scratchDir('bench-runtime')
  const all: Figures[] = []
  try {
    for (const s of subjects) all.push(await measureSubject(s, paths[s.name], scratch.path))
  } finally {
    await scratch.remove()
  }

  const calls = all.flatMap(f => [
    { sample: f.direct },
    { sample: f.viaRuntime, baseline: f.direct },
    { sample: f.inFlight, baseline: f.viaRuntime }
  ])
  const spread = all.map(f => `${f.subject.name} ${f.instancesUsed}`).join(', ')
  return [
    '### Component runtime (node/runtime)',
    '',
    `Components: \`hello\` (StarlingMonkey JS, \`hello-world: func() -> string\`) and \`arith\` (WAT, \`wasmesh:examples/arith#add(40, 2)\`).`,
    '',
    `**Cold start**: \`createRuntime\` + \`start\` + \`load\` + first \`call\`, median of ${RUNS} runs taken in turn; uncached with a new empty cache folder each run (transpile included), cached with a warm one.`,
    '',
    coldStartTable(all),
    '',
    `**Instantiation**, median of ${RUNS}: \`LoadedComponent.instantiateMs\` (of the cached cold starts: the worker's own clock, from importing the transpiled JS to instantiated, so without the thread's boot), a bare instance worker spawned and timed from the main thread until it reports ready, and the same transpiled component (precompiled core modules, freshly imported JS, the sandbox's WASI imports) instantiated in the main thread.`,
    '',
    instantiationTable(all),
    '',
    `**Per call**: the same export with the same arguments, awaited one at a time on a main-thread instance and through \`runtime.call\` (worker pool, ${POOL_INSTANCES} instances at most), then with ${IN_FLIGHT} calls kept in flight; median of ${SAMPLES} samples of ${SAMPLE_MS} ms, the three cases sampled in turn.`,
    '',
    table(calls),
    '',
    `**Cost of the isolation chosen for deadlines** (worker threads, shared by instances unless \`sharedWorkers=0\`): time per call from the median rates above, and from each case's best sample (the least disturbed by the rest of the machine).`,
    '',
    isolationTable(all),
    '',
    `Instances live after the ${IN_FLIGHT}-in-flight run: ${spread}.`
  ].join('\n')
}
