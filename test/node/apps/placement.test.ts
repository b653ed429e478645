// Leaderless placement: the same on every node whatever order it sees hosts in, moving only what a leaving or joining host must; records signed and verified.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { createHostView, decodeStatus, encodeStatus, placeComponent, signAppRecord, spreadShares, verifyAppRecord } from '../../../node/apps/index.ts'
import type { AppRecord, Host, Scaler } from '../../../node/apps/index.ts'

const hosts: Host[] = Array.from({ length: 12 }, (_, i) => ({ peer: `peer-${i.toString().padStart(2, '0')}`, labels: { zone: i % 3 === 0 ? 'east' : 'west' } }))
const spread = (instances: number, spreads: Scaler['spreads'] = []): Scaler => ({ kind: 'spread', instances, spreads })
const total = (m: ReadonlyMap<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0)

describe('placement', () => {
  it('is the same for any order of hosts', () => {
    const a = placeComponent('shop', 'web', spread(20), hosts)
    const b = placeComponent('shop', 'web', spread(20), [...hosts].reverse())
    expect([...a.hosts].sort()).toEqual([...b.hosts].sort())
    expect(total(a.hosts)).toBe(20)
  })

  it('moves only the replicas of a host that leaves, and a joiner takes only what it scores highest for', () => {
    const before = placeComponent('shop', 'web', spread(30), hosts).hosts
    const gone = [...before.keys()][0]
    const after = placeComponent('shop', 'web', spread(30), hosts.filter(h => h.peer !== gone)).hosts
    expect(total(after)).toBe(30)
    for (const [peer, n] of before) if (peer !== gone) expect(after.get(peer) ?? 0).toBeGreaterThanOrEqual(n)
    const joined = placeComponent('shop', 'web', spread(30), [...hosts, { peer: 'peer-new', labels: {} }]).hosts
    for (const [peer, n] of joined) if (peer !== 'peer-new') expect(n).toBeLessThanOrEqual(before.get(peer) ?? 0)
  })

  it('splits replicas over spreads by weight, only onto hosts with the labels, and says what it could not place', () => {
    expect(spreadShares(5, [{ name: 'a', requirements: {}, weight: 40 }, { name: 'b', requirements: {}, weight: 40 }, { name: 'c', requirements: {}, weight: 20 }])).toEqual([2, 2, 1])
    const p = placeComponent('shop', 'web', spread(10, [{ name: 'east', requirements: { zone: 'east' }, weight: 70 }, { name: 'moon', requirements: { zone: 'moon' }, weight: 30 }]), hosts)
    expect(p.unplaced).toBe(3)
    for (const peer of p.hosts.keys()) expect(hosts.find(h => h.peer === peer)?.labels.zone).toBe('east')
    expect(total(p.hosts)).toBe(7)
  })

  it('puts daemonscaler instances on every qualifying host', () => {
    const p = placeComponent('shop', 'agent', { kind: 'daemon', instances: 2, spreads: [{ name: 'w', requirements: { zone: 'west' }, weight: 100 }] }, hosts)
    expect(p.hosts.size).toBe(8)
    expect([...p.hosts.values()].every(n => n === 2)).toBe(true)
    expect(p.desired).toBe(16)
  })

  it('places two apps with overlapping spreads independently: each the same however often it is computed', () => {
    const s = spread(6, [{ name: 'any-east', requirements: { zone: 'east' }, weight: 100 }])
    const first = [placeComponent('a', 'web', s, hosts).hosts, placeComponent('b', 'web', s, hosts).hosts]
    for (let i = 0; i < 5; i++) {
      expect(placeComponent('a', 'web', s, hosts).hosts).toEqual(first[0])
      expect(placeComponent('b', 'web', s, hosts).hosts).toEqual(first[1])
    }
  })
})

describe('app records', () => {
  const record = (deployer: string): AppRecord => ({ kind: 'deploy', app: 'shop', lattice: 'default', seq: Date.now(), version: 'v1', deployer, manifest: 'x' })

  it('verifies what the deployer signed, and refuses a forged or altered one', async () => {
    const key = await generateKeyPair('Ed25519')
    const other = await generateKeyPair('Ed25519')
    const me = peerIdFromPrivateKey(key).toString()
    const signed = await signAppRecord(record(me), key)
    expect((await verifyAppRecord(signed.token, 1e6)).record).toEqual(signed.record)
    // signed by another key but naming me as the deployer
    const forged = await signAppRecord(record(me), other)
    await expect(verifyAppRecord(forged.token, 1e6)).rejects.toMatchObject({ code: 'bad-signature' })
    // the payload swapped for another
    const [h, , s] = signed.token.split('.')
    const altered = `${h}.${Buffer.from(JSON.stringify({ ...signed.record, app: 'other' })).toString('base64url')}.${s}`
    await expect(verifyAppRecord(altered, 1e6)).rejects.toMatchObject({ code: 'bad-signature' })
    await expect(verifyAppRecord('garbage', 1e6)).rejects.toMatchObject({ code: 'invalid-record' })
    await expect(verifyAppRecord(signed.token, 100)).rejects.toMatchObject({ code: 'invalid-record' })
  })
})

describe('advertised status', () => {
  it('round-trips, and skips what does not parse', () => {
    const text = encodeStatus([{ app: 'shop', component: 'web', id: '0123456789abcdef', running: 3 }, { app: 'shop', component: 'kv', id: '0123456789abcdef', running: 0, problem: 'image-not-found' }])
    expect(decodeStatus(text)).toEqual([
      { app: 'shop', component: 'kv', id: '0123456789abcdef', running: 0, problem: 'image-not-found' },
      { app: 'shop', component: 'web', id: '0123456789abcdef', running: 3 }
    ])
    expect(decodeStatus(`garbage ${text} shop/x@zz=1 shop/y@0123456789abcdef!made-up`)).toHaveLength(2)
  })
})

describe('hosts placement counts', () => {
  const peer = (id: string): Host => ({ peer: id, labels: {} })
  const ids = (hs: Host[]): string[] => hs.map(h => h.peer).sort()

  it('counts a peer once seen for appJoinSettleMs, and this node from when it started', () => {
    const view = createHostView({ appJoinSettleMs: 1000, appFlapWindowMs: 60_000 })
    expect(ids(view.hosts([peer('me'), peer('a')], 0, 'me', 0))).toEqual([])
    expect(ids(view.hosts([peer('me'), peer('a')], 999, 'me', 0))).toEqual([])
    expect(ids(view.hosts([peer('me'), peer('a')], 1000, 'me', 0))).toEqual(['a', 'me'])
  })

  it('counts the peers a node learns while it settles from its own start: a node just started never counts only itself', () => {
    const view = createHostView({ appJoinSettleMs: 1000, appFlapWindowMs: 60_000 })
    // started at 10 s: its sync brings a and b at 10.3 s, c joins the mesh later at 12 s
    expect(ids(view.hosts([peer('me')], 10_000, 'me', 10_000))).toEqual([])
    expect(ids(view.hosts([peer('me'), peer('a'), peer('b')], 10_300, 'me', 10_000))).toEqual([])
    expect(ids(view.hosts([peer('me'), peer('a'), peer('b')], 11_000, 'me', 10_000))).toEqual(['a', 'b', 'me'])
    expect(ids(view.hosts([peer('me'), peer('a'), peer('b'), peer('c')], 12_000, 'me', 10_000))).toEqual(['a', 'b', 'me'])
    expect(ids(view.hosts([peer('me'), peer('a'), peer('b'), peer('c')], 13_000, 'me', 10_000))).toEqual(['a', 'b', 'c', 'me'])
  })

  it('makes a flapping peer wait twice as long each time it comes back, and forgets after the window', () => {
    const view = createHostView({ appJoinSettleMs: 1000, appFlapWindowMs: 60_000 })
    let t = 0
    view.hosts([peer('a')], t, 'me', 0)
    const returns: number[] = []
    for (let flap = 0; flap < 4; flap++) {
      t += 2000
      view.hosts([], t, 'me', 0) // gone
      t += 10
      const back = t
      view.hosts([peer('a')], t, 'me', 0) // back
      // how long until it counts again
      let wait = 0
      while (view.hosts([peer('a')], back + wait, 'me', 0).length === 0) wait += 250
      returns.push(wait)
      t = back + wait
    }
    expect(returns).toEqual([1000, 2000, 4000, 8000])
    // quiet for longer than the window: a departure and return is a restart again
    t += 61_000
    view.hosts([], t, 'me', 0)
    view.hosts([], t + 61_000, 'me', 0)
    view.hosts([peer('a')], t + 61_001, 'me', 0)
    expect(view.hosts([peer('a')], t + 62_001, 'me', 0)).toHaveLength(1)
  })

  it('settles a flapping host: while it waits, placement over the others does not move', () => {
    const view = createHostView({ appJoinSettleMs: 1000, appFlapWindowMs: 60_000 })
    const all = hosts.slice(0, 4)
    let t = 0
    view.hosts(all, t, 'none', 0)
    t += 1000
    const steady = placeComponent('shop', 'web', spread(8), view.hosts(all, t, 'none', 0)).hosts
    const flapper = all[0]
    const seen: string[] = []
    for (let i = 0; i < 6; i++) {
      t += 100
      const present = i % 2 === 0 ? all.slice(1) : all
      seen.push(JSON.stringify([...placeComponent('shop', 'web', spread(8), view.hosts(present, t, 'none', 0)).hosts].sort()))
    }
    // the flapper left at once (its replicas moved), then never counted again while flapping: one placement throughout
    expect(new Set(seen).size).toBe(1)
    expect(seen[0]).not.toContain(flapper.peer)
    expect(seen[0]).toBe(JSON.stringify([...placeComponent('shop', 'web', spread(8), all.slice(1)).hosts].sort()))
    expect(total(steady)).toBe(8)
  })
})
