// Nodes behind real NAT (router namespaces masquerading private LANs) and on a LAN with no bootstrap: relays, reachability, mDNS. Needs root.
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { newLatticeKeyFile } from '../../node/security/index.ts'
import { describeNeeding } from '../support/needs.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { createNatLab, natUnavailable, publicSubnet } from './nat-lab.ts'
import type { NatLab } from './nat-lab.ts'
import { createNetnsLab } from './netns.ts'
import type { NetnsLab } from './netns.ts'
import { Processes, until } from './processes.ts'
import type { NodeProcess } from './processes.ts'

const run = promisify(execFile)
const unavailable = await natUnavailable()

interface MeshJson { peers: Array<{ peer: string, addresses: string[] }> }

describeNeeding('nodes across NAT and on a LAN', { what: 'network namespaces with NAT', install: 'Run as root with iproute2 and nftables', ...(unavailable !== undefined ? { missing: unavailable } : {}) }, () => {
  const processes = new Processes()
  let dir: ScratchDir
  let nat: NatLab | undefined
  let lan: NetnsLab | undefined
  let upper: string
  const key = async (name: string): Promise<string> => {
    const file = join(dir.path, `${name}.key`)
    await writeFile(file, newLatticeKeyFile(), { mode: 0o600 })
    return file
  }
  const mesh = async (prefix: readonly string[], bootstrap: string, latticeKey: string): Promise<MeshJson> => {
    const r = await processes.cli(['mesh', '--json', '--bootstrap', bootstrap, '--lattice-key', latticeKey], { prefix })
    if (r.code !== 0) throw new Error(`wasmesh mesh: ${r.stderr}`)
    return JSON.parse(r.stdout) as MeshJson
  }

  beforeAll(async () => {
    upper = (await ensureExamples({ names: ['upper'] })).upper
    dir = await scratchDir('nat')
  })

  afterAll(async () => {
    // processes first: a namespace whose processes still run outlives its deletion
    await processes.killAll()
    await nat?.destroy()
    await lan?.destroy()
    await dir?.remove()
  })

  it('a node behind NAT reserves a slot on a public relay and advertises it; callers behind cone and symmetric NATs reach it through the relay', async () => {
    nat = await createNatLab(['relay'], [
      { name: 'a', lan: '10.1.0', nat: 'cone' },
      { name: 'b', lan: '192.168.2', nat: 'cone' },
      { name: 'c', lan: '10.3.0', nat: 'symmetric' }
    ])
    const lab = nat
    const latticeKey = await key('nat')
    const cache = join(dir.path, 'cache')
    const relay = await processes.node('relay', ['--listen', `/ip4/${lab.address('relay')}/tcp/4001`, '--lattice-key', latticeKey, '--data-dir', join(dir.path, 'relay'), '--cache-dir', cache], lab.prefix('relay'))
    expect(relay.output()).toMatch(/relay: offered to members behind NAT/)
    const bootstrap = relay.addresses.find(a => a.includes(`/ip4/${publicSubnet}.`))!
    const a = await processes.node('a', ['--listen', '/ip4/0.0.0.0/tcp/4001', '--bootstrap', bootstrap, '--lattice-key', latticeKey, '--data-dir', join(dir.path, 'a'), '--cache-dir', cache, '--component', upper, '--console', '127.0.0.1:9090', '--control'], lab.prefix('a'))
    expect(a.output()).toMatch(/reachability: (private addresses only|through a relay)/)

    // A's advert, as a public peer sees it: its relayed address through the relay, no loopback
    let last: MeshJson | undefined
    const seen = await until('A to advertise a relayed address', 60_000, async () => {
      const view = last = await mesh(lab.prefix('relay'), bootstrap, latticeKey)
      const peer = view.peers.find(p => p.peer === a.peerId)
      return peer?.addresses.some(x => x.includes(`/p2p/${relay.peerId}/p2p-circuit`)) === true ? peer : undefined
    }).catch((err: Error) => { throw new Error(`${err.message}\nlast view: ${JSON.stringify(last)}\n${a.output()}`) })
    expect(seen.addresses.some(x => x.includes('/ip4/127.'))).toBe(false)

    // callers at sites B (cone NAT) and C (symmetric NAT) reach A's component: only through the relay can they
    for (const site of ['b', 'c']) {
      const call = await processes.cli(['call', 'local:demo/upper#to-upper("through the relay")', '--bootstrap', bootstrap, '--lattice-key', latticeKey], { prefix: lab.prefix(site), timeoutMs: 60_000 })
      expect([site, call.code, call.stdout.trim(), call.stderr]).toEqual([site, 0, '"THROUGH THE RELAY"', expect.anything()])
    }

    // a full node at site B stays connected to A; how many such connections end direct (DCUtR) is reported
    const b = await processes.node('b', ['--listen', '/ip4/0.0.0.0/tcp/4001', '--bootstrap', bootstrap, '--lattice-key', latticeKey, '--data-dir', join(dir.path, 'b'), '--cache-dir', cache], lab.prefix('b'))
    const state = await until('B connected to A', 60_000, async () => {
      // the console listens on A's own loopback, inside its namespace
      const [cmd, ...args] = [...lab.prefix('a'), 'curl', '-s', 'http://127.0.0.1:9090/api/state']
      const r = await run(cmd, args, { timeout: 10_000 })
      const s = JSON.parse(r.stdout) as { connections: Array<{ peer: string, remoteAddr: string }> }
      return s.connections.some(c => c.peer === b.peerId) ? s : undefined
    })
    const toB = state.connections.filter(c => c.peer === b.peerId)
    console.info(`NAT lab: A's connections to B: ${toB.map(c => c.remoteAddr.includes('/p2p-circuit') ? 'relayed' : 'direct').join(', ')}`)
    expect(toB.length).toBeGreaterThan(0)

    // what an operator sees of A from the public side: its relay, and its connection to B with its path
    const r = await processes.cli(['get', 'network', a.peerId, '--json', '--bootstrap', bootstrap, '--lattice-key', latticeKey], { prefix: lab.prefix('relay'), timeoutMs: 60_000 })
    expect(r.code, r.stderr).toBe(0)
    const net = (JSON.parse(r.stdout) as Record<string, { reachability: string, relays: string[], connections: Array<{ peer: string, relayed: boolean, address: string }> }>)[a.peerId]
    expect(net.relays).toEqual([relay.peerId])
    expect(['private', 'relayed']).toContain(net.reachability)
    const netToB = net.connections.filter(c => c.peer === b.peerId)
    expect(netToB.length).toBeGreaterThan(0)
    for (const c of netToB) expect(c.relayed).toBe(c.address.includes(`/p2p/${relay.peerId}/p2p-circuit`))
    for (const n of [a, b, relay] as NodeProcess[]) n.kill('SIGTERM')
  }, 240_000)

  it('finds the members of its lattice on the LAN with no bootstrap address, and never another lattice\'s', async () => {
    lan = await createNetnsLab(['x', 'y', 'z'])
    const lab = lan
    // a LAN host has a route for multicast (usually its default route); these namespaces have none
    for (const m of ['x', 'y', 'z']) await run('ip', ['-n', lab.ns(m), 'route', 'add', '224.0.0.0/4', 'dev', 'eth0'])
    const [mine, theirs] = [await key('lan-1'), await key('lan-2')]
    const start = async (name: string, latticeKey: string): Promise<NodeProcess> =>
      await processes.node(name, ['--listen', '/ip4/0.0.0.0/tcp/4001', '--lattice-key', latticeKey, '--data-dir', join(dir.path, name), '--cache-dir', join(dir.path, 'cache')], lab.prefix(name))
    const x = await start('x', mine)
    const y = await start('y', mine)
    const z = await start('z', theirs)
    const xAddr = x.addresses.find(a => a.includes(`/ip4/${lab.address('x')}/`))!
    const zAddr = z.addresses.find(a => a.includes(`/ip4/${lab.address('z')}/`))!
    await until('x to find y on the LAN', 60_000, async () => {
      const view = await mesh(lab.prefix('x'), xAddr, mine)
      return view.peers.some(p => p.peer === y.peerId) ? view : undefined
    })
    // z runs mDNS too, under its own lattice's tag: neither side finds the other
    const fromX = await mesh(lab.prefix('x'), xAddr, mine)
    expect(fromX.peers.map(p => p.peer)).not.toContain(z.peerId)
    const fromZ = await mesh(lab.prefix('z'), zAddr, theirs)
    expect(fromZ.peers.map(p => p.peer)).toEqual([z.peerId])
    // and the adverts carry no loopback address to remote peers
    expect(fromX.peers.find(p => p.peer === y.peerId)?.addresses.some(a => a.includes('/ip4/127.'))).toBe(false)
    for (const n of [x, y, z]) n.kill('SIGTERM')
  }, 180_000)
})
