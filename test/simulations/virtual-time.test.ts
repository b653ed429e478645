// Virtual time: the clocks it replaces, the guard against real timers, and the same seed giving the same report.

import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { setTimeout as realSetTimeout } from 'node:timers'
import { setTimeout as realSleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { createVirtualTime, VirtualTimeError } from '../../simulations/virtual-time.ts'
import { loadScenario, meshFigures, runSimulation } from '../../simulations/index.ts'

const EPOCH = Date.UTC(2026, 0, 1)

describe('a virtual-time run', () => {
  it('runs timers, Date, performance.now, hrtime, setImmediate and AbortSignal.timeout on simulated time', async () => {
    const vt = createVirtualTime({ epochMs: EPOCH })
    const seen = await vt.run(async () => {
      const perf0 = performance.now()
      const hr0 = process.hrtime.bigint()
      // an hour of simulated waiting
      await new Promise(resolve => { setTimeout(resolve, 3_600_000) })
      const afterHour = { date: Date.now(), newDate: new Date().getTime(), perf: performance.now() - perf0, hrMs: Number((process.hrtime.bigint() - hr0) / 1_000_000n) }
      const signal = AbortSignal.timeout(250)
      const reason = await new Promise<unknown>(resolve => { signal.addEventListener('abort', () => { resolve(signal.reason) }) })
      let ticks = 0
      await new Promise<void>(resolve => {
        const iv = setInterval(() => { if (++ticks === 4) { clearInterval(iv); resolve() } }, 100)
      })
      await new Promise(resolve => { setImmediate(resolve) })
      return { afterHour, reason, ticks, end: Date.now() }
    })
    expect(seen.afterHour).toEqual({ date: EPOCH + 3_600_000, newDate: EPOCH + 3_600_000, perf: 3_600_000, hrMs: 3_600_000 })
    expect(seen.reason).toBeInstanceOf(DOMException)
    expect((seen.reason as DOMException).name).toBe('TimeoutError')
    expect(seen.ticks).toBe(4)
    expect(seen.end).toBe(EPOCH + 3_600_000 + 250 + 400)
    expect(vt.stats.timersFired).toBe(1 + 1 + 4 + 1)
    // the real clocks are back
    expect(Math.abs(Date.now() - EPOCH)).toBeGreaterThan(1_000)
  })

  it('draws Math.random and crypto.getRandomValues from the generators it is given, and puts the real ones back', async () => {
    const vt = createVirtualTime({ random: () => 0.25, randomBytes: n => new Uint8Array(n).fill(9) })
    const inside = await vt.run(async () => ({ r: Math.random(), b: [...crypto.getRandomValues(new Uint8Array(4))] }))
    expect(inside).toEqual({ r: 0.25, b: [9, 9, 9, 9] })
    const outside = new Set(Array.from({ length: 8 }, () => Math.random()))
    expect(outside.size).toBeGreaterThan(1)
  })

  it('fails when a real timer fires inside, naming where it was set', async () => {
    const vt = createVirtualTime()
    const err = await vt.run(async () => {
      await new Promise(resolve => { realSetTimeout(resolve, 1) })
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(VirtualTimeError)
    expect((err as VirtualTimeError).code).toBe('real-timer')
    expect((err as Error).message).toMatch(/set at .*virtual-time\.test\.ts:\d+/)
  })

  it('fails on a real sleep from node:timers/promises too', async () => {
    const vt = createVirtualTime()
    const err = await vt.run(async () => { await realSleep(1) }).catch((e: unknown) => e)
    expect((err as VirtualTimeError).code).toBe('real-timer')
    expect((err as Error).message).toMatch(/virtual-time\.test\.ts/)
  })

  it('says it stalled when it waits for something that no timer or I/O can bring', async () => {
    const vt = createVirtualTime({ stallAfterWallMs: 50 })
    const err = await vt.run(async () => { await new Promise(() => {}) }).catch((e: unknown) => e)
    expect((err as VirtualTimeError).code).toBe('stalled')
  })

  it("fails with the timer's error when a callback throws, and refuses a second run at once", async () => {
    const vt = createVirtualTime()
    const err = await vt.run(async () => {
      setTimeout(() => { throw new Error('boom') }, 10)
      await new Promise(resolve => { setTimeout(resolve, 20) })
    }).catch((e: unknown) => e)
    expect((err as VirtualTimeError).code).toBe('timer-threw')
    expect(((err as Error).cause as Error).message).toBe('boom')

    let inner: unknown
    await createVirtualTime().run(async () => {
      inner = await createVirtualTime().run(async () => 1).catch((e: unknown) => e)
    })
    expect((inner as VirtualTimeError).code).toBe('already-running')
  })

  it('waits for real I/O before moving time: a file read inside completes at the simulated time it began', async () => {
    const vt = createVirtualTime()
    const at = await vt.run(async () => {
      const started = performance.now()
      // a timer due soon after must not fire before the read finishes
      let timerFired = false
      setTimeout(() => { timerFired = true }, 1)
      await readFile(new URL(import.meta.url))
      return { elapsed: performance.now() - started, timerFired }
    })
    expect(at).toEqual({ elapsed: 0, timerFired: false })
  })
})

/** A busy-loop child process: resolves once it spins, with its CPU time so far (from /proc) and a stop. */
async function startHog (): Promise<{ cpuMs: () => Promise<number>, stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['-e', 'process.stdout.write("spinning\\n"); for (;;) {}'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => { resolve() })
    child.once('error', reject)
    child.once('exit', code => { reject(new Error(`the hog exited (${code})`)) })
  })
  return {
    // utime + stime, fields 14 and 15 of /proc/<pid>/stat, in clock ticks of 10 ms
    cpuMs: async () => {
      const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return (Number(fields[11]) + Number(fields[12])) * 10
    },
    stop: async () => {
      child.kill('SIGKILL')
      await exited
    }
  }
}

describe('the smoke scenario in virtual time', () => {
  it('gives the same report, every figure that does not measure the host, twice in a row and beside a CPU hog', async () => {
    const scenario = await loadScenario('smoke')
    const a = await runSimulation(scenario)
    expect(a.time.mode).toBe('virtual')
    expect(a.calls.made).toBeGreaterThan(100)
    expect(a.convergence.exportChange.count).toBeGreaterThan(0)
    // the second run shares the cores with a process that spins for as long as it runs
    const hog = await startHog()
    let b: Awaited<ReturnType<typeof runSimulation>>
    let hogMs: number
    try {
      const before = await hog.cpuMs()
      b = await runSimulation(scenario)
      hogMs = await hog.cpuMs() - before
    } finally {
      await hog.stop()
    }
    // the hog did compete: it took CPU for a good part of the run (smoke's timeline alone is seconds of CPU)
    expect(hogMs).toBeGreaterThan(500)
    expect(meshFigures(b)).toEqual(meshFigures(a))
    // and another seed is another run
    const c = await runSimulation(await loadScenario('smoke', { seed: 8 }))
    expect(meshFigures(c)).not.toEqual(meshFigures(a))
  }, 300_000)
})
