import { afterEach, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createNode } from '../../node/index.ts'
import type { MeshNode } from '../../node/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { createSimNetwork } from '../../simulations/network.ts'
import { createPrng } from '../../simulations/prng.ts'
import { validateScenario } from '../../simulations/scenario.ts'
import { echoService } from '../../simulations/service.ts'
import { eventually } from '../support/mesh.ts'

const fast = { advertIntervalMs: 200, advertTtlMs: 1_000, advertDebounceMs: 10, syncTimeoutMs: 2_000 }
const nodes: MeshNode[] = []

afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).map(async n => { await n.stop() }))
})

describe('the simulated network', () => {
  it('a partition cuts calls between the groups and not within them; healing restores them', async () => {
    const { network: model } = validateScenario({ name: 'p', durationS: 1, nodes: 4, services: [{ provider: 'echo' }], network: { latencyMs: 2 } })
    const net = createSimNetwork({ model, rng: createPrng(1), regionOf: () => 'local', runId: `ptest${process.pid}` })
    const keys = await Promise.all([0, 1, 2, 3].map(async () => await generateKeyPair('Ed25519')))
    keys.forEach((k, i) => { net.register(i, peerIdFromPrivateKey(k).toString()) })
    const seed = `${net.address(0)}/p2p/${peerIdFromPrivateKey(keys[0]).toString()}`
    for (let i = 0; i < 4; i++) {
      const node = await createNode({
        privateKey: keys[i],
        customTransport: net.transport(i),
        listen: [net.address(i)],
        bootstrap: i === 0 ? [] : [seed],
        encryption: 'plaintext',
        timings: fast,
        routing: { maxRetries: 0, callTimeoutMs: 3_000 },
        logger: silentLogger
      })
      node.serve(echoService('echo', 8))
      nodes.push(node)
      await node.start()
    }
    const call = async (from: number, to: number): Promise<string> => {
      try {
        await nodes[from].call('wasmesh:sim/echo@0.1.0', 'echo', [new Uint8Array([from, to])], { target: nodes[to].peerId })
        return 'ok'
      } catch (err) {
        return String((err as { code?: unknown }).code)
      }
    }
    // everyone knows everyone, and every pair can call
    await eventually('a converged mesh', () => nodes.every(n => nodes.every(o => o === n || n.peer(o.peerId) !== undefined)))
    for (const [a, b] of [[0, 3], [1, 2], [3, 1]]) expect(await call(a, b)).toBe('ok')
    expect(net.traffic(0).sentBytes).toBeGreaterThan(0)

    net.partition([[0, 1], [2, 3]])
    expect(nodes.every((n, i) => n.connections().every(c => {
      const other = nodes.findIndex(o => o.peerId === c.peer)
      return net.groupOf(other) === net.groupOf(i)
    }))).toBe(true)
    // within a side: still works; across: fails, both ways, whatever the registry still says
    expect(await call(0, 1)).toBe('ok')
    expect(await call(2, 3)).toBe('ok')
    expect(await call(0, 2)).not.toBe('ok')
    expect(await call(3, 1)).not.toBe('ok')
    expect(net.traffic(0).refusedDials + net.traffic(3).refusedDials).toBeGreaterThan(0)

    net.heal()
    // after healing the router's backoff expires and a dial goes through again
    await eventually('a call across the healed partition', async () => (await call(0, 2)) === 'ok', 15_000)
    expect(await call(3, 1)).toBe('ok')
  })

  it('a crashed node is cut off at once and reachable again once it is up', () => {
    const { network: model } = validateScenario({ name: 'c', durationS: 1, nodes: 2, services: [{ provider: 'echo' }] })
    const net = createSimNetwork({ model, rng: createPrng(1), regionOf: s => (s === 0 ? 'a' : 'b'), runId: 'ctest' })
    expect(net.reachable(0, 1)).toBe(true)
    net.down(1)
    expect(net.reachable(0, 1)).toBe(false)
    net.up(1)
    net.partition([[0]])
    // a node in no listed group is in a group of its own
    expect(net.reachable(0, 1)).toBe(false)
    net.heal()
    expect(net.reachable(0, 1)).toBe(true)
  })
})
