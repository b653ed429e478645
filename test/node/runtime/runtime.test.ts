import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RuntimeError } from '../../../node/runtime/errors.ts'
import type { LoadedComponent } from '../../../node/runtime/index.ts'
import { buildArith, buildNames } from './fixtures.ts'
import { failure, startRuntime, type TestRuntime } from './helpers.ts'

const CALC = 'local:test/calc@0.1.0'

/** What both isolations must do alike; spinning guests only where a deadline can stop them (worker). */
describe.each(['worker', 'inline'] as const)('calling a WAT-built component (%s)', isolation => {
  let t: TestRuntime
  let c: LoadedComponent
  const imported: unknown[][] = []
  /** Imports of `add` wait here while `held` is set. */
  let held: Promise<void> | null = null

  beforeAll(async () => {
    t = await startRuntime({
      // One caller (`local`) may use both instances here: the per-caller share has tests of its own (pool.test.ts).
      limits: { callTimeoutMs: 1500, maxInstances: 2, maxInstancesPerCaller: 2, maxQueued: 1 },
      resolver: async (iface, func, params) => {
        imported.push([iface, func, params])
        if (held !== null) await held
        if (iface === 'local:test/math@0.1.0' && func === 'add') return [(params[0] as number) + (params[1] as number)]
        throw new RuntimeError('unresolved-import', `nobody serves ${iface}#${func}`)
      }
    })
    c = await t.runtime.load(await buildArith(), { name: 'arith', isolation })
  })
  afterAll(async () => { await t.close() })

  it('loads with a digest id, a name, the isolation and the instantiation time', () => {
    expect(c.id).toMatch(/^[0-9a-f]{64}$/)
    expect(c.name).toBe('arith')
    expect(c.isolation).toBe(isolation)
    expect(c.instantiateMs).toBeGreaterThan(0)
  })

  it('calls a bare world function and interface functions with exact values', async () => {
    expect(await t.runtime.call(c.id, '', 'double', [2n ** 62n])).toEqual([2n ** 63n])
    expect(await t.runtime.call(c.id, CALC, 'echo', ['héllo 🌍 ' + 'x'.repeat(100_000)])).toEqual(['héllo 🌍 ' + 'x'.repeat(100_000)])
    expect(await t.runtime.call(c.id, 'local:test/calc', 'echo', [''])).toEqual([''])
  })

  it('wraps results as {tag, val} (a thrown ComponentError becomes err) and options as undefined', async () => {
    expect(await t.runtime.call(c.id, CALC, 'div', [7, 2])).toEqual([{ tag: 'ok', val: 3 }])
    expect(await t.runtime.call(c.id, CALC, 'div', [7, 0])).toEqual([{ tag: 'err', val: 7 }])
    expect(await t.runtime.call(c.id, CALC, 'first', [new Uint8Array([9, 8])])).toEqual([9])
    expect(await t.runtime.call(c.id, CALC, 'first', [new Uint8Array()])).toEqual([undefined])
  })

  it('gives out resources as opaque handles kept by the instance that made them, until dropped', async () => {
    const [h] = await t.runtime.call(c.id, CALC, '[constructor]acc', [5n])
    expect(h).toBeInstanceOf(Uint8Array)
    // Calls in parallel: the methods must reach the instance that holds the resource.
    await Promise.all([1n, 2n].map(async n => await t.runtime.call(c.id, CALC, '[method]acc.add', [h, n])))
    expect(await t.runtime.call(c.id, CALC, '[method]acc.total', [h])).toEqual([8n])
    expect(await t.runtime.call(c.id, CALC, '[resource-drop]acc', [h])).toEqual([])
    expect((await failure(t.runtime.call(c.id, CALC, '[method]acc.total', [h]))).code).toBe('invalid-params')
    expect((await failure(t.runtime.call(c.id, CALC, '[method]acc.total', [new Uint8Array(16)]))).code).toBe('invalid-params')
  })

  it('sends imports to the resolver', async () => {
    expect(await t.runtime.call(c.id, CALC, 'add-via-host', [40, 2])).toEqual([42])
    expect(imported).toContainEqual(['local:test/math@0.1.0', 'add', [40, 2]])
  })

  it('fails unknown exports and bad parameters without touching an instance', async () => {
    expect((await failure(t.runtime.call(c.id, CALC, 'nope', []))).code).toBe('no-such-export')
    expect((await failure(t.runtime.call(c.id, 'local:test/other', 'echo', ['x']))).code).toBe('no-such-export')
    expect((await failure(t.runtime.call(c.id, CALC, 'echo', []))).code).toBe('invalid-params')
    expect((await failure(t.runtime.call('0'.repeat(64), CALC, 'echo', ['x']))).code).toBe('no-such-component')
  })

  it('turns a trap into `trap` with its message and replaces the instance', async () => {
    const err = await failure(t.runtime.call(c.id, CALC, 'boom', []))
    expect(err.code).toBe('trap')
    expect(err.message).toMatch(/unreachable/)
    expect(await t.runtime.call(c.id, '', 'double', [1n])).toEqual([2n])
  })

  it('fails a call still awaiting an import at the deadline with `timeout`, discarding its instance; other calls keep working', async () => {
    let release = (): void => {}
    held = new Promise(resolve => { release = resolve })
    try {
      const [late, ok] = await Promise.allSettled([
        t.runtime.call(c.id, CALC, 'add-via-host', [1, 2]),
        t.runtime.call(c.id, '', 'double', [3n])
      ])
      expect(late.status === 'rejected' && (late.reason as RuntimeError).code).toBe('timeout')
      expect(ok.status === 'fulfilled' && ok.value).toEqual([6n])
    } finally {
      held = null
      release()
    }
    expect(await t.runtime.call(c.id, '', 'double', [4n])).toEqual([8n])
    expect(await t.runtime.call(c.id, CALC, 'add-via-host', [40, 2])).toEqual([42])
  })

  it('discards an instance that exhausted its memory', async () => {
    expect((await failure(t.runtime.call(c.id, CALC, 'grow', []))).code).toBe('trap')
    expect(await t.runtime.call(c.id, '', 'double', [5n])).toEqual([10n])
  })

  it('loses resources whose instance is gone', async () => {
    const [h] = await t.runtime.call(c.id, CALC, '[constructor]acc', [1n])
    // Keep both instances busy so the trap lands on... any instance: trap until the owner is gone.
    for (let i = 0; i < 4; i++) await t.runtime.call(c.id, CALC, 'boom', []).catch(() => {})
    expect((await failure(t.runtime.call(c.id, CALC, '[method]acc.total', [h]))).code).toBe('resource-lost')
  })

  it('refuses at once with `overloaded` when instances and queue are full', async () => {
    let release = (): void => {}
    held = new Promise(resolve => { release = resolve })
    try {
      const calls = [0, 1, 2, 3].map(async () => await t.runtime.call(c.id, CALC, 'add-via-host', [1, 1]))
      // Two instances wait on the import, one call is queued, the fourth is refused without waiting.
      const fourth = await Promise.race([calls[3].then(() => 'ok', (e: RuntimeError) => e.code), new Promise(resolve => setTimeout(resolve, 1000, 'waited'))])
      expect(fourth).toBe('overloaded')
      release()
      const results = await Promise.allSettled(calls)
      expect(results.map(r => r.status === 'fulfilled' ? r.value : (r.reason as RuntimeError).code)).toEqual([[2], [2], [2], 'overloaded'])
    } finally {
      held = null
      release()
    }
    expect(t.runtime.stats(c.id).queued).toBe(0)
  })

  it('reports stats per component', async () => {
    const s = t.runtime.stats(c.id)
    expect(s.busy).toBe(0)
    expect(s.instances).toBeLessThanOrEqual(2)
  })
})

/** jco names things by heck's lower/upper camel case (`get-HTTP-body` -> `getHttpBody`, `%type` -> `type`); so must we. */
describe.each(['worker', 'inline'] as const)('WIT names jco rewrites (%s)', isolation => {
  const API = 'local:names/api@0.1.0'
  let t: TestRuntime
  let c: LoadedComponent
  beforeAll(async () => {
    t = await startRuntime()
    c = await t.runtime.load(await buildNames(), { name: 'names', isolation })
  })
  afterAll(async () => { await t.close() })

  it('finds resource handles in record fields named `get-HTTP-body` and `%type`, and calls `HTTP-acc` methods named `get-TOTAL`', async () => {
    const [pair] = await t.runtime.call(c.id, API, 'make-HTTP-pair', [3n, 4n]) as [Record<string, unknown>]
    expect(Object.keys(pair).sort()).toEqual(['getHttpBody', 'type'])
    expect(pair.getHttpBody).toBeInstanceOf(Uint8Array)
    expect(pair.type).toBeInstanceOf(Uint8Array)
    expect(await t.runtime.call(c.id, API, '[method]HTTP-acc.get-TOTAL', [pair.getHttpBody])).toEqual([3n])
    expect(await t.runtime.call(c.id, API, '[method]HTTP-acc.get-TOTAL', [pair.type])).toEqual([4n])
    const [made] = await t.runtime.call(c.id, API, '[constructor]HTTP-acc', [9n])
    expect(await t.runtime.call(c.id, API, '[method]HTTP-acc.get-TOTAL', [made])).toEqual([9n])
  })
})

describe('a worker instance', () => {
  let t: TestRuntime
  let c: LoadedComponent
  beforeAll(async () => {
    t = await startRuntime({ limits: { callTimeoutMs: 1500, maxInstances: 2, maxInstancesPerCaller: 2, maxQueued: 1 } })
    c = await t.runtime.load(await buildArith(), { name: 'arith' })
  })
  afterAll(async () => { await t.close() })

  it('is the default, and its infinite loop is stopped at the deadline with `timeout`; other calls keep working', async () => {
    expect(c.isolation).toBe('worker')
    const [spin, ok] = await Promise.allSettled([
      t.runtime.call(c.id, CALC, 'spin', []),
      t.runtime.call(c.id, '', 'double', [3n])
    ])
    expect(spin.status === 'rejected' && (spin.reason as RuntimeError).code).toBe('timeout')
    expect(ok.status === 'fulfilled' && ok.value).toEqual([6n])
    expect(await t.runtime.call(c.id, '', 'double', [4n])).toEqual([8n])
  })
})

describe('the isolation setting', () => {
  it('refuses anything but worker or inline', async () => {
    const t = await startRuntime()
    try {
      const err = await failure(t.runtime.load(await buildArith(), { isolation: 'none' as 'inline' }))
      expect(err.code).toBe('invalid-params')
      expect(err.message).toMatch(/worker or inline/)
    } finally {
      await t.close()
    }
  })
})

describe.each(['worker', 'inline'] as const)('imports no one serves (%s)', isolation => {
  it('fail the call that needs them with `unresolved-import`, naming it; other exports still work', async () => {
    const t = await startRuntime()
    try {
      const c = await t.runtime.load(await buildArith(), { isolation })
      const err = await failure(t.runtime.call(c.id, CALC, 'add-via-host', [1, 2]))
      expect(err.code).toBe('unresolved-import')
      expect(err.message).toContain('local:test/math@0.1.0#add')
      expect(await t.runtime.call(c.id, CALC, 'echo', ['still here'])).toEqual(['still here'])
    } finally {
      await t.close()
    }
  })
})

describe('the runtime lifecycle', () => {
  it('refuses work when stopped and fails calls of an unloaded component', async () => {
    const t = await startRuntime()
    const c = await t.runtime.load(await buildArith())
    await t.runtime.unload(c.id)
    expect((await failure(t.runtime.call(c.id, '', 'double', [1n]))).code).toBe('no-such-component')
    await t.close()
    expect((await failure(t.runtime.call(c.id, '', 'double', [1n]))).code).toBe('stopped')
    expect((await failure(t.runtime.load(await buildArith()))).code).toBe('stopped')
  })

  it('fails a call in flight with `stopped` when the runtime stops', async () => {
    const t = await startRuntime({ limits: { callTimeoutMs: 60_000 } })
    const c = await t.runtime.load(await buildArith())
    const spinning = failure(t.runtime.call(c.id, CALC, 'spin', []))
    await new Promise(resolve => setImmediate(resolve))
    await t.close()
    expect((await spinning).code).toBe('stopped')
  })

  it('fails an inline call awaiting an import with `stopped` when the runtime stops, and the guest never reaches its imports again', async () => {
    let entered = (): void => {}
    const inImport = new Promise<void>(resolve => { entered = resolve })
    let imports = 0
    const t = await startRuntime({
      limits: { callTimeoutMs: 60_000 },
      resolver: async () => {
        imports++
        entered()
        return await new Promise<unknown[]>(() => {})
      }
    })
    const c = await t.runtime.load(await buildArith(), { isolation: 'inline' })
    const waiting = failure(t.runtime.call(c.id, CALC, 'add-via-host', [1, 2]))
    await inImport
    await t.close()
    expect((await waiting).code).toBe('stopped')
    expect(imports).toBe(1)
  })
})
