import { createPrng } from '../../simulations/prng.ts'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Advert, AdvertExport } from '../../protocol/advert.ts'
import { RemoteError, SessionError } from '../../protocol/session.ts'
import { createRegistry } from '../../node/registry.ts'
import type { Registry, Server } from '../../node/registry.ts'
import { createRouter, RouterError } from '../../node/router.ts'
import type { LocalRoute, RouterInit } from '../../node/router.ts'
import { createHandleLedger } from '../../node/handles.ts'
import type { HandleLedger } from '../../node/handles.ts'

const SELF = 'QmMe'
const D = 'ab'.repeat(32)
const IFACE = 'a:b/c@1.0.0'

/** The simulations' seeded generator, so "random" choices are the same on every run. */
function seeded (seed: number): () => number {
  const prng = createPrng(seed)
  return () => prng.next()
}

function exp (over: Partial<AdvertExport> = {}): AdvertExport {
  return { iface: IFACE, digest: D, capacity: 4, load: 0, ...over }
}

function advert (peer: string, over: Partial<Advert> = {}, seq = 1n): Advert {
  return { peer, seq, lattice: 'default', addresses: [], labels: {}, exports: [exp()], ttlMs: 60_000, withdrawn: false, ...over }
}

type Behaviour = (server: Server, signal: AbortSignal) => Promise<unknown[]> | unknown[]

interface Setup {
  registry: Registry
  time: { now: number }
  calls: string[]
  router: ReturnType<typeof createRouter>
  handles: HandleLedger
  behave: Map<string, Behaviour>
}

function setup (peers: Array<string | Advert>, init: Partial<RouterInit> = {}, local?: AdvertExport[]): Setup {
  const time = { now: 0 }
  const registry = createRegistry({ self: SELF, clock: () => time.now, unhealthyBaseMs: 1_000, unhealthyMaxMs: 8_000 })
  for (const p of peers) registry.apply(typeof p === 'string' ? advert(p) : p, { source: 'gossip' })
  if (local !== undefined) registry.setLocal(local)
  const calls: string[] = []
  const behave = new Map<string, Behaviour>()
  const handles = init.handles ?? createHandleLedger()
  const router = createRouter({
    registry,
    handles,
    self: SELF,
    random: seeded(42),
    clock: () => time.now,
    callServer: async (server, _iface, _func, _params, signal) => {
      calls.push(server.peer)
      const b = behave.get(server.peer)
      return b === undefined ? [server.peer] : await b(server, signal)
    },
    ...init
  })
  return { registry, time, calls, router, handles, behave }
}

async function rejection (p: Promise<unknown>): Promise<RouterError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(RouterError)
    return err as RouterError
  }
  throw new Error('expected the call to fail')
}

const dialFailure = (): never => { throw Object.assign(new Error('dial failed'), { code: 'dial-failed', resultStarted: false }) }

afterEach(() => { vi.useRealTimers() })

describe('router: choosing a server', () => {
  it('calls the local server first when there is one', async () => {
    const { router, calls } = setup(['QmA', 'QmB'], {}, [exp()])
    for (let i = 0; i < 20; i++) {
      const r = await router.call(IFACE, 'f', [])
      expect(r.local).toBe(true)
      expect(r.results).toEqual([SELF])
      expect(r.attempts).toBe(1)
    }
    expect(new Set(calls)).toEqual(new Set([SELF]))
  })

  it('treats the local server as one candidate among others when localFirst is off', async () => {
    const { router, calls } = setup(['QmA', 'QmB'], { localFirst: false }, [exp()])
    for (let i = 0; i < 60; i++) await router.call(IFACE, 'f', [])
    expect(new Set(calls)).toEqual(new Set([SELF, 'QmA', 'QmB']))
  })

  it('prefers the less loaded of two random servers (power of two choices)', async () => {
    const { router, calls } = setup([
      advert('QmIdle', { exports: [exp({ load: 0 })] }),
      advert('QmBusy1', { exports: [exp({ load: 3 })] }),
      advert('QmBusy2', { exports: [exp({ load: 3 })] })
    ])
    const n = 3000
    for (let i = 0; i < n; i++) await router.call(IFACE, 'f', [])
    const share = (p: string): number => calls.filter(c => c === p).length / n
    // uniform random would give each a third; P2C picks the idle one whenever it is drawn: 2/3
    expect(share('QmIdle')).toBeGreaterThan(0.6)
    expect(share('QmIdle')).toBeLessThan(0.73)
    expect(share('QmBusy1')).toBeGreaterThan(0.1)
    expect(share('QmBusy2')).toBeGreaterThan(0.1)
  })

  it('scores load against capacity and counts its own in-flight calls', async () => {
    const { router, registry, calls } = setup([
      advert('QmBig', { exports: [exp({ capacity: 100, load: 10 })] }), // 0.1
      advert('QmSmall', { exports: [exp({ capacity: 2, load: 1 })] }) // 0.5
    ])
    await router.call(IFACE, 'f', [])
    expect(calls).toEqual(['QmBig'])
    for (let i = 0; i < 60; i++) registry.beginCall('QmBig') // (60 + 10) / 100 = 0.7
    await router.call(IFACE, 'f', [])
    expect(calls).toEqual(['QmBig', 'QmSmall'])
  })

  it('breaks near-ties by the latency average', async () => {
    const { router, registry, calls } = setup(['QmSlow', 'QmFast'])
    registry.markSuccess('QmSlow', 80)
    registry.markSuccess('QmFast', 5)
    for (let i = 0; i < 20; i++) await router.call(IFACE, 'f', [])
    expect(new Set(calls)).toEqual(new Set(['QmFast']))
  })

  it('leaves out unhealthy servers until their backoff passes, then tries them again', async () => {
    const { router, registry, calls, time } = setup(['QmA', 'QmB'])
    registry.markFailure('QmA')
    for (let i = 0; i < 20; i++) await router.call(IFACE, 'f', [])
    expect(new Set(calls)).toEqual(new Set(['QmB']))
    time.now += 1_000
    calls.length = 0
    for (let i = 0; i < 40; i++) await router.call(IFACE, 'f', [])
    expect(calls).toContain('QmA')
  })

  it('pins a call to a target, even one backing off, and filters by labels', async () => {
    const { router, registry, calls } = setup([
      advert('QmA', { labels: { zone: 'eu' } }),
      advert('QmB', { labels: { zone: 'us' } }),
      advert('QmC', { labels: { zone: 'eu', gpu: 'yes' } })
    ], {}, [exp()])
    expect((await router.call(IFACE, 'f', [], { target: 'QmB' })).peer).toBe('QmB')
    registry.markFailure('QmB')
    expect((await router.call(IFACE, 'f', [], { target: 'QmB' })).peer).toBe('QmB')
    calls.length = 0
    for (let i = 0; i < 30; i++) await router.call(IFACE, 'f', [], { labels: { zone: 'eu' } })
    expect(new Set(calls)).toEqual(new Set(['QmA', 'QmC']))
    expect((await router.call(IFACE, 'f', [], { labels: { gpu: 'yes' } })).peer).toBe('QmC')
  })

  it('calls the exact exported id of a compatible later version', async () => {
    const { registry } = setup([advert('QmA', { exports: [exp({ iface: 'a:b/c@1.4.2' })] })])
    const seen: string[] = []
    const router = createRouter({ registry, self: SELF, callServer: async (_s, iface) => { seen.push(iface); return [] } })
    await router.call('a:b/c@1.2.0', 'f', [])
    expect(seen).toEqual(['a:b/c@1.4.2'])
  })

  it('counts the call in flight while it runs and feeds the latency average', async () => {
    const { router, registry, behave, time } = setup(['QmA'])
    let during = -1
    behave.set('QmA', () => {
      during = registry.servers(IFACE)[0].inflight
      time.now += 30
      return ['ok']
    })
    await router.call(IFACE, 'f', [])
    expect(during).toBe(1)
    expect(registry.servers(IFACE)[0]).toMatchObject({ inflight: 0, latencyMs: 30 })
  })
})

describe('router: servers a relay vouched for, and servers that cannot be reached', () => {
  const relayed = { source: 'sync', relayer: 'QmRelay' } as const

  it('spends a call\'s attempts on plausible servers first: never on never-contacted ones a relay passed on while others answer', async () => {
    const { router, registry, behave, calls } = setup(['QmDown', 'QmUp'])
    const sybils = Array.from({ length: 30 }, (_, i) => `QmSybi${String.fromCharCode(65 + i)}`)
    for (const p of sybils) {
      registry.apply(advert(p), relayed)
      behave.set(p, dialFailure)
    }
    behave.set('QmDown', dialFailure)
    const outcomes = { ok: 0, failed: 0 }
    for (let i = 0; i < 50; i++) {
      try {
        expect((await router.call(IFACE, 'f', [])).peer).toBe('QmUp')
        outcomes.ok++
      } catch {
        outcomes.failed++
      }
    }
    expect(outcomes).toEqual({ ok: 50, failed: 0 })
    expect(calls.filter(c => sybils.includes(c))).toEqual([])
    // the dead one was tried once, then left out
    expect(calls.filter(c => c === 'QmDown').length).toBeLessThanOrEqual(1)
  })

  it('falls back to relay-learned servers when nothing plausible is left, each one at most once per call', async () => {
    const { router, registry, behave, calls } = setup([])
    for (const p of ['QmR1', 'QmR2', 'QmR3']) {
      registry.apply(advert(p), relayed)
      behave.set(p, dialFailure)
    }
    const err = await rejection(router.call(IFACE, 'f', []))
    expect(err.code).toBe('dial-failed')
    expect(new Set(err.tried).size).toBe(3)
    // those three are unreachable now: a call goes to a fourth at once
    registry.apply(advert('QmR4'), relayed)
    expect(await router.call(IFACE, 'f', [])).toMatchObject({ peer: 'QmR4', attempts: 1 })
    expect(calls.at(-1)).toBe('QmR4')
  })

  it('does not retry a server whose dial failed on every call, but after unreachableMs or once it shows it is back', async () => {
    const { router, registry, behave, calls, time } = setup(['QmDead', 'QmLive'])
    behave.set('QmDead', dialFailure)
    // whichever is drawn first, the dead one is dialled at most once
    for (let i = 0; i < 10; i++) expect((await router.call(IFACE, 'f', [])).peer).toBe('QmLive')
    const dialled = (): number => calls.filter(c => c === 'QmDead').length
    if (dialled() === 0) {
      // never drawn: make it the only choice once
      await router.call(IFACE, 'f', [], { target: 'QmDead' }).catch(() => {})
    }
    expect(dialled()).toBe(1)
    // past the ordinary failure backoff (1 s here), still left out: a dial failure counts for longer
    time.now += 5_000
    for (let i = 0; i < 40; i++) await router.call(IFACE, 'f', [])
    expect(dialled()).toBe(1)
    // a first-hand advert says it is back
    behave.delete('QmDead')
    registry.apply(advert('QmDead', {}, 2n), { source: 'gossip' })
    for (let i = 0; i < 40; i++) await router.call(IFACE, 'f', [])
    expect(dialled()).toBeGreaterThan(1)
  })
})

describe('router: no server', () => {
  it('says when nobody exports the interface', async () => {
    const { router } = setup([])
    const err = await rejection(router.call(IFACE, 'f', []))
    expect(err.code).toBe('no-server')
    expect(err.attempts).toBe(0)
    expect(err.message).toContain(`no server exports ${IFACE}`)
  })

  it('names the incompatible versions that are offered', async () => {
    const { router } = setup([advert('QmA', { exports: [exp({ iface: 'a:b/c@2.0.0' })] })])
    const err = await rejection(router.call(IFACE, 'f', []))
    expect(err.message).toContain('offered: a:b/c@2.0.0')
  })

  it('names the target, the labels or the backoff that excluded everyone', async () => {
    const { router, registry, time } = setup([advert('QmA', { labels: { zone: 'eu' } })])
    expect((await rejection(router.call(IFACE, 'f', [], { target: 'QmZ' }))).message).toContain('target peer QmZ does not serve it')
    expect((await rejection(router.call(IFACE, 'f', [], { labels: { zone: 'us' } }))).message).toContain('labels zone=us')
    registry.markFailure('QmA')
    time.now += 250
    const err = await rejection(router.call(IFACE, 'f', []))
    expect(err.code).toBe('no-server')
    expect(err.message).toContain('backing off after failures (next retry in 750 ms)')
  })
})

describe('router: retries and failover', () => {
  it.each<[string, () => never, boolean]>([
    ['a dial failure', dialFailure, true],
    ['a stream reset', () => { throw new SessionError('closed', 'stream reset', false) }, true],
    ['an idle peer', () => { throw new SessionError('idle-timeout', 'peer idle', false) }, true],
    // a refusal (a policy, a lattice) is about this call's caller, not the server's health: its other calls are fine
    ['a refusal', () => { throw new RemoteError('refused', 'wrong lattice') }, false],
    ['overload', () => { throw new RemoteError('overloaded', 'queue full') }, false],
    // a targeted call to a component the peer unloaded since its advert: another peer may have it
    ['a component the peer no longer has', () => { throw new RemoteError('no-such-component', 'no component alpha') }, false]
  ])('retries %s on another server', async (_name, fail, marked) => {
    const { router, behave, calls, registry } = setup(['QmA', 'QmB'])
    // whichever is tried first fails; the other answers
    let first: string | undefined
    const answer: Behaviour = s => {
      if (first === undefined) {
        first = s.peer
        return fail()
      }
      return [s.peer]
    }
    behave.set('QmA', answer)
    behave.set('QmB', answer)
    const r = await router.call(IFACE, 'f', [])
    expect(r.attempts).toBe(2)
    expect(r.peer).not.toBe(first)
    expect(calls).toEqual([first, r.peer])
    expect(registry.servers(IFACE, { peer: first }).at(0)?.healthy).toBe(!marked)
  })

  it('gives up after maxRetries further attempts, with the last error as cause', async () => {
    const { router, behave, calls } = setup(['QmA', 'QmB', 'QmC', 'QmD', 'QmE'], { maxRetries: 2 })
    for (const p of ['QmA', 'QmB', 'QmC', 'QmD', 'QmE']) behave.set(p, dialFailure)
    const err = await rejection(router.call(IFACE, 'f', []))
    expect(err.code).toBe('dial-failed')
    expect(err.attempts).toBe(3)
    expect(new Set(calls).size).toBe(3)
    expect(err.tried).toEqual(calls)
    expect((err.cause as Error).message).toBe('dial failed')
  })

  it('fails with the last error when no other server is left', async () => {
    const { router, behave } = setup(['QmA', 'QmB'], { maxRetries: 5 })
    behave.set('QmA', () => { throw new RemoteError('overloaded', 'busy') })
    behave.set('QmB', () => { throw new RemoteError('overloaded', 'busy') })
    const err = await rejection(router.call(IFACE, 'f', []))
    expect(err.code).toBe('overloaded')
    expect(err.attempts).toBe(2)
    expect(err.message).toContain('no other server can take it')
  })

  it('never retries once results have started', async () => {
    const { router, behave, calls, registry } = setup(['QmA', 'QmB'])
    const fail = (): never => { throw new SessionError('closed', 'reset mid-results', true) }
    behave.set('QmA', fail)
    behave.set('QmB', fail)
    const err = await rejection(router.call(IFACE, 'f', []))
    expect(err.code).toBe('closed')
    expect(err.attempts).toBe(1)
    expect(err.resultStarted).toBe(true)
    expect(calls).toHaveLength(1)
    expect(err.cause).toBeInstanceOf(SessionError)
    expect(registry.servers(IFACE, { peer: calls[0] })[0].healthy).toBe(false)
  })

  it.each(['trap', 'no-such-function', 'invalid-params'])('never retries %s, the function\'s own answer, nor blames the server', async (code) => {
    const { router, behave, calls, registry } = setup(['QmA', 'QmB'])
    behave.set('QmA', () => { throw new RemoteError(code, 'no') })
    behave.set('QmB', () => { throw new RemoteError(code, 'no') })
    const err = await rejection(router.call(IFACE, 'f', []))
    expect(err.code).toBe(code)
    expect(err.attempts).toBe(1)
    expect(calls).toHaveLength(1)
    expect(registry.servers(IFACE).every(s => s.healthy)).toBe(true)
  })

  it('treats an error without a code as internal, not retried', async () => {
    const { router, behave, calls } = setup(['QmA', 'QmB'])
    const fail = (): never => { throw new TypeError('bug') }
    behave.set('QmA', fail)
    behave.set('QmB', fail)
    expect((await rejection(router.call(IFACE, 'f', []))).code).toBe('internal')
    expect(calls).toHaveLength(1)
  })
})

describe('router: deadline and abort', () => {
  it('fails with timeout when the deadline passes, even if the server ignores the signal', async () => {
    vi.useFakeTimers()
    const { router, behave, registry } = setup(['QmA'])
    behave.set('QmA', () => new Promise<unknown[]>(() => {}))
    const p = rejection(router.call(IFACE, 'f', [], { timeoutMs: 500 }))
    await vi.advanceTimersByTimeAsync(500)
    const err = await p
    expect(err.code).toBe('timeout')
    expect(err.attempts).toBe(1)
    expect(registry.servers(IFACE)[0].inflight).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('hands the server a signal that aborts at the deadline, and does not retry past it', async () => {
    vi.useFakeTimers()
    const { router, behave, calls } = setup(['QmA', 'QmB'], { callTimeoutMs: 300 })
    const slowFailure: Behaviour = (_s, signal) => new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => { reject(new SessionError('aborted', 'aborted', false)) })
    })
    behave.set('QmA', slowFailure)
    behave.set('QmB', slowFailure)
    const p = rejection(router.call(IFACE, 'f', []))
    await vi.advanceTimersByTimeAsync(300)
    const err = await p
    expect(err.code).toBe('timeout')
    expect(calls).toHaveLength(1)
  })

  it('fails with aborted when the caller aborts', async () => {
    const { router, behave } = setup(['QmA'])
    const ac = new AbortController()
    behave.set('QmA', () => { ac.abort(); return new Promise<unknown[]>(() => {}) })
    const err = await rejection(router.call(IFACE, 'f', [], { signal: ac.signal }))
    expect(err.code).toBe('aborted')
    const already = await rejection(router.call(IFACE, 'f', [], { signal: AbortSignal.abort() }))
    expect(already.code).toBe('aborted')
    expect(already.attempts).toBe(0)
  })
})

describe('router: resource handles', () => {
  const h = new Uint8Array([1, 2, 3, 4])

  it('sends a method call on a handle to the peer that issued it, never elsewhere', async () => {
    const { router, handles, calls, behave } = setup(['QmA', 'QmB'], {}, [exp()])
    handles.remember(h, 'QmB')
    expect(handles.owner(h)).toBe('QmB')
    for (let i = 0; i < 5; i++) expect((await router.call(IFACE, '[method]r.get', [h.slice(), 1])).peer).toBe('QmB')
    expect((await router.call(IFACE, 'use-it', [0], { handle: h })).peer).toBe('QmB')
    behave.set('QmB', dialFailure)
    const err = await rejection(router.call(IFACE, '[method]r.get', [h]))
    expect(err.code).toBe('dial-failed')
    expect(err.attempts).toBe(1)
    expect(calls.filter(c => c !== 'QmB')).toEqual([])
  })

  it('routes an unknown handle of a method call like any call, but refuses an explicit unknown handle', async () => {
    const { router } = setup(['QmA'])
    expect((await router.call(IFACE, '[method]r.get', [new Uint8Array([9])])).peer).toBe('QmA')
    const err = await rejection(router.call(IFACE, 'f', [], { handle: new Uint8Array([9]) }))
    expect(err.code).toBe('resource-lost')
  })

  it('fails with resource-lost when the issuing peer is gone, and forgets the handle', async () => {
    const { router, handles, registry } = setup(['QmA', 'QmB'])
    handles.remember(h, 'QmB')
    registry.apply(advert('QmB', { withdrawn: true }, 2n), { source: 'gossip' })
    const err = await rejection(router.call(IFACE, '[method]r.get', [h]))
    expect(err.code).toBe('resource-lost')
    expect(err.message).toContain('QmB')
    expect(handles.owner(h)).toBeUndefined()
    expect((await rejection(router.call(IFACE, 'f', [], { owner: 'QmGone' }))).code).toBe('resource-lost')
  })

  it('goes to an explicit owner', async () => {
    const { router } = setup(['QmA', 'QmB'], {}, [exp()])
    expect((await router.call(IFACE, '[method]r.get', [h], { owner: 'QmA' })).peer).toBe('QmA')
  })

  it('forgets a handle once it is dropped, and the oldest past maxHandles', async () => {
    const { router, handles } = setup(['QmA', 'QmB'], { handles: createHandleLedger({ maxHandles: 2 }) })
    handles.remember(h, 'QmB')
    expect((await router.call(IFACE, '[resource-drop]r', [h])).peer).toBe('QmB')
    expect(handles.owner(h)).toBeUndefined()
    handles.remember(new Uint8Array([1]), 'QmA')
    handles.remember(new Uint8Array([2]), 'QmA')
    handles.remember(new Uint8Array([3]), 'QmA')
    expect(handles.owner(new Uint8Array([1]))).toBeUndefined()
    expect(handles.owner(new Uint8Array([3]))).toBe('QmA')
    handles.forget(new Uint8Array([3]))
    expect(handles.owner(new Uint8Array([3]))).toBeUndefined()
  })
})

describe('router: the local-first path', () => {
  /** A router whose node serves IFACE itself through `route`, and QmA and QmB remotely. */
  function withRoute (call: LocalRoute['call'], init: Partial<RouterInit> = {}): Setup & { routed: string[] } {
    const routed: string[] = []
    const s = setup(['QmA', 'QmB'], {
      local: iface => iface === IFACE ? { iface: IFACE, call: async (func, params) => { routed.push(func); return await call(func, params) } } : undefined,
      ...init
    }, [exp()])
    return { ...s, routed }
  }

  it('answers from this node through its route, never through callServer', async () => {
    const { router, calls, routed } = withRoute(async (_func, params) => params)
    for (let i = 0; i < 5; i++) expect(await router.call(IFACE, 'f', [i])).toEqual({ results: [i], peer: SELF, local: true, attempts: 1 })
    expect(routed).toHaveLength(5)
    expect(calls).toEqual([])
  })

  it('takes the general path for a target, labels or a signal', async () => {
    const { router, calls, routed } = withRoute(async () => ['here'])
    await router.call(IFACE, 'f', [], { target: 'QmA' })
    await router.call(IFACE, 'f', [], { labels: {} })
    await router.call(IFACE, 'f', [], { signal: new AbortController().signal })
    expect(routed).toEqual([])
    expect(calls).toEqual(['QmA', SELF, SELF])
  })

  it('moves a busy or failed local call to another server, but never the function\'s own answer', async () => {
    const busy = withRoute(async () => { throw Object.assign(new Error('all instances busy'), { code: 'overloaded' }) })
    const r = await busy.router.call(IFACE, 'f', [])
    expect(r.local).toBe(false)
    expect(r.attempts).toBe(2)
    expect(busy.registry.healthy(SELF)).toBe(true)

    const broken = withRoute(async () => { throw Object.assign(new Error('runtime stopped'), { code: 'stopped' }) })
    expect((await broken.router.call(IFACE, 'f', [])).peer).not.toBe(SELF)
    // This node backs off after the failure: the next call does not try it first.
    expect(broken.registry.healthy(SELF)).toBe(false)
    broken.routed.length = 0
    await broken.router.call(IFACE, 'f', [])
    expect(broken.routed).toEqual([])

    const trap = withRoute(async () => { throw Object.assign(new Error('unreachable'), { code: 'trap' }) })
    const err = await rejection(trap.router.call(IFACE, 'f', []))
    expect(err.code).toBe('trap')
    expect(err.tried).toEqual([SELF])
    expect(trap.calls).toEqual([])
  })

  it('fails a local call that outlives its deadline with `timeout`', async () => {
    const { router } = withRoute(async () => await new Promise<unknown[]>(() => {}), { callTimeoutMs: 30 })
    const err = await rejection(router.call(IFACE, 'f', []))
    expect(err.code).toBe('timeout')
    expect(err.tried).toEqual([SELF])
    router.close()
  })
})
