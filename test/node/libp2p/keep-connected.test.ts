import { describe, it, expect, afterEach } from 'vitest'
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { keepConnected } from '../../../node/libp2p.ts'
import type { BootstrapKeeper } from '../../../node/libp2p.ts'
import { Nodes, waitFor } from './helpers.ts'
import type { TransportKind } from './helpers.ts'

const nodes = new Nodes()
const keepers: BootstrapKeeper[] = []
afterEach(async () => {
  for (const k of keepers.splice(0)) await k.stop()
  await nodes.stopAll()
})

/** A TCP port that was free a moment ago (the late node listens on it). */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return port
}

async function listenAddr (kind: TransportKind): Promise<string> {
  return kind === 'memory' ? `/memory/${randomUUID()}` : `/ip4/127.0.0.1/tcp/${await freePort()}`
}

const fast = { initialRetryDelayMs: 20, maxRetryDelayMs: 200, dialTimeoutMs: 2_000 }

describe.each<TransportKind>(['memory', 'tcp'])('keepConnected over %s', (kind) => {
  it('retries with backoff until a bootstrap peer that starts late is up, then connects', async () => {
    const listen = await listenAddr(kind)
    const late = await nodes.create(kind, { listen: [listen] })
    const node = await nodes.start(kind)
    let failedDials = 0
    const keeper = keepConnected(node, [multiaddr(`${listen}/p2p/${late.peerId.toString()}`)], { ...fast, onDialError: () => { failedDials++ } })
    keepers.push(keeper)
    keeper.start()
    expect(keeper.isStarted()).toBe(true)
    await waitFor('several failed dial rounds', () => failedDials >= 3)
    expect(node.getConnections()).toHaveLength(0)
    await late.start()
    await waitFor('a connection to the late bootstrap peer', () => node.getConnections(late.peerId).length > 0)
  })

  it('re-dials the bootstrap peers when the node loses all its connections', async () => {
    const boot = await nodes.start(kind)
    const node = await nodes.start(kind)
    const keeper = keepConnected(node, [boot.getMultiaddrs()[0]], fast)
    keepers.push(keeper)
    keeper.start()
    await waitFor('the first connection', () => node.getConnections(boot.peerId).length === 1)
    for (let round = 0; round < 3; round++) {
      const before = node.getConnections(boot.peerId)[0].id
      // the bootstrap peer hangs up: the node is isolated
      await boot.hangUp(node.peerId)
      await waitFor('a new connection after isolation', () => {
        const conns = node.getConnections(boot.peerId)
        return conns.length === 1 && conns[0].id !== before && conns[0].status === 'open'
      })
    }
    await keeper.stop()
    expect(keeper.isStarted()).toBe(false)
  })

  it('skips its own address in the bootstrap list and dials the others', async () => {
    const boot = await nodes.start(kind)
    const node = await nodes.start(kind)
    const keeper = keepConnected(node, [node.getMultiaddrs()[0], boot.getMultiaddrs()[0]], fast)
    keepers.push(keeper)
    keeper.start()
    await waitFor('a connection to the other bootstrap peer', () => node.getConnections(boot.peerId).length === 1)
    expect(node.getConnections(node.peerId)).toHaveLength(0)
  })
})

