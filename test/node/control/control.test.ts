import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../../examples/build.ts'
import { encodeOpening } from '../../../protocol/frame.ts'
import { CONTROL_IFACE, controlWit } from '../../../node/control/index.ts'
import type { ControlEvent } from '../../../node/control/index.ts'
import { createEventHub } from '../../../node/control/events.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { WRPC_PROTOCOL, createMeshLibp2p } from '../../../node/libp2p.ts'
import { nodeInternals } from '../../../node/node.ts'
import type { MeshNode } from '../../../node/index.ts'
import { parsePolicy } from '../../../node/security/policy-file.ts'
import { bootstrapOf, createMesh, demoHost, eventually } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'

const ctl = async (from: MeshNode, to: MeshNode, func: string, ...params: unknown[]): Promise<unknown> => (await from.call(CONTROL_IFACE, func, params, { target: to.peerId }))[0]

describe('the control interface', () => {
  let mesh: Mesh
  let paths: Record<string, string>
  let open: MeshNode
  let closed: MeshNode
  let caller: MeshNode

  beforeAll(async () => {
    paths = await ensureExamples({ names: ['upper'] })
    mesh = await createMesh()
    open = await mesh.add({ control: { open: true, limits: { maxLabelValueBytes: 64, maxConfigs: 3, maxEventQueue: 8 } }, labels: { zone: 'a' } })
    open.serve(demoHost([]))
    closed = await mesh.add({ bootstrap: bootstrapOf(open) })
    caller = await mesh.add({ bootstrap: bootstrapOf(open) })
    await eventually('the caller to know both nodes', () => caller.peer(open.peerId) !== undefined && caller.peer(closed.peerId) !== undefined)
  }, 120_000)

  afterAll(async () => { await mesh?.stop() })

  it('ships the WIT file byte for byte, and is served but not advertised', () => {
    expect(readFileSync(new URL('../../../wit/lattice/control.wit', import.meta.url), 'utf8')).toBe(controlWit)
    expect(caller.peer(open.peerId)?.exports.map(e => e.iface)).not.toContain(CONTROL_IFACE)
  })

  it('refuses a call that names no peer, and peers of a node without --control or a policy', async () => {
    await expect(caller.call(CONTROL_IFACE, 'get-inventory', [])).rejects.toMatchObject({ code: 'control-needs-target' })
    await expect(ctl(caller, closed, 'get-inventory')).rejects.toMatchObject({ code: 'control-refused' })
    // its own calls always pass
    expect(await ctl(closed, closed, 'get-inventory')).toMatchObject({ peer: closed.peerId })
  }, 30_000)

  it('tells how peers reach a node and lists its connections, direct or relayed', async () => {
    const net = await ctl(caller, open, 'get-network') as { reachability: string, addresses: string[], relays: string[], relayReservations: number, connections: Array<{ peer: string, direction: string, relayed: boolean, address: string }> }
    expect(['public', 'private', 'relayed']).toContain(net.reachability)
    expect(net.relays).toEqual([])
    expect(net.relayReservations).toBe(0)
    // both dialled it (its bootstrap peers): inbound and direct
    for (const peer of [closed.peerId, caller.peerId]) {
      expect(net.connections).toContainEqual({ peer, direction: 'inbound', relayed: false, address: expect.any(String) })
    }
    expect(net.connections).toHaveLength(open.stats().connections)
    await expect(ctl(caller, closed, 'get-network')).rejects.toMatchObject({ code: 'control-refused' })
  }, 30_000)

  it('scales a component up, rescales it and stops it; the inventory and the adverts follow', async () => {
    const events: ControlEvent[] = []
    const [stream] = await open.call(CONTROL_IFACE, 'watch-events', [], { target: open.peerId }) as [AsyncIterable<ControlEvent[]>]
    const reading = (async () => { for await (const chunk of stream) { events.push(...chunk); if (events.some(e => e.kind === 'component-scaled' && e.detail.some(([k, v]) => k === 'replicas' && v === '0'))) break } })()

    expect(await ctl(caller, open, 'put-config', 'greeting', [['lang', 'en']])).toEqual({ tag: 'ok', val: undefined })
    expect(await ctl(caller, open, 'get-config', 'greeting')).toEqual([['lang', 'en']])
    const scaled = await ctl(caller, open, 'scale-component', { reference: paths.upper, replicas: 2, config: ['greeting'] }) as { tag: string, val: string }
    expect(scaled.tag).toBe('ok')
    await eventually('the caller to see upper served', () => caller.servers('local:demo/upper').some(s => s.peer === open.peerId))
    expect(await caller.call('local:demo/upper', 'to-upper', ['hi'])).toEqual(['HI'])
    const inv = await ctl(caller, open, 'get-inventory') as { components: Array<{ digest: string, maxInstances: number, reference: string, config: string[] }>, labels: unknown, configs: string[], version: string }
    expect(inv.components).toEqual([expect.objectContaining({ digest: scaled.val, maxInstances: 2, reference: paths.upper, config: ['greeting'] })])
    expect(inv.labels).toEqual([['zone', 'a']])
    expect(inv.configs).toEqual(['greeting'])
    expect(inv.version).toMatch(/^\d+\.\d+\.\d+/)

    expect(await ctl(caller, open, 'scale-component', { reference: paths.upper, replicas: 5, config: [] })).toMatchObject({ tag: 'ok' })
    expect((await ctl(caller, open, 'get-inventory') as typeof inv).components.map(c => c.maxInstances)).toEqual([5])
    expect(await ctl(caller, open, 'stop-component', 'upper')).toEqual({ tag: 'ok', val: undefined })
    expect(open.components()).toEqual([])
    await eventually('the caller to see upper gone', () => !caller.servers('local:demo/upper').some(s => s.peer === open.peerId))
    await reading
    expect(events.map(e => e.kind)).toEqual(['config-set', 'component-scaled', 'component-scaled', 'component-scaled'])
    expect(await ctl(caller, open, 'stop-component', 'upper')).toMatchObject({ tag: 'err', val: { code: 'not-found' } })
  }, 60_000)

  it('answers a reference that does not load, and a config it does not hold, with typed errors', async () => {
    expect(await ctl(caller, open, 'scale-component', { reference: '/nonexistent/x.wasm', replicas: 1, config: [] })).toMatchObject({ tag: 'err', val: { code: 'load-failed' } })
    expect(await ctl(caller, open, 'scale-component', { reference: paths.upper, replicas: 1, config: ['nope'] })).toMatchObject({ tag: 'err', val: { code: 'not-found' } })
    expect(await ctl(caller, open, 'scale-component', { reference: paths.upper, replicas: 100_000, config: [] })).toMatchObject({ tag: 'err', val: { code: 'limit-exceeded' } })
    expect(await ctl(caller, open, 'start-provider', './evil.ts', 'evil', [])).toMatchObject({ tag: 'err', val: { code: 'invalid-argument' } })
    expect(open.components()).toEqual([])
  }, 30_000)

  it('puts and deletes labels (advertised), links (in force) and configs, within their limits', async () => {
    expect(await ctl(caller, open, 'put-label', 'tier', 'gold')).toEqual({ tag: 'ok', val: undefined })
    await eventually('the caller to see the label', () => caller.peer(open.peerId)?.labels.tier === 'gold')
    expect(await ctl(caller, open, 'put-label', 'big', 'x'.repeat(65))).toMatchObject({ tag: 'err', val: { code: 'limit-exceeded' } })
    expect(await ctl(caller, open, 'put-label', 'wasmesh.role', 'node')).toMatchObject({ tag: 'err', val: { code: 'invalid-argument' } })
    expect(await ctl(caller, open, 'put-label', 'bad key!', 'v')).toMatchObject({ tag: 'err', val: { code: 'invalid-argument' } })
    expect(await ctl(caller, open, 'delete-label', 'tier')).toEqual({ tag: 'ok', val: true })
    await eventually('the caller to see the label gone', () => caller.peer(open.peerId)?.labels.tier === undefined)

    const link = { component: 'upper', target: 'wasi:keyvalue/store', name: '', labels: [['tier', 'cache']], peer: '' }
    expect(await ctl(caller, open, 'put-link', link)).toEqual({ tag: 'ok', val: undefined })
    expect(open.links()).toEqual([{ component: 'upper', target: 'wasi:keyvalue/store', labels: { tier: 'cache' } }])
    expect(await ctl(caller, open, 'list-links')).toEqual([link])
    expect(await ctl(caller, open, 'put-link', { ...link, target: 'not an interface' })).toMatchObject({ tag: 'err', val: { code: 'invalid-argument' } })
    expect(await ctl(caller, open, 'put-link', { ...link, labels: [] })).toMatchObject({ tag: 'err', val: { code: 'invalid-argument' } })
    expect(await ctl(caller, open, 'delete-link', 'upper', 'wasi:keyvalue/store', '')).toEqual({ tag: 'ok', val: 1 })
    expect(open.links()).toEqual([])

    for (const n of ['c1', 'c2']) expect(await ctl(caller, open, 'put-config', n, [['k', 'v']])).toMatchObject({ tag: 'ok' })
    expect(await ctl(caller, open, 'put-config', 'c3', [['k', 'v']])).toMatchObject({ tag: 'err', val: { code: 'limit-exceeded' } })
    expect(await ctl(caller, open, 'put-config', '../etc', [])).toMatchObject({ tag: 'err', val: { code: 'invalid-argument' } })
    expect(await ctl(caller, open, 'put-config', 'c1', [['k', 'x'.repeat(20_000)]])).toMatchObject({ tag: 'err', val: { code: 'limit-exceeded' } })
    expect(await ctl(caller, open, 'delete-config', 'c2')).toEqual({ tag: 'ok', val: true })
    expect(await ctl(caller, open, 'delete-config', 'c2')).toEqual({ tag: 'ok', val: false })
    expect(await ctl(caller, open, 'get-config', 'c2')).toBeUndefined()
  }, 60_000)

  it('starts and stops a built-in provider from named config, and no module path', async () => {
    expect(await ctl(caller, open, 'put-config', 'kv', [['backend', 'memory']])).toMatchObject({ tag: 'ok' })
    const started = await ctl(caller, open, 'start-provider', 'builtin:keyvalue', 'kv', ['kv']) as { tag: string, val: string }
    expect(started.tag).toBe('ok')
    await eventually('the caller to see the store served', () => caller.servers('wasi:keyvalue/store').some(s => s.peer === open.peerId))
    const inv = await ctl(caller, open, 'get-inventory') as { providers: Array<{ reference: string, exports: string[] }> }
    expect(inv.providers).toContainEqual(expect.objectContaining({ reference: 'builtin:keyvalue', exports: expect.arrayContaining([expect.stringMatching(/^wasi:keyvalue\/store@/)]) }))
    expect(await ctl(caller, open, 'start-provider', 'builtin:keyvalue', 'kv', [])).toMatchObject({ tag: 'err', val: { code: 'invalid-argument' } })
    expect(await ctl(caller, open, 'start-provider', 'builtin:nope', 'x', [])).toMatchObject({ tag: 'err', val: { code: 'invalid-argument' } })
    expect(await ctl(caller, open, 'stop-provider', 'kv')).toEqual({ tag: 'ok', val: undefined })
    await eventually('the caller to see the store gone', () => !caller.servers('wasi:keyvalue/store').some(s => s.peer === open.peerId))
    expect(await ctl(caller, open, 'stop-provider', 'kv')).toMatchObject({ tag: 'err', val: { code: 'not-found' } })
    expect(await ctl(caller, open, 'delete-config', 'kv')).toEqual({ tag: 'ok', val: true })
  }, 30_000)

  it('answers garbage arguments with an error frame and keeps serving', async () => {
    const libp2p = nodeInternals(caller).libp2p
    const answer = async (bytes: Uint8Array): Promise<string> => {
      const stream = await libp2p.dialProtocol(nodeInternals(open).libp2p.peerId, WRPC_PROTOCOL)
      stream.send(bytes)
      await stream.close()
      const parts: Uint8Array[] = []
      for await (const c of stream) parts.push(c instanceof Uint8Array ? c : c.subarray())
      return new TextDecoder().decode(Buffer.concat(parts))
    }
    // put-label with a string length far past what follows, then a truncated one
    expect(await answer(encodeOpening({ instance: CONTROL_IFACE, name: 'put-label' }, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f)))).toMatch(/limit-exceeded|invalid/)
    expect(await answer(encodeOpening({ instance: CONTROL_IFACE, name: 'scale-component' }, Uint8Array.of(0x03, 0x61)))).toMatch(/"code"/)
    expect(await answer(encodeOpening({ instance: CONTROL_IFACE, name: 'no-such' }, new Uint8Array(0)))).toContain('no-such-function')
    expect(await ctl(caller, open, 'get-inventory')).toMatchObject({ peer: open.peerId })
  }, 30_000)

  it('drops an events watcher that never reads, without buffering for it', async () => {
    const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), transport: 'memory' })
    await libp2p.start()
    try {
      await libp2p.dial(nodeInternals(open).libp2p.getMultiaddrs()[0])
      const stream = await libp2p.dialProtocol(nodeInternals(open).libp2p.peerId, WRPC_PROTOCOL)
      stream.send(encodeOpening({ instance: CONTROL_IFACE, name: 'watch-events' }, new Uint8Array(0)))
      await stream.close()
      // it reads nothing: its muxer stops granting window, the node's writes wait, the watcher's queue (maxEventQueue 8) fills
      stream.pause()
      await eventually('the watcher to be registered', () => open.stats().control.watchers === 1)
      for (let i = 0; i < 50_000 && open.stats().control.watchers > 0; i++) await ctl(open, open, 'put-label', 'spam', 'v'.repeat(60) + String(i % 2))
      expect(open.stats().control).toEqual({ watchers: 0, dropped: 1 })
      expect(await ctl(caller, open, 'delete-label', 'spam')).toEqual({ tag: 'ok', val: true })
    } finally {
      await libp2p.stop()
    }
  }, 60_000)
})

describe('the events hub', () => {
  it('drops a watcher that falls maxEventQueue events behind, and refuses watchers past maxEventWatchers', async () => {
    const hub = createEventHub({ peer: 'p', maxEventWatchers: 2, maxEventQueue: 8 })
    const slow = hub.watch()[Symbol.asyncIterator]()
    const fast = hub.watch()[Symbol.asyncIterator]()
    expect(() => hub.watch()).toThrow(expect.objectContaining({ code: 'limit-exceeded' }))
    for (let i = 0; i < 8; i++) {
      hub.emit('config-set', `c${i}`)
      expect((await fast.next()).value).toHaveLength(1)
    }
    expect(hub.stats()).toEqual({ watchers: 2, dropped: 0 })
    hub.emit('config-set', 'one too many')
    expect(hub.stats()).toEqual({ watchers: 1, dropped: 1 })
    // what it had queued is gone with it: its stream ends
    expect(await slow.next()).toEqual({ done: true, value: undefined })
    expect((await fast.next()).value).toMatchObject([{ kind: 'config-set', subject: 'one too many' }])
    hub.close()
    expect(await fast.next()).toEqual({ done: true, value: undefined })
  })
})

describe('the control interface under a policy', () => {
  let mesh: Mesh

  beforeAll(async () => { mesh = await createMesh() })
  afterAll(async () => { await mesh?.stop() })

  it('is refused without a rule, even with --control, and allowed to the peers a rule names', async () => {
    const admin = await mesh.add()
    const other = await mesh.add()
    const policy = parsePolicy(`
rules:
  - name: admins control
    allow: call
    peers: [${admin.peerId}]
    interfaces: [wasmesh:lattice/control]
`)
    const node = await mesh.add({ policy, control: { open: true } })
    for (const n of [admin, other]) await n.dial(node.addresses()[0])
    await eventually('both to know the node', () => admin.peer(node.peerId) !== undefined && other.peer(node.peerId) !== undefined)
    expect(await ctl(admin, node, 'put-label', 'zone', 'b')).toEqual({ tag: 'ok', val: undefined })
    await expect(ctl(other, node, 'put-label', 'zone', 'c')).rejects.toMatchObject({ code: 'refused' })
    expect(node.labels()).toEqual({ zone: 'b' })
  }, 60_000)
})
