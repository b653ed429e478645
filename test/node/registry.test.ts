import { describe, expect, it } from 'vitest'
import { encodeAdvert, encodeSignedAdvert } from '../../protocol/advert.ts'
import type { Advert, AdvertExport } from '../../protocol/advert.ts'
import { createRegistry } from '../../node/registry.ts'
import type { RegistryChange, RegistryInit } from '../../node/registry.ts'

const SELF = 'QmMe'
const D = 'ab'.repeat(32)

function exp (iface: string, over: Partial<AdvertExport> = {}): AdvertExport {
  return { iface, digest: D, capacity: 4, load: 0, ...over }
}

function advert (peer: string, seq: bigint, over: Partial<Advert> = {}): Advert {
  return {
    peer,
    seq,
    lattice: 'default',
    addresses: [`/memory/${peer}`],
    labels: {},
    exports: [exp('a:b/c@1.2.0')],
    ttlMs: 10_000,
    withdrawn: false,
    ...over
  }
}

function envelope (a: Advert): Uint8Array {
  return encodeSignedAdvert({ advert: encodeAdvert(a), signature: new Uint8Array(64) })
}

function setup (init: Partial<RegistryInit> = {}) {
  const time = { now: 1_000 }
  const registry = createRegistry({ self: SELF, clock: () => time.now, ...init })
  const changes: RegistryChange[] = []
  const off = registry.on('change', c => { changes.push(c) })
  return { registry, time, changes, off }
}

const gossip = { source: 'gossip' } as const

describe('registry: adverts', () => {
  it('adds a new peer, updates it with a higher seq, and drops older or equal seqs', () => {
    const { registry, changes } = setup()
    expect(registry.apply(advert('QmA', 5n), gossip)).toBe('new')
    expect(registry.apply(advert('QmA', 5n, { exports: [exp('x:y/z')] }), gossip)).toBe('stale')
    expect(registry.apply(advert('QmA', 4n, { exports: [exp('x:y/z')] }), gossip)).toBe('stale')
    expect(registry.servers('x:y/z')).toEqual([])
    expect(registry.apply(advert('QmA', 6n, { exports: [exp('x:y/z')] }), { source: 'sync' })).toBe('updated')
    expect(registry.servers('x:y/z').map(s => s.peer)).toEqual(['QmA'])
    expect(registry.servers('a:b/c@1.2.0')).toEqual([]) // the update replaced the old exports
    expect(registry.peer('QmA')).toMatchObject({ seq: 6n, source: 'sync' })
    expect(changes).toEqual([
      { kind: 'peer', peer: 'QmA', change: 'new' },
      { kind: 'peer', peer: 'QmA', change: 'updated' }
    ])
  })

  it('ignores its own adverts and other lattices', () => {
    const { registry, changes } = setup({ lattice: 'blue' })
    expect(registry.apply(advert(SELF, 1n, { lattice: 'blue' }), gossip)).toBe('ignored')
    expect(registry.apply(advert('QmA', 1n), gossip)).toBe('ignored')
    expect(registry.apply(advert('QmA', 1n, { lattice: 'blue' }), gossip)).toBe('new')
    expect(registry.peers().map(p => p.peer)).toEqual([SELF, 'QmA'])
    expect(changes).toHaveLength(1)
  })

  it('forgets a peer ttlMs after receipt unless refreshed', () => {
    const { registry, time, changes } = setup()
    registry.apply(advert('QmA', 1n, { ttlMs: 1_000 }), gossip)
    registry.apply(advert('QmB', 1n, { ttlMs: 5_000 }), gossip)
    expect(registry.nextExpiryAt()).toBe(2_000)
    time.now += 900
    registry.apply(advert('QmA', 2n, { ttlMs: 1_000 }), gossip) // refreshed: now expires at 2,900
    time.now += 500
    expect(registry.servers('a:b/c').map(s => s.peer).sort()).toEqual(['QmA', 'QmB'])
    time.now += 500
    expect(registry.expire()).toBe(1)
    expect(registry.servers('a:b/c').map(s => s.peer)).toEqual(['QmB'])
    time.now += 10_000
    // lazily, on query
    expect(registry.servers('a:b/c')).toEqual([])
    expect(registry.nextExpiryAt()).toBeUndefined()
    expect(changes.filter(c => c.kind === 'peer' && c.change === 'expired').map(c => c.kind === 'peer' && c.peer)).toEqual(['QmA', 'QmB'])
    // an expired peer that comes back is new again
    expect(registry.apply(advert('QmA', 3n), gossip)).toBe('new')
  })

  it('removes a withdrawn peer at once and still refuses older replays of it', () => {
    const { registry, changes } = setup()
    registry.apply(advert('QmA', 1n), gossip)
    expect(registry.apply(advert('QmA', 2n, { withdrawn: true, exports: [] }), gossip)).toBe('withdrawn')
    expect(registry.servers('a:b/c')).toEqual([])
    expect(registry.peers().map(p => p.peer)).toEqual([SELF])
    expect(registry.apply(advert('QmA', 1n), gossip)).toBe('stale')
    expect(registry.servers('a:b/c')).toEqual([])
    // a restarted node (a higher seq) is back
    expect(registry.apply(advert('QmA', 3n), gossip)).toBe('new')
    expect(changes.map(c => c.kind === 'peer' ? c.change : c.kind)).toEqual(['new', 'withdrawn', 'new'])
  })

  it('ignores the exports listed in a withdrawn advert', () => {
    const { registry } = setup()
    expect(registry.apply(advert('QmA', 1n, { withdrawn: true }), gossip)).toBe('withdrawn')
    expect(registry.servers('a:b/c')).toEqual([])
  })

  it('evicts the oldest-received peers past maxPeers', () => {
    const { registry, time, changes } = setup({ maxPeers: 3 })
    for (const p of ['QmA', 'QmB', 'QmC']) {
      registry.apply(advert(p, 1n), gossip)
      time.now += 1
    }
    registry.apply(advert('QmA', 2n), gossip) // A is now the most recent
    registry.apply(advert('QmD', 1n), gossip)
    expect(registry.peers().map(p => p.peer).sort()).toEqual([SELF, 'QmA', 'QmC', 'QmD'].sort())
    expect(changes.at(-1)).toEqual({ kind: 'peer', peer: 'QmB', change: 'evicted' })
  })

  it('snapshots its own envelope first, then live peers newest first, without withdrawn or expired ones', () => {
    const { registry, time } = setup()
    const a = advert('QmA', 1n, { ttlMs: 100 })
    const b = advert('QmB', 1n)
    const c = advert('QmC', 1n)
    registry.apply(a, { source: 'gossip', signed: envelope(a) })
    registry.apply(b, { source: 'gossip', signed: envelope(b) })
    registry.apply(c, { source: 'sync', signed: envelope(c) })
    registry.apply(advert('QmN', 1n), gossip) // known but with no envelope to pass on
    const own = envelope(advert(SELF, 9n))
    registry.setOwnEnvelope(own)
    expect(registry.snapshot()).toEqual([own, envelope(c), envelope(b), envelope(a)])
    expect(registry.snapshot(2)).toEqual([own, envelope(c)])
    const cw = advert('QmC', 2n, { withdrawn: true })
    registry.apply(cw, { source: 'gossip', signed: envelope(cw) })
    time.now += 200
    expect(registry.snapshot()).toEqual([own, envelope(b)])
  })
})

describe('registry: version matching', () => {
  it('serves an import from any compatible export, never another major', () => {
    const { registry } = setup()
    registry.apply(advert('QmOld', 1n, { exports: [exp('a:b/c@1.2.0')] }), gossip)
    registry.apply(advert('QmNew', 1n, { exports: [exp('a:b/c@1.3.1')] }), gossip)
    registry.apply(advert('QmTwo', 1n, { exports: [exp('a:b/c@2.0.0')] }), gossip)
    registry.apply(advert('QmZero', 1n, { exports: [exp('a:b/c@0.2.0'), exp('a:b/c@0.3.0')] }), gossip)
    registry.apply(advert('QmPre', 1n, { exports: [exp('a:b/c@1.4.0-rc.1')] }), gossip)
    const peers = (iface: string): string[] => registry.servers(iface).map(s => `${s.peer}=${s.iface}`).sort()
    expect(peers('a:b/c@1.2.0')).toEqual(['QmNew=a:b/c@1.3.1', 'QmOld=a:b/c@1.2.0'])
    expect(peers('a:b/c@1.3.0')).toEqual(['QmNew=a:b/c@1.3.1'])
    expect(peers('a:b/c@2.0.0')).toEqual(['QmTwo=a:b/c@2.0.0'])
    expect(peers('a:b/c@0.2.0')).toEqual(['QmZero=a:b/c@0.2.0'])
    expect(peers('a:b/c@1.4.0-rc.1')).toEqual(['QmPre=a:b/c@1.4.0-rc.1'])
    expect(peers('a:b/c')).toHaveLength(6)
    expect(peers('a:b/d@1.2.0')).toEqual([])
  })
})

describe('registry: local exports', () => {
  it('lists local servers first, with this node labels and addresses, and announces changes', () => {
    const { registry, changes } = setup({ labels: { zone: 'z1' }, addresses: ['/memory/self'] })
    registry.apply(advert('QmA', 1n), gossip)
    registry.setLocal([exp('a:b/c@1.2.5', { capacity: 2, load: 1 })])
    registry.setLocal([exp('a:b/c@1.2.5', { capacity: 2, load: 1 })]) // unchanged: no event
    const [first, second] = registry.servers('a:b/c@1.2.0')
    expect(first).toMatchObject({ peer: SELF, local: true, iface: 'a:b/c@1.2.5', capacity: 2, load: 1, labels: { zone: 'z1' }, addresses: ['/memory/self'], healthy: true })
    expect(second).toMatchObject({ peer: 'QmA', local: false })
    registry.setSelf({ labels: { zone: 'z2' } })
    expect(registry.servers('a:b/c', { labels: { zone: 'z2' } }).map(s => s.peer)).toEqual([SELF])
    expect(changes.map(c => c.kind)).toEqual(['peer', 'local', 'local'])
    expect(registry.interfaces()).toEqual(new Map([['a:b/c@1.2.5', [SELF]], ['a:b/c@1.2.0', ['QmA']]]))
    expect(registry.peers()[0]).toMatchObject({ peer: SELF, local: true, exports: [exp('a:b/c@1.2.5', { capacity: 2, load: 1 })] })
  })
})

describe('registry: filters', () => {
  it('filters by peer and by labels', () => {
    const { registry } = setup()
    registry.apply(advert('QmA', 1n, { labels: { zone: 'eu', gpu: 'yes' } }), gossip)
    registry.apply(advert('QmB', 1n, { labels: { zone: 'us' } }), gossip)
    registry.apply(advert('QmC', 1n, { labels: { zone: 'eu' } }), gossip)
    expect(registry.servers('a:b/c', { peer: 'QmB' }).map(s => s.peer)).toEqual(['QmB'])
    expect(registry.servers('a:b/c', { peer: 'QmX' })).toEqual([])
    expect(registry.servers('a:b/c', { labels: { zone: 'eu' } }).map(s => s.peer)).toEqual(['QmA', 'QmC'])
    expect(registry.servers('a:b/c', { labels: { zone: 'eu', gpu: 'yes' } }).map(s => s.peer)).toEqual(['QmA'])
    expect(registry.servers('a:b/c', { labels: { toString: 'x' } })).toEqual([])
  })
})

describe('registry: health and accounting', () => {
  it('backs off a failing peer exponentially up to the cap, and a success clears it', () => {
    const { registry, time } = setup({ unhealthyBaseMs: 100, unhealthyMaxMs: 350 })
    registry.apply(advert('QmA', 1n), gossip)
    const healthy = (): boolean => registry.servers('a:b/c')[0].healthy
    registry.markFailure('QmA')
    expect(healthy()).toBe(false)
    expect(registry.servers('a:b/c')[0].retryAt).toBe(1_100)
    time.now += 100
    expect(healthy()).toBe(true) // tried again after the backoff
    registry.markFailure('QmA')
    time.now += 199
    expect(healthy()).toBe(false)
    time.now += 1
    expect(healthy()).toBe(true)
    registry.markFailure('QmA') // 400 capped to 350
    time.now += 349
    expect(healthy()).toBe(false)
    time.now += 1
    expect(healthy()).toBe(true)
    expect(registry.peer('QmA')).toMatchObject({ failures: 3 })
    registry.markFailure('QmA')
    registry.markSuccess('QmA', 10)
    expect(healthy()).toBe(true)
    expect(registry.peer('QmA')).toMatchObject({ failures: 0, latencyMs: 10 })
  })

  it('keeps a moving average of latency, and in-flight counts', () => {
    const { registry } = setup({ latencyEwmaWeight: 0.5 })
    registry.apply(advert('QmA', 1n), gossip)
    registry.markSuccess('QmA', 10)
    registry.markSuccess('QmA', 20)
    expect(registry.servers('a:b/c')[0].latencyMs).toBe(15)
    registry.beginCall('QmA')
    registry.beginCall('QmA')
    expect(registry.servers('a:b/c')[0].inflight).toBe(2)
    registry.endCall('QmA')
    expect(registry.servers('a:b/c')[0].inflight).toBe(1)
  })

  it('keeps health across updates of a peer and forgets it when the peer leaves', () => {
    const { registry } = setup()
    registry.apply(advert('QmA', 1n), gossip)
    registry.markFailure('QmA')
    registry.apply(advert('QmA', 2n), gossip)
    expect(registry.servers('a:b/c')[0].healthy).toBe(false)
    registry.apply(advert('QmA', 3n, { withdrawn: true }), gossip)
    registry.apply(advert('QmA', 4n), gossip)
    expect(registry.servers('a:b/c')[0].healthy).toBe(true)
    registry.markFailure('QmUnknown') // no effect, nothing kept
    expect(registry.peer('QmUnknown')).toBeUndefined()
  })

  it('stops telling an unsubscribed listener', () => {
    const { registry, changes, off } = setup()
    off()
    registry.apply(advert('QmA', 1n), gossip)
    expect(changes).toEqual([])
  })
})
