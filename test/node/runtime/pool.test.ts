import { afterEach, describe, expect, it } from 'vitest'
import type { LoadedComponent, RuntimeLimits } from '../../../node/runtime/index.ts'
import { buildArith } from './fixtures.ts'
import { failure, startRuntime, type TestRuntime } from './helpers.ts'

const CALC = 'local:test/calc@0.1.0'

/** A call whose settling can be looked at without awaiting it. */
function track<T> (p: Promise<T>): { readonly done: Promise<T>, settled: boolean } {
  const t = { done: p, settled: false }
  p.then(() => { t.settled = true }, () => { t.settled = true })
  return t
}

/** A runtime whose `add` import (of `add-via-host`) is recorded as it is entered and held until `release()`. */
async function heldRuntime (limits: Partial<RuntimeLimits>, isolation: 'worker' | 'inline'): Promise<{
  t: TestRuntime
  c: LoadedComponent
  /** `[a, b]` of each `add-via-host` call, in the order the guest reached its import. */
  entered: number[][]
  /** Resolves when the guest has reached its import `n` times. */
  reached: (n: number) => Promise<void>
  release: () => void
}> {
  const entered: number[][] = []
  const waiters: Array<{ n: number, resolve: () => void }> = []
  let release = (): void => {}
  const held = new Promise<void>(resolve => { release = resolve })
  const t = await startRuntime({
    limits,
    resolver: async (_iface, _func, params) => {
      entered.push(params as number[])
      for (const w of waiters) if (entered.length >= w.n) w.resolve()
      await held
      return [(params[0] as number) + (params[1] as number)]
    }
  })
  const c = await t.runtime.load(await buildArith(), { name: 'arith', isolation })
  const reached = async (n: number): Promise<void> => {
    if (entered.length >= n) return
    await new Promise<void>(resolve => waiters.push({ n, resolve }))
  }
  return { t, c, entered, reached, release }
}

describe.each(['worker', 'inline'] as const)('the instances of one component (%s)', isolation => {
  let t: TestRuntime | undefined
  afterEach(async () => { await t?.close(); t = undefined })

  it('are shared between callers: one caller\'s stuck calls leave an instance to another, whose call gets its value', async () => {
    const h = await heldRuntime({ maxInstances: 2, callTimeoutMs: 60_000 }, isolation)
    t = h.t
    const a1 = track(t.runtime.call(h.c.id, CALC, 'add-via-host', [1, 2], { caller: 'peer-a' }))
    await h.reached(1)
    // peer-a holds its share (maxInstances - 1 = 1): its next call waits, though the pool could grow.
    const a2 = track(t.runtime.call(h.c.id, '', 'double', [1n], { caller: 'peer-a' }))
    expect(t.runtime.stats(h.c.id).queued).toBe(1)
    expect(await t.runtime.call(h.c.id, '', 'double', [3n], { caller: 'peer-b' })).toEqual([6n])
    expect(a1.settled).toBe(false)
    expect(a2.settled).toBe(false)
    h.release()
    expect(await a1.done).toEqual([3])
    expect(await a2.done).toEqual([2n])
  })

  it('give the node\'s own calls (no caller) every instance: the share guards against peers only', async () => {
    const h = await heldRuntime({ maxInstances: 2, callTimeoutMs: 60_000 }, isolation)
    t = h.t
    const own = [track(t.runtime.call(h.c.id, CALC, 'add-via-host', [1, 2])), track(t.runtime.call(h.c.id, CALC, 'add-via-host', [3, 4]))]
    // both reach the guest's import at once: neither waits behind the other for a share
    await h.reached(2)
    expect(t.runtime.stats(h.c.id).queued).toBe(0)
    h.release()
    expect(await Promise.all(own.map(async o => await o.done))).toEqual([[3], [7]])
  })

  it('time a queued call out by its own deadline, counted from when it was made, while it is still queued', async () => {
    const h = await heldRuntime({ maxInstances: 1, callTimeoutMs: 60_000 }, isolation)
    t = h.t
    const blocker = track(t.runtime.call(h.c.id, CALC, 'add-via-host', [1, 2]))
    await h.reached(1)
    const err = await failure(t.runtime.call(h.c.id, '', 'double', [1n], { timeoutMs: 50 }))
    expect(err.code).toBe('timeout')
    expect(err.message).toMatch(/double did not get an instance within 50 ms/)
    expect(blocker.settled).toBe(false)
    expect(t.runtime.stats(h.c.id).queued).toBe(0)
    h.release()
    expect(await blocker.done).toEqual([3])
  })

  it('serve queued callers in turn, not in arrival order', async () => {
    const h = await heldRuntime({ maxInstances: 1, maxQueued: 3, callTimeoutMs: 60_000 }, isolation)
    t = h.t
    const call = (caller: string, n: number): Promise<unknown[]> => t!.runtime.call(h.c.id, CALC, 'add-via-host', [n, 0], { caller })
    const first = call('peer-a', 1)
    await h.reached(1)
    const queued = [call('peer-a', 2), call('peer-a', 3), call('peer-b', 4)]
    h.release()
    expect(await Promise.all([first, ...queued])).toEqual([[1], [2], [3], [4]])
    expect(h.entered.map(p => p[0])).toEqual([1, 2, 4, 3])
  })

  it('let a caller with fewer queued calls push out the newest call of the caller with the most when the queue is full', async () => {
    const h = await heldRuntime({ maxInstances: 1, maxQueued: 2, callTimeoutMs: 60_000 }, isolation)
    t = h.t
    const call = (caller: string, n: number): Promise<unknown[]> => t!.runtime.call(h.c.id, CALC, 'add-via-host', [n, 0], { caller })
    const a1 = call('peer-a', 1)
    await h.reached(1)
    const a2 = call('peer-a', 2)
    const a3 = failure(call('peer-a', 3))
    const b1 = call('peer-b', 4)
    expect((await a3).code).toBe('overloaded')
    // Now the queue holds one call of each: nobody has more to give up.
    expect((await failure(call('peer-c', 5))).code).toBe('overloaded')
    h.release()
    expect(await Promise.all([a1, a2, b1])).toEqual([[1], [2], [4]])
  })

  it('replace an instance discarded by a trap at once, before any call asks for one', async () => {
    t = await startRuntime({ limits: { maxInstances: 1 } })
    const c = await t.runtime.load(await buildArith(), { isolation })
    expect((await failure(t.runtime.call(c.id, CALC, 'boom', []))).code).toBe('trap')
    expect(t.runtime.stats(c.id)).toMatchObject({ instances: 0, starting: 1, queued: 0 })
    expect(await t.runtime.call(c.id, '', 'double', [2n])).toEqual([4n])
  })

  it('refuse a timeout that is not a positive number of milliseconds', async () => {
    t = await startRuntime()
    const c = await t.runtime.load(await buildArith(), { isolation })
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number]) {
      expect((await failure(t.runtime.call(c.id, '', 'double', [1n], { timeoutMs }))).code).toBe('invalid-params')
    }
  })
})

describe('looping guests in worker instances', () => {
  let t: TestRuntime | undefined
  afterEach(async () => { await t?.close(); t = undefined })

  it('two loops of one caller: another caller gets its value while they spin; they fail with `timeout` and the terminated instance is replaced at once', async () => {
    const h = await heldRuntime({ maxInstances: 2, callTimeoutMs: 1000 }, 'worker')
    t = h.t
    const c = h.c
    // Both instances started first (two callers' calls held in the guest at once), so that no cold start races the deadlines below.
    const warm = [t.runtime.call(c.id, CALC, 'add-via-host', [1, 1], { caller: 'x' }), t.runtime.call(c.id, CALC, 'add-via-host', [2, 2], { caller: 'y' })]
    await h.reached(2)
    h.release()
    await Promise.all(warm)
    expect(t.runtime.stats(c.id)).toMatchObject({ instances: 2, busy: 0 })
    const [running, waiting] = [0, 1].map(() => track(failure(t!.runtime.call(c.id, CALC, 'spin', [], { caller: 'peer-a' }))))
    expect(await t.runtime.call(c.id, '', 'double', [3n], { caller: 'peer-b' })).toEqual([6n])
    expect([running.settled, waiting.settled]).toEqual([false, false])
    const stopped = await running.done
    expect(stopped.code).toBe('timeout')
    expect(stopped.message).toMatch(/spin did not return within 1000 ms/)
    // Its successor is already starting: the next call does not wait for a cold start, nor for the old thread.
    const stats = t.runtime.stats(c.id)
    expect(stats.starting).toBe(1)
    expect(stats.instances + stats.starting).toBe(2)
    const queued = await waiting.done
    expect(queued.code).toBe('timeout')
    // Normally still queued at its deadline; had it been given the freed instance in its last millisecond, it ran out there.
    expect(queued.message).toMatch(/spin did not (get an instance|return) within/)
    expect(await t.runtime.call(c.id, '', 'double', [4n], { caller: 'peer-a' })).toEqual([8n])
  })
})
