// Shared workers: instances of several components on a few threads; a looping guest is stopped at its deadline and its neighbours keep serving (their calls that had not started run again, none runs twice); handles of a lost instance fail with resource-lost.
import { afterEach, describe, expect, it } from 'vitest'
import type { LoadedComponent, RuntimeError } from '../../../node/runtime/index.ts'
import { buildArith } from './fixtures.ts'
import { failure, startRuntime, type TestRuntime } from './helpers.ts'

const CALC = 'local:test/calc@0.1.0'
let t: TestRuntime | undefined

afterEach(async () => {
  await t?.close()
  t = undefined
})

/** The arith fixture under `count` digests (a custom section each): distinct components, as the runtime sees them. */
async function ariths (count: number): Promise<Uint8Array[]> {
  const bytes = await buildArith()
  return Array.from({ length: count }, (_, k) => {
    const name = new TextEncoder().encode(`shared-${k}`)
    const section = new Uint8Array([0, name.length + 1, name.length, ...name])
    const out = new Uint8Array(bytes.length + section.length)
    out.set(bytes)
    out.set(section, bytes.length)
    return out
  })
}

async function loadAll (rt: TestRuntime, count: number): Promise<LoadedComponent[]> {
  const out: LoadedComponent[] = []
  for (const bytes of await ariths(count)) out.push(await rt.runtime.load(bytes, { isolation: 'worker' }))
  return out
}

describe('shared workers', () => {
  it('hold many components on a few threads, each callable, with its own instance state', async () => {
    t = await startRuntime({ limits: { sharedWorkers: 2, maxInstances: 1 } })
    const cs = await loadAll(t, 12)
    const results = await Promise.all(cs.map(async (c, k) => await t?.runtime.call(c.id, '', 'double', [BigInt(k)])))
    expect(results).toEqual(cs.map((_, k) => [BigInt(2 * k)]))
    // A resource of one instance is that instance's: another component's instance on the same thread knows nothing of it.
    const [acc] = await t.runtime.call(cs[0].id, CALC, '[constructor]acc', [5n])
    await t.runtime.call(cs[0].id, CALC, '[method]acc.add', [acc, 2n])
    expect(await t.runtime.call(cs[0].id, CALC, '[method]acc.total', [acc])).toEqual([7n])
    expect((await failure(t.runtime.call(cs[1].id, CALC, '[method]acc.total', [acc]))).code).toBe('invalid-params')
  })

  it('stop a looping guest at its deadline; a neighbour\'s call queued behind it runs again elsewhere and answers', async () => {
    t = await startRuntime({ limits: { sharedWorkers: 1, callTimeoutMs: 20_000, maxInstances: 1 } })
    const [looper, neighbour] = await loadAll(t, 2)
    // One thread: the neighbour's call waits behind the loop there, and cannot have started when the thread is stopped.
    const spin = t.runtime.call(looper.id, CALC, 'spin', [], { timeoutMs: 300 })
    const queued = t.runtime.call(neighbour.id, '', 'double', [21n])
    expect(((await failure(spin)) as RuntimeError).code).toBe('timeout')
    expect(await queued).toEqual([42n])
    // Both keep serving, on the thread that replaced it.
    expect(await t.runtime.call(looper.id, '', 'double', [1n])).toEqual([2n])
    expect(await t.runtime.call(neighbour.id, '', 'double', [2n])).toEqual([4n])
  })

  it('never run a call twice: the neighbour whose call holds the thread fails, the one whose deadline passed fails with timeout', async () => {
    t = await startRuntime({ limits: { sharedWorkers: 1, callTimeoutMs: 20_000, maxInstances: 1 } })
    const [a, b] = await loadAll(t, 2)
    // a loops with a long deadline; b's short one passes first, while b's call still waits behind a's loop.
    const long = t.runtime.call(a.id, CALC, 'spin', [], { timeoutMs: 15_000 })
    const short = t.runtime.call(b.id, '', 'double', [1n], { timeoutMs: 300 })
    expect((await failure(short)).code).toBe('timeout')
    // a's call had begun (it held the thread): it fails, it is not run again (it would loop a second time).
    const lost = await failure(long)
    expect(lost.code).toBe('trap')
    expect(lost.message).toMatch(/stopped/)
    expect(await t.runtime.call(a.id, '', 'double', [5n])).toEqual([10n])
  })

  it('fail handles of an instance lost with its thread with resource-lost, never serve them elsewhere', async () => {
    t = await startRuntime({ limits: { sharedWorkers: 1, callTimeoutMs: 20_000, maxInstances: 1 } })
    const [owner, looper] = await loadAll(t, 2)
    const [acc] = await t.runtime.call(owner.id, CALC, '[constructor]acc', [1n])
    expect((await failure(t.runtime.call(looper.id, CALC, 'spin', [], { timeoutMs: 300 }))).code).toBe('timeout')
    expect((await failure(t.runtime.call(owner.id, CALC, '[method]acc.total', [acc]))).code).toBe('resource-lost')
    expect(await t.runtime.call(owner.id, '', 'double', [3n])).toEqual([6n])
  })

  it('end a thread instanceIdleTimeoutMs after its last instance was reaped, and start one again on the next call', async () => {
    t = await startRuntime({ limits: { sharedWorkers: 2, instanceIdleTimeoutMs: 50, minInstances: 0 } })
    const cs = await loadAll(t, 3)
    expect(t.runtime.sharedWorkers).toBeGreaterThan(0)
    expect(t.runtime.sharedWorkers).toBeLessThanOrEqual(2)
    for (let round = 0; round < 2; round++) {
      await expect.poll(() => cs.every(c => t?.runtime.stats(c.id).instances === 0)).toBe(true)
      await expect.poll(() => t?.runtime.sharedWorkers).toBe(0)
      for (const [k, c] of cs.entries()) expect(await t.runtime.call(c.id, '', 'double', [BigInt(k + round)])).toEqual([BigInt(2 * (k + round))])
      expect(t.runtime.sharedWorkers).toBeGreaterThan(0)
    }
    await t.runtime.stop()
    expect(t.runtime.sharedWorkers).toBe(0)
  })

  it('keep a thread whose instances were reaped while instanceIdleTimeoutMs has not passed since', async () => {
    // The instance is reaped after 3 s idle; the thread then lingers as long: the next instance lands on the warm thread.
    t = await startRuntime({ limits: { sharedWorkers: 1, instanceIdleTimeoutMs: 3000, minInstances: 0 } })
    const [c] = await loadAll(t, 1)
    await expect.poll(() => t?.runtime.stats(c.id).instances, { timeout: 15_000, interval: 20 }).toBe(0)
    expect(t.runtime.sharedWorkers).toBe(1)
    expect(await t.runtime.call(c.id, '', 'double', [8n])).toEqual([16n])
    expect(t.runtime.sharedWorkers).toBe(1)
  })
})
