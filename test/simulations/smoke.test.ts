import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { progressLine, simulate } from '../../cli/commands/simulate.ts'
import { loadScenario } from '../../simulations/index.ts'
import type { Progress, Report } from '../../simulations/index.ts'
import { planTimeline } from '../../simulations/timeline.ts'
import { allElements, parseXml } from './xml.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

let dir: ScratchDir
let report: Report
let outLines: string[]
let progress: Progress[]
let exitCode: number

beforeAll(async () => {
  dir = await scratchDir('sim-test')
  outLines = []
  progress = []
  exitCode = await simulate(['smoke', '--out', join(dir.path, 'smoke')], { out: t => { outLines.push(t) }, err: () => {}, verbose: false, env: {}, errIsTTY: false }, { progress: p => { progress.push(p) } })
  report = JSON.parse(await readFile(join(dir.path, 'smoke', 'report.json'), 'utf8')) as Report
}, 60_000)

afterAll(async () => {
  await dir?.remove()
})

/** A distribution of `count` values whose quantiles are in order (how long they are is the benchmark's business, not a test's). */
const ordered = (d: { count: number, p50: number | null, p99: number | null, max: number | null }, count: number): void => {
  expect(d.count).toBe(count)
  expect(d.p50).not.toBeNull()
  expect(d.p99).toBeGreaterThanOrEqual(d.p50!)
  expect(d.max).toBeGreaterThanOrEqual(d.p99!)
}

describe('the smoke scenario through `wasmesh simulate`', () => {
  it('finishes, says where the report is and writes it with five charts', async () => {
    expect(exitCode).toBe(0)
    expect(outLines.join('\n')).toMatch(/calls, .* succeeded; .*; \d+\.\d s wall, virtual time$/m)
    expect((await readdir(join(dir.path, 'smoke'))).sort()).toEqual(['connections.svg', 'convergence.svg', 'latency-cdf.svg', 'messages.svg', 'report.json', 'report.md', 'success.svg'])
    expect(report.interrupted).toBe(false)
    expect(report.seed).toBe(7)
    expect(report.scenario.name).toBe('smoke')
    expect(report.versions.libp2p).toMatch(/^\d+\.\d+/)
    expect(report.machine.cpus).toBeGreaterThan(0)
  })

  it('reports progress: phases in order, simulated time, events and calls', () => {
    const order = ['starting', 'settling', 'running', 'stopping']
    const seen = progress.map(p => order.indexOf(p.phase))
    expect([...seen].sort((a, b) => a - b)).toEqual(seen)
    expect(seen).toContain(2)
    const last = progress[progress.length - 1]
    expect(last.eventsDone).toBe(last.eventsTotal)
    expect(last.callsMade).toBeGreaterThan(0)
    expect(last.simulatedMs).toBeGreaterThan(0)
  })

  it('shows nodes up of those that should be running: 10/10 for 10 nodes, a crashed node not missed', () => {
    const running = progress.filter(p => p.phase === 'running')
    expect(progressLine(running[0])).toContain(' nodes 10/10 ')
    // simulated time, wall time and wall seconds per simulated second
    expect(progressLine(running[0])).toMatch(/ virtual sim \d+\.\ds\/8\.0s wall \d+\.\ds \(\d+\.\d\d wall\/sim\) /)
    // smoke crashes node 1, then node 10 joins and node 1 restarts: whenever all are up, the line says so
    const settled = running.filter(p => p.nodesUp === p.nodesExpected)
    expect(settled.length).toBeGreaterThan(running.length / 2)
    expect(running.every(p => p.nodesUp <= p.nodesExpected && p.nodesExpected <= p.nodesStarted)).toBe(true)
    expect(running.some(p => p.nodesExpected < p.nodesStarted)).toBe(true)
  })

  it('gives the wall time of the whole run, its parts adding up, and the simulated time beside it', () => {
    const t = report.time
    expect(t.mode).toBe('virtual')
    expect(t.setupMs + t.timelineWallMs).toBeLessThanOrEqual(t.wallMs)
    // on the simulated clock the timeline is exactly the scenario's, and the setup ends when the mesh converged
    expect(t.simulatedMs).toBe(8_000)
    expect(t.setupSimulatedMs).toBeGreaterThanOrEqual(report.convergence.initialMeshMs!)
    expect(t.wallPerSimulatedS).toBe(Math.round(t.timelineWallMs / t.simulatedMs * 1000))
    expect(t.virtual?.timersFired).toBeGreaterThan(0)
    const last = progress[progress.length - 1]
    expect(t.wallMs).toBeGreaterThanOrEqual(last.wallMs)
  })

  it('runs the planned event sequence, which the seed alone decides', async () => {
    const plan = planTimeline(await loadScenario('smoke'))
    expect(report.plannedEvents).toEqual(JSON.parse(JSON.stringify(plan.events)))
    expect(report.events.map(e => [e.kind, e.slot])).toEqual(plan.events.map(e => [e.kind, 'slot' in e ? e.slot : undefined]))
    expect(report.events.every(e => e.error === undefined)).toBe(true)
  })

  it('has every figure, with sane values', () => {
    const c = report.convergence
    expect(c.initialMeshMs).toBeGreaterThan(0)
    expect(c.initialKnowingAll).toBe(10)
    // the export, the restarted server's exports, the unexport and the leave are each measured; in real time a
    // slow machine can let the next event supersede one before it converged, which then counts in neither figure
    const changes = c.items.filter(i => ['export', 'restart', 'unexport', 'leave'].includes(i.kind))
    expect(changes.map(i => i.kind)).toEqual(['export', 'restart', 'unexport', 'leave'])
    const measured = changes.filter(i => i.superseded !== true)
    const converged = measured.filter(i => i.convergedMs !== null)
    // in virtual time the host's load cannot leave one short of a node when the run ends: every one converges
    expect(converged).toEqual(measured)
    ordered(c.exportChange, converged.length)
    expect(c.exportChange.unconverged).toBe(measured.length - converged.length)
    const learned = c.items.filter(i => i.kind === 'learn-mesh' && i.superseded !== true)
    expect(learned.length).toBeGreaterThan(0)
    ordered(c.learnMesh, learned.filter(i => i.convergedMs !== null).length)
    expect(c.learnMesh.unconverged).toBe(learned.filter(i => i.convergedMs === null).length)
    expect(c.items.some(i => i.kind === 'crash-forgotten')).toBe(true)

    const calls = report.calls
    expect(calls.made).toBeGreaterThan(100)
    expect(calls.made + calls.skipped + calls.cut).toBe(calls.planned)
    expect(calls.ok + calls.failed).toBe(calls.made)
    expect(calls.successRatio).toBeGreaterThan(0.9)
    expect(calls.withLiveServer.successRatio).toBeGreaterThanOrEqual(calls.successRatio!)
    ordered(calls.latencyMs, calls.ok)
    expect(calls.latencyCdf[calls.latencyCdf.length - 1][1]).toBe(1)
    expect(Object.values(calls.attempts).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(calls.made)
    expect(Object.values(calls.errors).reduce((a, b) => a + b, 0)).toBe(calls.failed)
    expect(calls.crashRecovery).toHaveLength(1)
    expect(calls.series.reduce((a, b) => a + b.made, 0)).toBe(calls.made)

    const g = report.cost.gossip
    expect(g.messagesSentPerNodePerS).toBeGreaterThan(0)
    expect(g.bytesSentPerNodePerS).toBeGreaterThan(0)
    expect(g.firstDeliveries).toBeGreaterThan(0)
    expect(g.duplicatesPerDelivery).toBe(Math.round(g.duplicates / g.firstDeliveries * 100) / 100)
    expect(report.cost.transport.bytesSentPerNodePerS).toBeGreaterThan(g.bytesSentPerNodePerS)
    expect(report.cost.connectionsPerNode.mean).toBeGreaterThan(0)
    expect(report.cost.memory.rssBytes).toBeGreaterThan(report.cost.memory.baselineRssBytes / 2)
    expect(report.cost.memory.heapPerNodeBytes).toBeGreaterThan(0)
    expect(report.cost.cpu.runMs).toBeGreaterThan(0)
    expect(report.cost.series.length).toBeGreaterThanOrEqual(5)
    expect(report.time.simulatedMs).toBeGreaterThanOrEqual(8_000)
  })

  it('writes a summary and charts that parse, each with its series', async () => {
    const md = await readFile(join(dir.path, 'smoke', 'report.md'), 'utf8')
    expect(md).toMatch(/^# Simulation: smoke/)
    expect(md).toMatch(/advert convergence per export change \| p50/)
    // one quantity per chart, so one unit per axis
    const expected: Record<string, string[]> = {
      'latency-cdf.svg': ['successful calls'],
      'success.svg': ['success ratio'],
      'messages.svg': ['gossip messages'],
      'connections.svg': ['connections / node'],
      'convergence.svg': ['export added', 'export withdrawn', 'new node learned the mesh']
    }
    for (const [file, series] of Object.entries(expected)) {
      const root = parseXml(await readFile(join(dir.path, 'smoke', file), 'utf8'))
      expect(root.name).toBe('svg')
      const names = allElements(root).filter(e => e.attrs.class === 'series').map(e => e.attrs['data-name'])
      expect(file.startsWith('convergence') ? names.sort() : names).toEqual(series)
      const drawn = allElements(root).filter(e => e.name === 'polyline' || e.name === 'circle')
      expect(drawn.length).toBeGreaterThan(0)
    }
    // every event marked and labelled with the node it happened to, on the convergence chart too, and node numbers explained
    for (const file of ['success.svg', 'convergence.svg', 'messages.svg', 'connections.svg']) {
      const root = parseXml(await readFile(join(dir.path, 'smoke', file), 'utf8'))
      const markers = allElements(root).filter(e => e.attrs.class === 'markers')[0]
      expect(markers.children.filter(e => e.name === 'line'), file).toHaveLength(6)
      expect(markers.children.filter(e => e.name === 'text').map(e => e.text), file).toEqual(report.events.map(e => `${e.kind} node ${e.slot}`))
      expect(allElements(root).filter(e => e.attrs.class === 'notes')[0].children.map(e => e.text), file)
        .toEqual(['node N: the simulated node numbered N, of 0-10: 0-9 start the run, 10 joins later (its label slot=N).'])
      expect(allElements(root).some(e => e.attrs.class === 'cut'), file).toBe(false)
    }
    expect(md).toContain('node N: the simulated node numbered N')
    expect(md).toMatch(/in virtual time; the run took \d+\.\d s of wall time: \d+\.\d s starting the nodes and settling \(\d+\.\d s simulated\), \d+\.\d s for the 8\.0 s of timeline \(\d+ ms of wall time per simulated second\), \d+\.\d s stopping\. Every time in the table is simulated/)
  })
})

describe('an interrupted run', () => {
  it('stops cleanly and still writes what was measured', async () => {
    const controller = new AbortController()
    const out = join(dir.path, 'interrupted')
    const code = await simulate(['smoke', '--out', out, '--duration', '30'], { out: () => {}, err: () => {}, verbose: false, env: {}, errIsTTY: false, signal: controller.signal }, {
      progress: p => { if (p.phase === 'running' && p.simulatedMs > 500) controller.abort() }
    })
    expect(code).toBe(130)
    const r = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as Report
    expect(r.interrupted).toBe(true)
    expect(r.time.simulatedMs).toBeLessThan(30_000)
    expect(r.calls.made).toBeGreaterThan(0)
    // the charts keep the planned 30 s axis and mark where the run stopped
    const at = `interrupted at ${(r.time.simulatedMs / 1000).toFixed(1)} s`
    for (const file of ['success.svg', 'convergence.svg', 'messages.svg', 'connections.svg']) {
      const root = parseXml(await readFile(join(out, file), 'utf8'))
      expect(allElements(root).find(e => e.name === 'title')?.text, file).toMatch(/\(interrupted\)$/)
      const cut = allElements(root).filter(e => e.attrs.class === 'cut')
      expect(cut, file).toHaveLength(1)
      expect(cut[0].children.find(e => e.name === 'text')?.text, file).toBe(at)
    }
    expect(await readFile(join(out, 'report.md'), 'utf8')).toMatch(/^# Simulation: smoke \(interrupted\)\n[^]*simulated of 30 s \(interrupted\)/)
  }, 60_000)
})
