// A guest's stdout and stderr: whole lines into the node's log with its name, at most maxLogLinesPerSecond of them (a guest printing in a loop floods nothing), in every isolation.
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../../support/eventually.ts'
import { examplePaths, startRuntime, type TestRuntime } from './helpers.ts'

const PROBE = 'wasmesh:examples/probe'
let paths: Record<string, string>
let t: TestRuntime | undefined

beforeAll(async () => {
  paths = await examplePaths(['sandbox-probe'])
}, 300_000)

afterEach(async () => {
  await t?.close()
  t = undefined
})

const cases = [
  ['a shared worker', 'worker', {}],
  ['a worker of its own', 'worker', { sharedWorkers: 0 }],
  ['inline', 'inline', {}]
] as const

describe.each(cases)('guest output (%s)', (_, isolation, limits) => {
  it('is bounded by maxLogLinesPerSecond where the guest writes it, and says how much was dropped', async () => {
    t = await startRuntime({ limits: { ...limits, maxLogLinesPerSecond: 1 } })
    const c = await t.runtime.load(paths['sandbox-probe'], { isolation })
    const printed = (): string[] => t?.logs.filter(l => l.includes('line to')) ?? []
    // 40 lines, far faster than one a second: the first goes through, the rest are dropped where they are written.
    for (let k = 0; k < 20; k++) await t.runtime.call(c.id, PROBE, 'print', [`line to stdout ${k}`, `line to stderr ${k}`])
    await eventually('the first line', () => printed().length > 0)
    // Once a line may go again, the count of those dropped goes before it.
    await eventually('the count of dropped lines', async () => {
      await t?.runtime.call(c.id, PROBE, 'print', ['line to stdout again', 'line to stderr again'])
      return t?.logs.some(l => /\[sandbox-probe\] \d+ lines of output dropped \(maxLogLinesPerSecond 1\)/.test(l)) === true
    }, { timeoutMs: 20_000, intervalMs: 250 })
    expect(printed()[0]).toBe('[sandbox-probe] line to stdout 0')
    expect(printed().filter(l => / \d+$/.test(l)).length).toBeLessThan(40)
  }, 60_000)
})
