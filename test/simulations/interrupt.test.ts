import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { simulate } from '../../cli/commands/simulate.ts'
import type { Progress, Report } from '../../simulations/index.ts'
import { killSpawned, spawnWasmesh } from '../cli/helpers.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

let dir: ScratchDir

beforeAll(async () => { dir = await scratchDir('sim-interrupt') })
afterEach(async () => { await killSpawned() })
afterAll(async () => { await dir?.remove() })

// Four nodes 2 s apart: adverts need seconds to reach everyone, so the run is surely settling for a while.
const slowSettle = `name: slow-settle
seed: 1
durationS: 20
nodes: 4
topology: { kind: seed }
network: { latencyMs: 2000 }
encryption: plaintext
settleS: 60
services:
  - { provider: echo, iface: echo, on: [1] }
workload:
  - { callsPerS: 20, from: random, iface: echo, payloadBytes: 8 }
`

describe('an interrupted simulation', () => {
  it('stopped while settling, runs no timeline and still reports', async () => {
    const file = join(dir.path, 'slow-settle.yaml')
    await writeFile(file, slowSettle)
    const out = join(dir.path, 'settling')
    const controller = new AbortController()
    const phases: Array<Progress['phase']> = []
    const lines: string[] = []
    const code = await simulate([file, '--out', out], { out: t => { lines.push(t) }, err: () => {}, verbose: false, env: {}, errIsTTY: false, signal: controller.signal }, {
      progress: p => {
        phases.push(p.phase)
        if (p.phase === 'settling') controller.abort()
      }
    })
    expect(code).toBe(130)
    expect(phases).toContain('settling')
    expect(phases).not.toContain('running')
    expect(lines[0]).toMatch(/^interrupted: 0 calls/)
    const r = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as Report
    expect(r.interrupted).toBe(true)
    expect(r.time.simulatedMs).toBe(0)
    expect(r.calls.made).toBe(0)
    expect(r.events).toEqual([])
  }, 120_000)

  it('as a process, on Ctrl-C in the running phase writes the report and exits 130', async () => {
    const out = join(dir.path, 'running')
    // an hour of timeline: smoke's 60 s can end in under the 5 s before the first progress line on a quiet machine
    const sim = spawnWasmesh(['simulate', 'smoke', '--duration', '3600', '--out', out])
    // without a terminal, progress is a line every 5 s
    await sim.err.waitFor(l => / running /.test(l), sim.exited)
    sim.child.kill('SIGINT')
    expect(await sim.exited).toBe(130)
    expect(sim.err.text).toContain('stopping: reporting what was measured so far')
    expect(sim.err.text).not.toMatch(/StreamStateError|Uncaught|at .*\.ts:\d+/)
    expect(sim.out.text).toMatch(/^interrupted: \d+ calls/m)
    expect(existsSync(join(out, 'report.md'))).toBe(true)
    const r = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as Report
    expect(r.interrupted).toBe(true)
    expect(r.time.simulatedMs).toBeLessThan(3_600_000)
  }, 120_000)
})
