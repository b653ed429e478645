// Density: RSS of a node at rest (none and the quick-start components), per idle component for many loaded components (WAT and StarlingMonkey), the first call after reaping, and a `wasmesh call`'s wall from a new process.
// Every figure beside its baseline from the same run: instanceIdleTimeoutMs=0 is the old path (each component keeps its instance).
import { execFile, spawn } from 'node:child_process'
import { readFile, writeFile, mkdir, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { startClient } from '../../cli/client.ts'
import { ensureExamples } from '../../examples/build.ts'
import { silentLogger } from '../../node/logger.ts'
import { defaultRuntimeLimits } from '../../node/runtime/index.ts'
import { scratchDir } from '../support/scratch.ts'
import type { DensityJob, DensityResult } from './support/density-child.ts'
import { median } from './support/timing.ts'

const exec = promisify(execFile)
const repo = fileURLToPath(new URL('../..', import.meta.url))
const child = fileURLToPath(new URL('./support/density-child.ts', import.meta.url))
/** Transpiles of the generated components survive between runs of the bench (keyed by digest like any cache). */
const cacheDir = join(tmpdir(), 'wasmesh-density-bench-cache')

const WAT_COUNT = 200
const SM_COUNT = 20
const COLD_CALLS = 9
const WALL_RUNS = 5
/** Short, so the bench does not wait long for its reaping. */
const IDLE_MS = 300

/**
 * `count` components that differ from `bytes` only in a custom section: each has its own digest, so the
 * runtime transpiles, compiles and instantiates each on its own, as it would distinct components.
 */
async function variants (bytes: Uint8Array, count: number, dir: string, stem: string): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const files: string[] = []
  for (let k = 0; k < count; k++) {
    const name = new TextEncoder().encode(`wasmesh-density-${k}`)
    const body = [...leb(name.length), ...name]
    const section = new Uint8Array([0, ...leb(body.length), ...body])
    const out = new Uint8Array(bytes.length + section.length)
    out.set(bytes)
    out.set(section, bytes.length)
    const file = join(dir, `${stem}-${k}.wasm`)
    await writeFile(file, out)
    files.push(file)
  }
  return files
}

function leb (n: number): number[] {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n !== 0) b |= 0x80
    out.push(b)
  } while (n !== 0)
  return out
}

/** This tree and the baseline: the commit this branch started from (its merge base with main), extracted beside it, sharing node_modules. */
interface Tree { readonly label: string, readonly root: string }

async function baselineTree (under: string): Promise<Tree> {
  const { stdout } = await exec('git', ['merge-base', 'HEAD', 'main'], { cwd: repo })
  const commit = stdout.trim()
  const root = join(under, 'baseline')
  await mkdir(root, { recursive: true })
  await exec('sh', ['-c', 'git -C "$0" archive "$1" | tar -x -C "$2"', repo, commit, root])
  await symlink(join(repo, 'node_modules'), join(root, 'node_modules'))
  return { label: `baseline ${commit.slice(0, 7)}`, root }
}

const runtimeOf = (t: Tree): string => pathToFileURL(join(t.root, 'node', 'runtime', 'index.ts')).href

async function measure (job: DensityJob): Promise<DensityResult> {
  const { stdout } = await exec(process.execPath, ['--expose-gc', child, JSON.stringify(job)], { maxBuffer: 1 << 20, timeout: 600_000 })
  return JSON.parse(stdout.trim().split('\n').pop() as string) as DensityResult
}

const mb = (n: number): string => `${n.toFixed(1)} MB`
const ms = (n: number): string => n >= 100 ? `${n.toFixed(0)} ms` : n >= 10 ? `${n.toFixed(1)} ms` : `${n.toFixed(2)} ms`

/** How instances run, as the rows below compare them. */
const MODES = [
  { label: 'worker, a thread per instance (sharedWorkers=0)', isolation: 'worker', limits: { sharedWorkers: 0 }, baseline: true },
  { label: 'worker, shared threads (the default)', isolation: 'worker', limits: {}, baseline: false },
  { label: 'inline', isolation: 'inline', limits: {}, baseline: true }
] as const

/** Rows for one kind of component: each way of running it, the old path (never reaped) beside scale to zero. */
async function densityRows (label: string, files: string[], call: DensityJob['call'], base: Tree): Promise<string[]> {
  const rows: string[] = []
  const here = pathToFileURL(join(repo, 'node', 'runtime', 'index.ts')).href
  // Fills the transpile cache, so the rows below all load cached.
  await measure({ runtimeModule: here, cacheDir, files, isolation: 'inline', idleMs: 0, call, coldCalls: 0 })
  const per = (r: DensityResult, at: number): string => mb((at - r.emptyMb) / files.length)
  for (const mode of MODES) {
    const job = { cacheDir, files, isolation: mode.isolation, call, limits: mode.limits }
    if (mode.baseline) {
      const was = await measure({ ...job, runtimeModule: runtimeOf(base), idleMs: 0, coldCalls: 0 })
      rows.push(`| ${files.length} ${label}, ${mode.label}, ${base.label} | ${mb(was.emptyMb)} | ${mb(was.loadedMb)} (${per(was, was.loadedMb)}/component) | | | ${ms(was.loadMs / files.length)} |`)
    }
    const old = await measure({ ...job, runtimeModule: here, idleMs: 0, coldCalls: 0 })
    const reaped = await measure({ ...job, runtimeModule: here, idleMs: IDLE_MS, coldCalls: COLD_CALLS })
    rows.push(`| ${files.length} ${label}, ${mode.label}, this branch | ${mb(old.emptyMb)} | ${mb(old.loadedMb)} (${per(old, old.loadedMb)}/component) | ${mb(reaped.restMb)} (${per(reaped, reaped.restMb)}/component) | ${ms(median([...reaped.coldCallMs].sort((a, b) => a - b)))} | ${ms(old.loadMs / files.length)} |`)
  }
  return rows
}

interface NodeProcess {
  readonly pid: number
  readonly address: string
  stop (): Promise<void>
}

/** A `wasmesh node` on loopback (this Node, no npx wrapper), ready once it printed its loopback address. */
async function startNode (tree: Tree, args: string[], dataDir: string): Promise<NodeProcess> {
  const p = spawn(process.execPath, [join(tree.root, 'bin', 'wasmesh.js'), 'node', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>(resolve => p.once('exit', () => resolve()))
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('the node did not start within 60 s')) }, 60_000)
    p.once('exit', code => { clearTimeout(timer); reject(new Error(`the node exited (${code})`)) })
    createInterface({ input: p.stdout }).on('line', line => {
      if (line.startsWith('/ip4/127.0.0.1/')) { clearTimeout(timer); resolve(line.trim()) }
    })
  }).catch(async (err: unknown) => { p.kill('SIGKILL'); await exited; throw err })
  return {
    pid: p.pid as number,
    address,
    stop: async () => { p.kill('SIGTERM'); await exited }
  }
}

async function procStatus (pid: number): Promise<{ rssMb: number, threads: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8')
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN)
  return { rssMb: field('VmRSS') / 1024, threads: field('Threads') }
}

/** Polls (a bench may) until the node's thread count falls to `threads` or below: its instances' workers ended. */
async function settleThreads (pid: number, threads: number): Promise<void> {
  const deadline = performance.now() + 60_000
  while ((await procStatus(pid)).threads > threads) {
    if (performance.now() > deadline) throw new Error(`node ${pid} kept over ${threads} threads`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

async function wall (args: string[]): Promise<number> {
  const t0 = performance.now()
  await exec(process.execPath, args, { cwd: repo, timeout: 60_000 })
  return performance.now() - t0
}

/** The stages of a mesh call as `wasmesh call` runs them (cli/mesh-call.ts), in this process, whose modules are loaded already. */
async function stages (bootstrap: string): Promise<Record<string, number>> {
  const t0 = performance.now()
  const client = await startClient({ bootstrap: [bootstrap], logger: silentLogger })
  const t1 = performance.now()
  try {
    const iface = 'local:demo/upper'
    if (!await client.until(() => client.node.connections().length > 0, t0 + 30_000)) throw new Error('no connection')
    const t2 = performance.now()
    if (!await client.until(() => client.node.servers(iface).length > 0, t0 + 30_000)) throw new Error(`nobody serves ${iface}`)
    const t3 = performance.now()
    await client.node.describe(iface, 'to-upper')
    const t4 = performance.now()
    const [r] = await client.node.call(iface, 'to-upper', ['hi'])
    const t5 = performance.now()
    if (r !== 'HI') throw new Error(`to-upper answered ${String(r)}`)
    return { start: t1 - t0, connected: t2 - t1, synced: t3 - t2, describe: t4 - t3, call: t5 - t4 }
  } finally {
    await client.stop()
  }
}

async function walls (args: string[]): Promise<number> {
  const out: number[] = []
  for (let k = 0; k < WALL_RUNS; k++) out.push(await wall(args))
  return median(out.sort((a, b) => a - b))
}

export async function run (): Promise<string> {
  const paths = await ensureExamples({ names: ['arith', 'hello', 'shout', 'upper'] })
  const scratch = await scratchDir('density-bench')
  const out: string[] = ['## Density', '']
  try {
    const base = await baselineTree(scratch.path)
    const here: Tree = { label: 'this branch', root: repo }
    // 1. Runtime density, in processes of their own.
    const wat = await variants(await readFile(paths.arith), WAT_COUNT, join(cacheDir, 'components'), 'arith')
    const sm = await variants(await readFile(paths.hello), SM_COUNT, join(cacheDir, 'components'), 'hello')
    out.push(
      `Components that differ only in a custom section (distinct digests: each transpiled, compiled and instantiated on its own), each loaded and called once (cached transpile), one instance each at most; reaped: \`instanceIdleTimeoutMs\` ${IDLE_MS} ms, \`minInstances\` 0. RSS after two GCs.`,
      '',
      '| components | empty runtime | loaded, never reaped (old path) | at rest, reaped | first call after reaping, one at a time (median of 9) | load + first call per component |',
      '|---|---:|---:|---:|---:|---:|',
      ...await densityRows('WAT (arith)', wat, { iface: 'wasmesh:examples/arith', func: 'add', params: [40, 2], expected: 42 }, base),
      ...await densityRows('StarlingMonkey (hello)', sm, { iface: '', func: 'hello-world', params: [], expected: 'Hello, World!' }, base),
      ''
    )

    // 2. A node at rest, and a `wasmesh call` from a new process.
    const quick = ['shout', 'upper', 'hello'].flatMap(n => ['--component', paths[n]])
    const rows: string[] = []
    const wallRows: string[] = []
    let idleThreads = 0
    for (const tree of [base, here]) {
      const none = await startNode(tree, [], join(scratch.path, `${tree.label}-none`))
      try {
        const s = await procStatus(none.pid)
        idleThreads = s.threads
        rows.push(`| ${tree.label}: no component | ${mb(s.rssMb)} (${s.threads} threads) | | |`)
      } finally {
        await none.stop()
      }
    }
    const quickCases: Array<[Tree, string, string[]]> = [
      [base, 'shout, upper, hello', []],
      [here, 'shout, upper, hello; never reaped (instanceIdleTimeoutMs=0)', ['--limit', 'instanceIdleTimeoutMs=0']],
      [here, 'shout, upper, hello; reaped (instanceIdleTimeoutMs=1000)', ['--limit', 'instanceIdleTimeoutMs=1000']]
    ]
    for (const [tree, label, limit] of quickCases) {
      const node = await startNode(tree, [...quick, ...limit], join(scratch.path, `${tree.label}-${rows.length}`))
      try {
        const loaded = await procStatus(node.pid)
        const callArgs = (t: Tree): string[] => [join(t.root, 'bin', 'wasmesh.js'), 'call', 'local:demo/upper#to-upper("hi")', '--bootstrap', node.address]
        const { stdout } = await exec(process.execPath, callArgs(here), { cwd: repo, timeout: 60_000 })
        if (!stdout.includes('HI')) throw new Error(`wasmesh call answered ${stdout}`)
        const called = await procStatus(node.pid)
        let rest = called
        if (limit[1]?.endsWith('=1000') === true) {
          // Its instances' workers ended; the spare workers (started with the first worker instance) stay.
          await settleThreads(node.pid, idleThreads + defaultRuntimeLimits.spareWorkers)
          rest = await procStatus(node.pid)
        }
        rows.push(`| ${tree.label}: ${label} | ${mb(loaded.rssMb)} (${loaded.threads} threads) | ${mb(called.rssMb)} | ${mb(rest.rssMb)} (${rest.threads} threads) |`)
        if (wallRows.length === 0) {
          wallRows.push(`| \`node -e 0\` (Node's own start) | ${ms(await walls(['-e', '0']))} | |`)
          for (const [what, args] of [
            ['`wasmesh --version` (CLI entry)', ['--version']],
            ['`wasmesh call --help` (the call command\'s modules loaded)', ['call', '--help']]
          ] as const) {
            wallRows.push(`| ${what} | ${ms(await walls([join(here.root, 'bin', 'wasmesh.js'), ...args]))} | ${ms(await walls([join(base.root, 'bin', 'wasmesh.js'), ...args]))} |`)
          }
          wallRows.push(`| \`wasmesh call 'local:demo/upper#to-upper("hi")' --bootstrap <loopback>\` | ${ms(await walls(callArgs(here)))} | ${ms(await walls(callArgs(base)))} |`)
          const runs: Array<Record<string, number>> = []
          for (let k = 0; k < WALL_RUNS; k++) runs.push(await stages(node.address))
          for (const stage of Object.keys(runs[0])) {
            wallRows.push(`| in one process, modules loaded: ${stage} | ${ms(median(runs.map(r => r[stage]).sort((a, b) => a - b)))} | |`)
          }
        }
      } finally {
        await node.stop()
      }
    }
    out.push(
      'A `wasmesh node` process (no npx wrapper) on loopback, RSS from /proc:',
      '',
      '| node | ready | after one `wasmesh call` | at rest |',
      '|---|---:|---:|---:|',
      ...rows,
      '',
      `A new process's wall, median of ${WALL_RUNS}, against a node of the baseline:`,
      '',
      `| process | this branch | ${base.label} |`,
      '|---|---:|---:|',
      ...wallRows
    )
  } finally {
    await scratch.remove()
  }
  return out.join('\n')
}
