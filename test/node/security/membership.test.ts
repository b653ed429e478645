// Membership on the wire, with real libp2p nodes in one process: the lattice key (pnet) and the allow-list (gater), over TCP on loopback and the memory transport.

import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createNode } from '../../../node/index.ts'
import type { MeshNode, NodeInit } from '../../../node/index.ts'
import { createMeshLibp2p } from '../../../node/libp2p.ts'
import type { MeshLibp2p } from '../../../node/libp2p.ts'
import { createLogger, silentLogger } from '../../../node/logger.ts'
import { newLatticeKeyFile, parseLatticeKey } from '../../../node/security/index.ts'
import { createMetrics } from '../../../node/metrics.ts'
import { bootstrapOf, eventually, fast, whoamiService } from '../../support/mesh.ts'
import { scratchDir } from '../../support/scratch.ts'
import type { ScratchDir } from '../../support/scratch.ts'

const key = parseLatticeKey(newLatticeKeyFile())
const otherKey = parseLatticeKey(newLatticeKeyFile())
const iface = 'test:sec/who'

let started: Array<{ stop: () => unknown }> = []
let scratch: ScratchDir | undefined

afterEach(async () => {
  await Promise.allSettled(started.map(async n => { await n.stop() }))
  started = []
  await scratch?.remove()
  scratch = undefined
})

async function node (init: NodeInit = {}): Promise<MeshNode> {
  const n = await createNode({ transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], timings: fast, logger: silentLogger, peering: false, ...init })
  started.push(n)
  await n.start()
  return n
}

async function rawLibp2p (psk?: Uint8Array): Promise<MeshLibp2p> {
  const { latticeProtector, createRefusals } = await import('../../../node/security/index.ts')
  const libp2p = await createMeshLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    ...(psk !== undefined ? { connectionProtector: latticeProtector({ psk, refusals: createRefusals({ log: silentLogger }) }) } : {})
  })
  started.push(libp2p)
  await libp2p.start()
  return libp2p
}

describe('a private lattice (lattice key)', () => {
  it('members connect, learn adverts and call each other over TCP', async () => {
    const a = await node({ latticeKey: key })
    a.serve(whoamiService('test:sec', 'who', undefined, 'a'))
    const b = await node({ latticeKey: key, bootstrap: bootstrapOf(a) })
    await eventually('b to learn a\'s advert', () => b.servers(iface).length === 1)
    expect(await b.call(iface, 'whoami', [])).toEqual(['a'])
    expect(a.stats().connectionsRefused).toEqual({})
  })

  it('a node without the key cannot connect, learn an advert or call; the member counts and logs the refusal', async () => {
    const lines: string[] = []
    const metrics = createMetrics()
    const a = await node({ latticeKey: key, logger: createLogger({ level: 'info', format: 'json', write: l => { lines.push(l) } }) })
    a.serve(whoamiService('test:sec', 'who', undefined, 'a'))
    const outsider = await node({})
    await expect(outsider.dial(a.addresses()[0])).rejects.toThrow()
    expect(outsider.connections()).toEqual([])
    const refused = await eventually('the member to count the refusal', () => a.stats().connectionsRefused['no-lattice-key'])
    expect(refused).toBeGreaterThanOrEqual(1)
    expect(a.connections()).toEqual([])
    expect(outsider.servers(iface)).toEqual([])
    await expect(outsider.call(iface, 'whoami', [], { timeoutMs: 500 })).rejects.toMatchObject({ code: 'no-server' })
    expect(lines.some(l => /spoke plain libp2p to a private lattice/.test(l) && /"level":"info"/.test(l))).toBe(true)
    expect(metrics.render(a)).toMatch(/^wasmesh_connections_refused_total\{reason="no-lattice-key"\} [1-9]/m)
  })

  it('the member with the key cannot dial a node without one: the dial fails in the handshake', async () => {
    const a = await node({ latticeKey: key })
    const outsider = await node({})
    await expect(a.dial(outsider.addresses()[0])).rejects.toThrow()
    expect(a.connections()).toEqual([])
    expect(outsider.connections()).toEqual([])
  })

  it('a node with another lattice key is refused at once in the handshake', async () => {
    const a = await node({ latticeKey: key })
    a.serve(whoamiService('test:sec', 'who', undefined, 'a'))
    const stranger = await node({ latticeKey: otherKey })
    await expect(stranger.dial(a.addresses()[0])).rejects.toThrow()
    await eventually('a to count a connection under another key', () => (a.stats().connectionsRefused['lattice-key'] ?? 0) >= 1)
    expect(stranger.servers(iface)).toEqual([])
    expect(a.connections()).toEqual([])
  })

  it('garbage and a truncated nonce from a raw socket are refused without a crash or a hang', async () => {
    const a = await node({ latticeKey: key })
    const { connect } = await import('node:net')
    const parts = multiaddr(a.addresses()[0]).getComponents()
    const addr = { host: parts.find(p => p.name === 'ip4')?.value, port: Number(parts.find(p => p.name === 'tcp')?.value) }
    for (const bytes of [new Uint8Array(10).fill(7), new Uint8Array(4096).fill(0xff)]) {
      const socket = connect({ host: addr.host, port: addr.port })
      await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
      socket.end(bytes)
      await new Promise<void>(resolve => { socket.once('close', () => { resolve() }); socket.resume() })
    }
    await eventually('both counted', () => {
      const c = a.stats().connectionsRefused
      return (c.handshake ?? 0) + (c['lattice-key'] ?? 0) >= 2
    })
    // still serving members
    const b = await node({ latticeKey: key, bootstrap: bootstrapOf(a) })
    await eventually('a member to connect after the garbage', () => b.connections().length > 0)
  })

  it('a socket that connects and sends nothing is closed after inboundUpgradeTimeoutMs and counted', async () => {
    const a = await node({ latticeKey: key, connectionLimits: { inboundUpgradeTimeoutMs: 300 } })
    const { connect } = await import('node:net')
    const parts = multiaddr(a.addresses()[0]).getComponents()
    const socket = connect({ host: parts.find(p => p.name === 'ip4')?.value, port: Number(parts.find(p => p.name === 'tcp')?.value) })
    const closed = new Promise<void>(resolve => { socket.once('close', () => { resolve() }) })
    socket.on('error', () => {})
    socket.resume()
    await closed
    await eventually('the silent socket counted', () => a.stats().connectionsRefused.handshake === 1)
  })

  it('works on the stock libp2p path too (fastPath off: no fast muxer, no whole-messages wrapper)', async () => {
    const a = await node({ latticeKey: key, fastPath: false })
    a.serve(whoamiService('test:sec', 'who', undefined, 'a'))
    const b = await node({ latticeKey: key, fastPath: false, bootstrap: bootstrapOf(a) })
    await eventually('b to learn a', () => b.servers(iface).length === 1)
    expect(await b.call(iface, 'whoami', [])).toEqual(['a'])
  })

  it('works over the memory transport too (simulations)', async () => {
    const a = await node({ transport: 'memory', listen: undefined, latticeKey: key })
    a.serve(whoamiService('test:sec', 'who', undefined, 'a'))
    const b = await node({ transport: 'memory', listen: undefined, latticeKey: key, bootstrap: bootstrapOf(a) })
    await eventually('b to learn a', () => b.servers(iface).length === 1)
    expect(await b.call(iface, 'whoami', [])).toEqual(['a'])
    const c = await node({ transport: 'memory', listen: undefined, latticeKey: otherKey })
    await expect(c.dial(a.addresses()[0])).rejects.toThrow()
  })

  it('a raw libp2p peer with the right key but the stock stack still interoperates (the check is on the first bytes only)', async () => {
    const a = await node({ latticeKey: key })
    const raw = await rawLibp2p(key)
    await raw.dial(multiaddr(a.addresses()[0]))
    await eventually('connected', () => a.connections().length === 1)
  })
})

describe('the allow-list', () => {
  it('only listed peers connect; others are refused once their peer id is proven, before any protocol runs', async () => {
    const bKey = await generateKeyPair('Ed25519')
    const bId = peerIdFromPrivateKey(bKey).toString()
    const a = await node({ allowPeers: [bId] })
    a.serve(whoamiService('test:sec', 'who', undefined, 'a'))
    const b = await node({ privateKey: bKey, bootstrap: bootstrapOf(a) })
    await eventually('b to learn a', () => b.servers(iface).length === 1)
    const c = await node({})
    // c's side of the handshake may finish before a's gater decides: the dial can succeed, the connection never lives
    await c.dial(a.addresses()[0]).catch(() => {})
    await eventually('a to count c as not allowed', () => a.stats().connectionsRefused['not-allowed'] === 1)
    await eventually('c to be disconnected', () => c.connections().length === 0)
    expect(a.connections().map(x => x.peer)).toEqual([bId])
    expect(c.servers(iface)).toEqual([])
    expect(a.trustedLabels(bId)).toEqual({})
    expect(a.trustedLabels(c.peerId)).toBeUndefined()
  })

  it('routes nothing to a peer it excludes, even when an allowed peer relays that peer\'s adverts', async () => {
    const relay = await node({})
    const outsider = await node({ bootstrap: bootstrapOf(relay) })
    outsider.serve(whoamiService('test:sec', 'who', undefined, 'outsider'))
    await eventually('the relay to learn the outsider', () => relay.servers(iface).length === 1)
    const a = await node({ allowPeers: [relay.peerId], bootstrap: bootstrapOf(relay) })
    await eventually('a to hear of the outsider through the relay', () => a.peer(outsider.peerId)?.exports.length === 1)
    expect(a.servers(iface)).toEqual([])
    expect(a.interfaces().get('test:sec/who')).toBeUndefined()
    relay.serve(whoamiService('test:sec', 'who', undefined, 'relay'))
    await eventually('a to route to the allowed relay', () => a.servers(iface).length === 1)
    expect(a.servers(iface).map(s => s.peer)).toEqual([relay.peerId])
  })

  it('a node with an allow-list never dials a peer it excludes', async () => {
    const other = await node({})
    const a = await node({ allowPeers: [peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()] })
    await expect(a.dial(other.addresses()[0])).rejects.toThrow(/gater|denied|blocked/i)
    expect(a.stats().connectionsRefused['dial-not-allowed']).toBe(1)
    expect(other.connections()).toEqual([])
  })

  it('the trust file gives labels, reloads on change and on demand, closes connections of peers taken off, and keeps the old list on a bad edit', async () => {
    scratch = await scratchDir('trust')
    const bKey = await generateKeyPair('Ed25519')
    const bId = peerIdFromPrivateKey(bKey).toString()
    const cKey = await generateKeyPair('Ed25519')
    const cId = peerIdFromPrivateKey(cKey).toString()
    const file = join(scratch.path, 'trust.yaml')
    await writeFile(file, `peers:\n  - id: ${bId}\n    labels: {zone: eu-1, role: db}\n  - id: ${cId}\n`)
    const lines: string[] = []
    const a = await node({ trustFile: file, logger: createLogger({ level: 'info', format: 'json', write: l => { lines.push(l) } }) })
    expect(a.trustedLabels(bId)).toEqual({ zone: 'eu-1', role: 'db' })
    expect(a.trustedLabels(cId)).toEqual({})
    const b = await node({ privateKey: bKey, bootstrap: bootstrapOf(a) })
    const c = await node({ privateKey: cKey, bootstrap: bootstrapOf(a) })
    await eventually('both connected', () => b.connections().length > 0 && c.connections().length > 0)

    // a bad edit: the old list stays, the error is logged with its line
    await writeFile(file, `peers:\n  - id: ${bId}\n    label: {zone: eu-1}\n`)
    await eventually('the bad edit to be logged', () => lines.some(l => /not reloaded/.test(l) && /trust\.yaml:3/.test(l)))
    expect(a.trustedLabels(cId)).toEqual({})
    expect(c.connections().length).toBeGreaterThan(0)

    // c taken off: the watch reloads and c is disconnected
    await writeFile(file, `peers:\n  - id: ${bId}\n    labels: {zone: eu-2}\n`)
    await eventually('the watch to apply the edit', () => a.trustedLabels(bId)?.zone === 'eu-2')
    expect(a.trustedLabels(cId)).toBeUndefined()
    await eventually('c to be disconnected', () => a.connections(cId).length === 0)
    expect(a.connections(bId).length).toBeGreaterThan(0)
    expect(lines.some(l => new RegExp(`peer ${cId} is no longer on the allow-list`).test(l))).toBe(true)

    // on demand (SIGHUP calls this)
    await writeFile(file, `peers:\n  - id: ${bId}\n  - id: ${cId}\n    labels: {role: back}\n`)
    expect(await a.reloadTrust()).toBe(true)
    expect(a.trustedLabels(cId)).toEqual({ role: 'back' })
  })
})
