// Scale from zero: idle instances are reaped after instanceIdleTimeoutMs (down to minInstances), the next call starts a fresh one, and handles of a reaped instance are lost, never served by another.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RuntimeError } from '../../../node/runtime/errors.ts'
import type { LoadedComponent } from '../../../node/runtime/index.ts'
import { eventually } from '../../support/eventually.ts'
import { buildArith } from './fixtures.ts'
import { failure, startRuntime, type TestRuntime } from './helpers.ts'

const CALC = 'local:test/calc@0.1.0'

describe.each(['worker', 'inline'] as const)('reaping idle instances (%s)', isolation => {
  let t: TestRuntime
  let c: LoadedComponent
  /** Imports of `add` wait here while `held` is set, which keeps their calls (and instances) busy. */
  let held: Promise<void> | null = null
  let arrived = 0

  beforeAll(async () => {
    t = await startRuntime({
      limits: { callTimeoutMs: 5000, maxInstances: 2, maxInstancesPerCaller: 2, instanceIdleTimeoutMs: 100, minInstances: 0 },
      resolver: async (iface, func, params) => {
        arrived++
        if (held !== null) await held
        if (iface === 'local:test/math@0.1.0' && func === 'add') return [(params[0] as number) + (params[1] as number)]
        throw new RuntimeError('unresolved-import', `nobody serves ${iface}#${func}`)
      }
    })
    c = await t.runtime.load(await buildArith(), { name: 'arith', isolation })
  })
  afterAll(async () => { await t.close() })

  it('reaps the instance the load started, and the next call starts a fresh one', async () => {
    await eventually('the load instance reaped', () => t.runtime.stats(c.id).instances === 0)
    const before = t.runtime.stats(c.id).reaped
    expect(before).toBeGreaterThanOrEqual(1)
    expect(await t.runtime.call(c.id, '', 'double', [21n])).toEqual([42n])
    expect(t.runtime.stats(c.id).instances).toBe(1)
    await eventually('that one reaped too', () => t.runtime.stats(c.id).reaped > before && t.runtime.stats(c.id).instances === 0)
  })

  it('fails a call on a handle of a reaped instance with resource-lost, also once a new instance runs', async () => {
    const [h] = await t.runtime.call(c.id, CALC, '[constructor]acc', [5n])
    expect(await t.runtime.call(c.id, CALC, '[method]acc.total', [h])).toEqual([5n])
    const before = t.runtime.stats(c.id).reaped
    await eventually('the owner reaped', () => t.runtime.stats(c.id).reaped > before)
    expect((await failure(t.runtime.call(c.id, CALC, '[method]acc.total', [h]))).code).toBe('resource-lost')
    // A fresh instance now runs; the old handle must still not reach it (the fresh one would know no such handle: invalid-params, or worse, another acc).
    const [h2] = await t.runtime.call(c.id, CALC, '[constructor]acc', [7n])
    expect(t.runtime.stats(c.id).instances).toBe(1)
    expect((await failure(t.runtime.call(c.id, CALC, '[method]acc.add', [h, 1n]))).code).toBe('resource-lost')
    expect(await t.runtime.call(c.id, CALC, '[method]acc.total', [h2])).toEqual([7n])
    // Dropping a lost handle is not an error: there is nothing left to release.
    expect(await t.runtime.call(c.id, CALC, '[resource-drop]acc', [h])).toEqual([])
    expect(await t.runtime.call(c.id, CALC, '[resource-drop]acc', [h2])).toEqual([])
  })

  it('never reaps a busy instance: a call waiting on an import past the idle timeout completes', async () => {
    let release = (): void => {}
    held = new Promise(resolve => { release = resolve })
    const seen = arrived
    const reapedBefore = t.runtime.stats(c.id).reaped
    const call = t.runtime.call(c.id, CALC, 'add-via-host', [40, 2])
    try {
      await eventually('the call waiting on its import', () => arrived > seen)
      // A second, idle instance started and reaped meanwhile proves the reaper ran while the first was busy.
      expect(await t.runtime.call(c.id, '', 'double', [1n])).toEqual([2n])
      await eventually('the idle neighbour reaped', () => t.runtime.stats(c.id).reaped > reapedBefore)
      expect(t.runtime.stats(c.id).busy).toBe(1)
    } finally {
      held = null
      release()
    }
    expect(await call).toEqual([42])
  })
})

describe('minInstances', () => {
  let t: TestRuntime
  let c: LoadedComponent
  let held: Promise<void> | null = null
  let arrived = 0

  beforeAll(async () => {
    t = await startRuntime({
      limits: { callTimeoutMs: 5000, maxInstances: 3, maxInstancesPerCaller: 3, instanceIdleTimeoutMs: 100, minInstances: 1 },
      resolver: async (_iface, _func, params) => {
        arrived++
        if (held !== null) await held
        return [(params[0] as number) + (params[1] as number)]
      }
    })
    c = await t.runtime.load(await buildArith(), { name: 'arith-min', isolation: 'inline' })
  })
  afterAll(async () => { await t.close() })

  it('reaps down to minInstances and no further', async () => {
    let release = (): void => {}
    held = new Promise(resolve => { release = resolve })
    const calls = [1, 2, 3].map(async n => await t.runtime.call(c.id, CALC, 'add-via-host', [n, n]))
    try {
      await eventually('three calls on three instances', () => arrived >= 3 && t.runtime.stats(c.id).instances === 3)
    } finally {
      held = null
      release()
    }
    expect(await Promise.all(calls)).toEqual([[2], [4], [6]])
    // One sweep reaps every instance due; it stops at minInstances.
    await eventually('two of three reaped', () => t.runtime.stats(c.id).reaped >= 2)
    expect(t.runtime.stats(c.id)).toMatchObject({ instances: 1, reaped: 2 })
    expect(await t.runtime.call(c.id, '', 'double', [3n])).toEqual([6n])
  })
})
