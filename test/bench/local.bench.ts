// A local-first call of a component's export through the mesh node, against calling the same jco export directly, in one run.
import { isDeepStrictEqual } from 'node:util'
import { ensureExamples } from '../../examples/build.ts'
import { silentLogger } from '../../node/logger.ts'
import { createNode, type MeshNode } from '../../node/index.ts'
import type { Isolation } from '../../node/runtime/index.ts'
import { exportedFunction, instantiateHere, prepareComponent, stockEntryUrl } from './support/main-thread.ts'
import { measureAsync, type AsyncCase, type AsyncSample } from './support/timing.ts'
import { scratchDir } from '../support/scratch.ts'

const SAMPLES = 9
const SAMPLE_MS = 300

interface Subject {
  readonly name: string
  readonly component: string
  readonly iface: string
  readonly func: string
  readonly params: unknown[]
  readonly expected: unknown
}

const subjects: readonly Subject[] = [
  { name: 'arith (WAT)', component: 'arith', iface: 'wasmesh:examples/arith', func: 'add', params: [40, 2], expected: 42 },
  { name: 'types (StarlingMonkey JS)', component: 'types', iface: 'wasmesh:examples/types', func: 'echo-string', params: ['hello, mesh'], expected: 'hello, mesh' }
]

function check (what: string, got: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(got, expected)) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`)
}

interface Figures {
  readonly subject: Subject
  readonly stock: AsyncSample
  readonly direct: AsyncSample
  readonly inline: AsyncSample
  readonly worker: AsyncSample
}

async function meshNode (path: string, isolation: Isolation, cacheDir: string): Promise<MeshNode> {
  const node = await createNode({ transport: 'memory', logger: silentLogger, cacheDir })
  await node.start()
  await node.load({ source: path, isolation })
  return node
}

async function measureSubject (s: Subject, path: string, cacheDir: string): Promise<Figures> {
  const prepared = await prepareComponent(path, cacheDir)
  const direct = exportedFunction((await instantiateHere(prepared)).root, s.iface, s.func)
  const stock = exportedFunction((await instantiateHere(prepared, await stockEntryUrl(prepared))).root, s.iface, s.func)
  check(`${s.name} direct`, await direct(...s.params), s.expected)
  check(`${s.name} stock`, await stock(...s.params), s.expected)
  const inline = await meshNode(path, 'inline', cacheDir)
  const worker = await meshNode(path, 'worker', cacheDir)
  try {
    for (const node of [inline, worker]) check(`${s.name} node.call`, (await node.call(s.iface, s.func, s.params))[0], s.expected)
    const cases: AsyncCase[] = [
      { name: `${s.name}: jco export called directly, stock jco output`, fn: async () => await stock(...s.params) },
      { name: `${s.name}: jco export called directly`, fn: async () => await direct(...s.params) },
      { name: `${s.name}: \`node.call\`, local-first, inline`, fn: async () => await inline.call(s.iface, s.func, s.params) },
      { name: `${s.name}: \`node.call\`, local-first, worker`, fn: async () => await worker.call(s.iface, s.func, s.params) }
    ]
    const [st, d, i, w] = await measureAsync(cases, { samples: SAMPLES, sampleMs: SAMPLE_MS })
    return { subject: s, stock: st, direct: d, inline: i, worker: w }
  } finally {
    await inline.stop()
    await worker.stop()
  }
}

const us = (s: AsyncSample): number => 1e6 / s.opsPerSec
const best = (s: AsyncSample): number => 1e6 / s.bestOpsPerSec

const cell = (s: AsyncSample): string => `${us(s).toFixed(2)} µs ±${(s.spread * 50).toFixed(0)}%`
const ratio = (a: AsyncSample, b: AsyncSample): string => `${(us(a) / us(b)).toFixed(2)}x`

function callTable (all: readonly Figures[]): string {
  const lines = [
    '| component | jco export, stock output | jco export, patched output (baseline) | `node.call` inline | inline / baseline | best samples | inline / stock | `node.call` worker | worker / baseline |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|'
  ]
  for (const f of all) {
    lines.push(`| ${f.subject.name} | ${cell(f.stock)} | ${cell(f.direct)} | ${cell(f.inline)} | ${ratio(f.inline, f.direct)} | ${(best(f.inline) / best(f.direct)).toFixed(2)}x | ${ratio(f.inline, f.stock)} | ${cell(f.worker)} | ${ratio(f.worker, f.direct)} |`)
  }
  return lines.join('\n')
}

export async function run (): Promise<string> {
  const paths = await ensureExamples({ names: subjects.map(s => s.component) })
  const scratch = await scratchDir('bench-local')
  const all: Figures[] = []
  try {
    for (const s of subjects) all.push(await measureSubject(s, paths[s.component], scratch.path))
  } finally {
    await scratch.remove()
  }
  return [
    '### A local-first call against the jco export (issue 8)',
    '',
    'Time per call, one call at a time: the export awaited on an instance made in the bench\'s own thread, from',
    'jco-transpile\'s output as it writes it (stock) and as the transpile cache keeps it (patched: JCO_DEBUG read',
    'once, the baseline), `node.call` on a node serving the component with `isolation: \'inline\'`, and the same',
    `with the default worker isolation; median of ${SAMPLES} samples of ${SAMPLE_MS} ms, the cases sampled in turn.`,
    '',
    callTable(all)
  ].join('\n')
}
