import { afterEach, describe, expect, it } from 'vitest'
import { invoke } from '../../../protocol/session.ts'
import { dialWrpc } from '../../../node/wrpc-server.ts'
import { bootstrapOf, createMesh, eventually, whoamiService } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'
import { nodeInternals } from '../../../node/node.ts'

let mesh: Mesh
afterEach(async () => { await mesh?.stop() })

describe('routing across the mesh', () => {
  it('fails calls over to another server when the one serving dies without a word', async () => {
    mesh = await createMesh()
    const client = await mesh.add({ routing: { localFirst: false } })
    const s1 = await mesh.add({ bootstrap: bootstrapOf(client) })
    const s2 = await mesh.add({ bootstrap: bootstrapOf(client) })
    s1.serve(whoamiService('test:fo', 'api', '1.0.0', 's1'))
    s2.serve(whoamiService('test:fo', 'api', '1.0.0', 's2'))
    await eventually('both servers known', () => client.servers('test:fo/api').length === 2)

    // a crash: the node's transport goes away, no withdrawal is sent
    await nodeInternals(s1).libp2p.stop()
    const answers = new Set<string>()
    for (let i = 0; i < 10; i++) {
      const [who] = await client.call('test:fo/api', 'whoami', [])
      answers.add(who as string)
    }
    expect([...answers]).toEqual(['s2'])
    expect(client.servers('test:fo/api').find(s => s.peer === s1.peerId)?.healthy ?? false).toBe(false)
  }, 60_000)

  it('stops sending calls to an export as soon as it is withdrawn', async () => {
    mesh = await createMesh()
    const client = await mesh.add({ routing: { localFirst: false } })
    const s1 = await mesh.add({ bootstrap: bootstrapOf(client) })
    const s2 = await mesh.add({ bootstrap: bootstrapOf(client) })
    const one = whoamiService('test:wd', 'api', '1.0.0', 's1')
    s1.serve(one)
    s2.serve(whoamiService('test:wd', 'api', '1.0.0', 's2'))
    await eventually('both servers known', () => client.servers('test:wd/api').length === 2)

    s1.unserve(one.digest)
    await eventually('the withdrawal to arrive', () => client.servers('test:wd/api').length === 1)
    const before = one.calls
    for (let i = 0; i < 10; i++) expect(await client.call('test:wd/api', 'whoami', [])).toEqual(['s2'])
    expect(one.calls).toBe(before)
  }, 60_000)

  it('forgets a stopped node at once: a graceful stop withdraws its adverts', async () => {
    mesh = await createMesh({ timings: { advertIntervalMs: 60_000, advertTtlMs: 180_000 } })
    const client = await mesh.add()
    const server = await mesh.add({ bootstrap: bootstrapOf(client) })
    server.serve(whoamiService('test:gs', 'api', undefined, 'server'))
    await eventually('the server known', () => client.servers('test:gs/api').length === 1)
    await server.stop()
    await eventually('the server forgotten', () => client.servers('test:gs/api').length === 0, 5_000)
    await expect(client.call('test:gs/api', 'whoami', [])).rejects.toMatchObject({ code: 'no-server' })
  }, 60_000)

  it('matches versions as the component model does: 1.2.0 is served by 1.3.1, never by 2.0.0', async () => {
    mesh = await createMesh()
    const client = await mesh.add()
    const v13 = await mesh.add({ bootstrap: bootstrapOf(client) })
    const v2 = await mesh.add({ bootstrap: bootstrapOf(client) })
    v13.serve(whoamiService('test:ver', 'api', '1.3.1', 'one-three'))
    v2.serve(whoamiService('test:ver', 'api', '2.0.0', 'two'))
    await eventually('both versions known', () => client.servers('test:ver/api').length === 2)
    for (let i = 0; i < 5; i++) expect(await client.call('test:ver/api@1.2.0', 'whoami', [])).toEqual(['one-three'])
    expect(await client.call('test:ver/api@2.0.0', 'whoami', [])).toEqual(['two'])
    await expect(client.call('test:ver/api@3.0.0', 'whoami', [])).rejects.toMatchObject({ code: 'no-server' })
  }, 60_000)

  it('pins a call to a peer with target, and to servers with labels', async () => {
    mesh = await createMesh()
    const client = await mesh.add()
    const s1 = await mesh.add({ bootstrap: bootstrapOf(client), labels: { zone: 'a' } })
    const s2 = await mesh.add({ bootstrap: bootstrapOf(client), labels: { zone: 'b' } })
    s1.serve(whoamiService('test:pin', 'api', '1.0.0', 's1'))
    s2.serve(whoamiService('test:pin', 'api', '1.0.0', 's2'))
    await eventually('both servers known', () => client.servers('test:pin/api').length === 2)
    for (let i = 0; i < 5; i++) {
      expect(await client.call('test:pin/api', 'whoami', [], { target: s2.peerId })).toEqual(['s2'])
      expect(await client.call('test:pin/api', 'whoami', [], { labels: { zone: 'a' } })).toEqual(['s1'])
    }
  }, 60_000)

  it('keeps lattices apart: no adverts cross, and calls across are refused', async () => {
    mesh = await createMesh()
    const blue = await mesh.add({ lattice: 'blue' })
    const red = await mesh.add({ lattice: 'red', bootstrap: bootstrapOf(blue) })
    const blueToo = await mesh.add({ lattice: 'blue', bootstrap: bootstrapOf(blue) })
    red.serve(whoamiService('test:lat', 'api', '1.0.0', 'red'))
    blueToo.serve(whoamiService('test:lat', 'api', '1.0.0', 'blue'))
    await eventually('blue to learn its own lattice', () => blue.servers('test:lat/api').length === 1)
    await eventually('red and blue connected', () => blue.connections(red.peerId).length > 0)
    expect(blue.servers('test:lat/api').map(s => s.peer)).toEqual([blueToo.peerId])
    expect(blue.peer(red.peerId)).toBeUndefined()
    expect(red.peer(blue.peerId)).toBeUndefined()
    // a call opened straight to red anyway is refused: red serves no peer of another lattice
    const whoami = (await blueToo.describe('test:lat/api', 'whoami'))
    const transport = await dialWrpc(nodeInternals(blue).libp2p, nodeInternals(red).libp2p.peerId)
    await expect(invoke(transport, 'test:lat/api@1.0.0', 'whoami', [], [], whoami.results)).rejects.toMatchObject({ name: 'RemoteError', code: 'refused' })
  }, 60_000)
})

describe('stopping and observing', () => {
  it('drains calls in flight on stop, after withdrawing, and reports every call to the observer', async () => {
    const events: Array<{ direction: string, outcome: string }> = []
    mesh = await createMesh()
    const client = await mesh.add({ observer: { call: e => { events.push(e) } } })
    const server = await mesh.add({ bootstrap: bootstrapOf(client), observer: { call: e => { events.push(e) } } })
    const slow = whoamiService('test:drain', 'api', '1.0.0', 'slow')
    const release = Promise.withResolvers<void>()
    const call = slow.call
    slow.call = async (...args) => { await release.promise; return await call(...args) }
    server.serve(slow)
    await eventually('the server known', () => client.servers('test:drain/api').length === 1)

    const pending = client.call('test:drain/api', 'whoami', [])
    await eventually('the call to be in flight', () => server.stats().inbound === 1)
    const stopping = server.stop({ drainTimeoutMs: 10_000 })
    await eventually('the withdrawal to arrive', () => client.servers('test:drain/api').length === 0)
    release.resolve()
    expect(await pending).toEqual(['slow'])
    await stopping
    expect(events).toEqual(expect.arrayContaining([
      expect.objectContaining({ direction: 'inbound', iface: 'test:drain/api@1.0.0', func: 'whoami', outcome: 'ok' }),
      expect.objectContaining({ direction: 'outbound', iface: 'test:drain/api', func: 'whoami', outcome: 'ok', attempts: 1 })
    ]))
    await expect(client.call('test:drain/api', 'whoami', [])).rejects.toMatchObject({ code: 'no-server' })
    expect(events.at(-1)).toMatchObject({ direction: 'outbound', outcome: 'no-server' })
  }, 60_000)
})

describe('load adverts', () => {
  it('holds back a load that keeps crossing a threshold until loadAdvertIntervalMs, and an export change carries it at once', async () => {
    // Heartbeats and load adverts a minute apart: within the test only changes of exports publish.
    mesh = await createMesh({ timings: { advertIntervalMs: 60_000, advertTtlMs: 180_000, advertDebounceMs: 10, loadAdvertIntervalMs: 60_000 } })
    const client = await mesh.add()
    const server = await mesh.add({ bootstrap: bootstrapOf(client) })
    const held = Promise.withResolvers<void>()
    let hold = false
    const svc = whoamiService('test:load', 'api', '1.0.0', 'server')
    server.serve({ ...svc, capacity: 1, call: async (...args) => { if (hold) await held.promise; return await svc.call(...args) } })
    // start published once, serve once more
    await eventually('the server known, its export published', () => client.servers('test:load/api').length === 1 && server.stats().adverts.published === 2)
    const before = server.stats().adverts.published

    // every call takes the load from 0 to 1 (capacity 1) and back: a threshold crossed twice per call
    for (let i = 0; i < 50; i++) expect(await client.call('test:load/api', 'whoami', [])).toEqual(['server'])
    expect(server.stats().adverts.published).toBe(before)

    // one call held in flight (load 1 of 1), then an export change: one advert with both
    hold = true
    const pending = client.call('test:load/api', 'whoami', [])
    await eventually('the held call to arrive', () => server.stats().inflight === 1)
    server.serve(whoamiService('test:load', 'other', '1.0.0', 'server'))
    const [seen] = await eventually('the client to learn the new export', () => {
      const s = client.servers('test:load/api')
      return client.servers('test:load/other').length === 1 && s
    })
    expect(server.stats().adverts.published).toBe(before + 1)
    expect(seen.load).toBe(1)
    held.resolve()
    expect(await pending).toEqual(['server'])
  }, 60_000)
})
