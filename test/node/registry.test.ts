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
    expect(changes.slice(-2)).toEqual([{ kind: 'peer', peer: 'QmB', change: 'evicted' }, { kind: 'peer', peer: 'QmD', change: 'new' }])
  })

  it('past maxPeers never evicts a connected or answering peer for a new one: relay-learned go first, then the newcomer is refused', () => {
    const { registry, time } = setup({ maxPeers: 3 })
    const relayed = { source: 'sync', relayer: 'QmRelay' } as const
    registry.apply(advert('QmConnected', 1n), relayed)
    registry.apply(advert('QmAnswered', 1n), relayed)
    registry.apply(advert('QmHeard', 1n), gossip)
    registry.setConnected('QmConnected', true)
    registry.markSuccess('QmAnswered', 5)
    time.now += 1
    // full: the only relay-learned, never-contacted peer is the newcomer itself
    expect(registry.apply(advert('QmSybil1', 1n), relayed)).toBe('refused')
    expect(registry.peer('QmSybil1')).toBeUndefined()
    // a first-hand newcomer displaces the oldest first-hand peer nobody has contacted
    expect(registry.apply(advert('QmFresh', 1n), gossip)).toBe('new')
    expect(registry.peers().map(p => p.peer).sort()).toEqual([SELF, 'QmAnswered', 'QmConnected', 'QmFresh'].sort())
    registry.setConnected('QmFresh', true)
    // only good peers left: nobody new gets in, however it arrives
    expect(registry.apply(advert('QmSybil2', 1n), gossip)).toBe('refused')
    expect(registry.apply(advert('QmSybil3', 1n), relayed)).toBe('refused')
    expect(registry.peers().map(p => p.peer).sort()).toEqual([SELF, 'QmAnswered', 'QmConnected', 'QmFresh'].sort())
    // updates of known peers still apply
    expect(registry.apply(advert('QmConnected', 2n), gossip)).toBe('updated')
  })

  it('caps the TTL an advert asks for at maxTtlMs: 2^32-1 ms is forgotten like any other', () => {
    const { registry, time } = setup({ maxTtlMs: 30_000 })
    registry.apply(advert('QmZombie', 1n, { ttlMs: 0xffff_ffff }), gossip)
    expect(registry.peer('QmZombie')?.expiresInMs).toBe(30_000)
    time.now += 29_999
    expect(registry.servers('a:b/c').map(s => s.peer)).toEqual(['QmZombie'])
    time.now += 1
    expect(registry.servers('a:b/c')).toEqual([])
    // the default cap is 105 s (3 x the default advertTtlMs)
    const d = setup()
    d.registry.apply(advert('QmZombie', 1n, { ttlMs: 0xffff_ffff }), gossip)
    expect(d.registry.peer('QmZombie')?.expiresInMs).toBe(105_000)
  })

  it('ages a relayed advert by what the relay says: its life runs from when the relay received it, and relaying it again does not reset it', () => {
    const { registry, time } = setup()
    const a = advert('QmA', 1n, { ttlMs: 10_000 })
    expect(registry.apply(a, { source: 'sync', relayer: 'QmRelay', ageMs: 8_000, signed: envelope(a) })).toBe('new')
    expect(registry.peer('QmA')).toMatchObject({ expiresInMs: 2_000, relayedBy: 'QmRelay', plausible: false })
    time.now += 1_000
    // it was contacted (so it is passed on), and its age travels with it: 9 s, not 1 s
    registry.setConnected('QmA', true)
    expect(registry.snapshot()).toEqual([{ ageMs: 9_000, envelope: envelope(a) }])
    // the same record from another relay claiming it is fresh changes nothing: same seq
    expect(registry.apply(a, { source: 'sync', relayer: 'QmLiar', ageMs: 0 })).toBe('stale')
    time.now += 1_000
    expect(registry.servers('a:b/c')).toEqual([])
    // a record already older than its TTL is not taken at all
    expect(registry.apply(advert('QmB', 1n, { ttlMs: 10_000 }), { source: 'sync', relayer: 'QmRelay', ageMs: 10_000 })).toBe('expired')
    expect(registry.peer('QmB')).toBeUndefined()
  })

  it('snapshots its own envelope first, then live peers newest first with their ages, without withdrawn or expired ones', () => {
    const { registry, time } = setup()
    const a = advert('QmA', 1n, { ttlMs: 100 })
    const b = advert('QmB', 1n)
    const c = advert('QmC', 1n)
    registry.apply(a, { source: 'gossip', signed: envelope(a) })
    time.now += 10
    registry.apply(b, { source: 'gossip', signed: envelope(b) })
    registry.apply(c, { source: 'sync', relayer: 'QmC', signed: envelope(c) }) // a sync with C itself: first-hand
    registry.apply(advert('QmN', 1n), gossip) // known but with no envelope to pass on
    const own = envelope(advert(SELF, 9n))
    registry.setOwnEnvelope(own)
    const aged = (e: Uint8Array, ageMs = 0): { ageMs: number, envelope: Uint8Array } => ({ ageMs, envelope: e })
    expect(registry.snapshot()).toEqual([aged(own), aged(envelope(c)), aged(envelope(b)), aged(envelope(a), 10)])
    expect(registry.snapshot(2)).toEqual([aged(own), aged(envelope(c))])
    const cw = advert('QmC', 2n, { withdrawn: true })
    registry.apply(cw, { source: 'gossip', signed: envelope(cw) })
    time.now += 200
    expect(registry.snapshot()).toEqual([aged(own, 0), aged(envelope(b), 200)])
  })

  it('does not pass on what only a relay vouched for, until this node heard it first-hand or contacted the peer', () => {
    const { registry } = setup()
    const r = advert('QmPassed', 1n)
    registry.apply(r, { source: 'sync', relayer: 'QmRelay', signed: envelope(r) })
    expect(registry.snapshot()).toEqual([])
    registry.markSuccess('QmPassed', 3)
    expect(registry.snapshot().map(x => x.envelope)).toEqual([envelope(r)])
    const r2 = advert('QmPassed', 2n)
    registry.apply(r2, { source: 'gossip', signed: envelope(r2) })
    expect(registry.peer('QmPassed')).toMatchObject({ source: 'gossip', plausible: true })
    expect(registry.peer('QmPassed')?.relayedBy).toBeUndefined()
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

  it('leaves out a peer whose dial failed until unreachableMs passes, a first-hand advert or a connection: a relay cannot bring it back', () => {
    const { registry, time } = setup({ unreachableMs: 30_000 })
    const relayed = { source: 'sync', relayer: 'QmRelay' } as const
    registry.apply(advert('QmA', 1n, { ttlMs: 60_000 }), relayed)
    expect(registry.servers('a:b/c')[0]).toMatchObject({ healthy: true, plausible: false })
    registry.markUnreachable('QmA')
    expect(registry.servers('a:b/c')[0]).toMatchObject({ healthy: false, retryAt: 31_000 })
    expect(registry.peer('QmA')).toMatchObject({ unreachable: true })
    // a newer advert passed on by a relay proves nothing
    registry.apply(advert('QmA', 2n, { ttlMs: 60_000 }), relayed)
    time.now += 29_999
    expect(registry.servers('a:b/c')[0].healthy).toBe(false)
    time.now += 1
    expect(registry.servers('a:b/c')[0].healthy).toBe(true)
    // gossip signed by the peer itself brings it back at once
    registry.markUnreachable('QmA')
    expect(registry.servers('a:b/c')[0].healthy).toBe(false)
    registry.apply(advert('QmA', 3n), gossip)
    expect(registry.servers('a:b/c')[0]).toMatchObject({ healthy: true, plausible: true })
    // and so does a connection
    registry.markUnreachable('QmA')
    registry.setConnected('QmA', true)
    expect(registry.peer('QmA')).toMatchObject({ healthy: true, connected: true, unreachable: false })
    registry.setConnected('QmA', false)
    expect(registry.peer('QmA')).toMatchObject({ connected: false })
  })

  it('counts a relay-learned peer plausible once it is connected or has answered', () => {
    const { registry } = setup()
    const relayed = { source: 'sync', relayer: 'QmRelay' } as const
    registry.apply(advert('QmA', 1n), relayed)
    registry.apply(advert('QmB', 1n), relayed)
    registry.apply(advert('QmC', 1n), relayed)
    registry.apply(advert('QmD', 1n), gossip)
    registry.setConnected('QmA', true)
    registry.markSuccess('QmB', 4)
    const plausible = Object.fromEntries(registry.servers('a:b/c').map(s => [s.peer, s.plausible]))
    expect(plausible).toEqual({ QmA: true, QmB: true, QmC: false, QmD: true })
  })

  it('stops telling an unsubscribed listener', () => {
    const { registry, changes, off } = setup()
    off()
    registry.apply(advert('QmA', 1n), gossip)
    expect(changes).toEqual([])
  })
})
