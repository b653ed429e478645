// Issue 12, item 1, against real `wasmesh node` processes: streams opened and reset in every state and order, and a node stopped (SIGSTOP) while its callers give up, must not end the process.
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createNode } from '../../node/node.ts'
import type { MeshNode } from '../../node/index.ts'
import { nodeInternals } from '../../node/node.ts'
import { silentLogger } from '../../node/logger.ts'
import { RouterError } from '../../node/router.ts'
import { streamStorm } from '../node/libp2p/stream-storm.ts'
import { parseExposition, valueOf } from '../node/ops/exposition.ts'
import type { Family } from '../node/ops/exposition.ts'
import { Processes, until } from './processes.ts'
import type { NodeProcess } from './processes.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

const processes = new Processes()
let dir: ScratchDir
const clients: MeshNode[] = []

beforeAll(async () => {
  dir = await scratchDir('streams')
})

afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map(async c => { await c.stop() }))
  await processes.killAll()
})

afterAll(async () => {
  await dir?.remove()
})

interface Victim {
  readonly node: NodeProcess
  readonly metricsUrl: string
  /** Set once the process exited: it must not, until the test kills it. */
  readonly exit: { code?: number | null, signal?: string | null }
}

async function startVictim (name: string): Promise<Victim> {
  const node = await processes.node(name, [
    '--listen', '/ip4/127.0.0.1/tcp/0',
    '--data-dir', join(dir.path, name),
    '--cache-dir', join(dir.path, 'cache'),
    '--metrics', '127.0.0.1:0',
    '--log-level', process.env.WASMESH_SYSTEM_LOG_LEVEL ?? 'info'
  ])
  const exit: Victim['exit'] = {}
  void node.exited.then(e => { exit.code = e.code; exit.signal = e.signal })
  const metricsUrl = await until(`${name} to print its metrics address`, 5_000, async () => /^metrics: (http:\/\/\S+)\/metrics/m.exec(node.output())?.[1])
  return { node, metricsUrl, exit }
}

async function metricsOf (victim: Victim): Promise<Map<string, Family>> {
  let text: string
  try {
    text = await (await fetch(`${victim.metricsUrl}/metrics`)).text()
  } catch (err) {
    throw new Error(`${victim.node.name} does not answer /metrics (${(err as Error).message}): did it die?\n${victim.node.output()}`, { cause: err })
  }
  return parseExposition(text)
}

async function clientOf (victim: Victim, fastPath: boolean): Promise<MeshNode> {
  const client = await createNode({
    transport: 'tcp',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: victim.node.addresses.filter(a => a.startsWith('/ip4/127.0.0.1/')),
    peering: false,
    fastPath,
    logger: silentLogger
  })
  clients.push(client)
  await client.start()
  await until('the client to know the node\'s demo host', 15_000, async () => client.servers('local:demo/host').length === 1 || undefined)
  return client
}

function alive (victim: Victim): void {
  expect(victim.exit, `${victim.node.name} exited\n${victim.node.output()}`).toEqual({})
}

describe('a wasmesh node process', () => {
  it.each([
    { clientFast: true },
    { clientFast: false }
  ])('survives streams opened and reset in every state and order (client fast path $clientFast)', async ({ clientFast }) => {
    const victim = await startVictim(`victim-${clientFast ? 'fast' : 'stock'}`)
    const client = await clientOf(victim, clientFast)
    const target = victim.node.peerId
    await client.call('local:demo/host', 'log', ['before the storm'], { target })

    await streamStorm(nodeInternals(client).libp2p, peerIdFromString(target))
    await until('the node to let go of every stream of the storm', 20_000, async () => {
      if (Object.keys(victim.exit).length > 0) return true // dead: alive() below says so, with its output
      const families = await metricsOf(victim)
      const held = (valueOf(families, 'wasmesh_libp2p_streams', { protocol: '/wrpc/0.0.1' }) ?? 0) + (valueOf(families, 'wasmesh_libp2p_streams', { protocol: 'unnegotiated' }) ?? 0)
      return held === 0 || undefined
    })

    alive(victim)
    await client.call('local:demo/host', 'log', ['after the storm'], { target })
    const families = await metricsOf(victim)
    // the same-chunk openings and resets, each dropped before an answer and counted
    expect(valueOf(families, 'wasmesh_stream_errors_total', { reason: 'reset-before-answer' })).toBeGreaterThan(0)
    for (const reason of ['answer-failed', 'negotiation-failed', 'handler-failed']) {
      expect(valueOf(families, 'wasmesh_stream_errors_total', { reason }), reason).toBeUndefined()
    }
    alive(victim)
  }, 90_000)

  it('survives being stopped (SIGSTOP) while its callers time out and reset their streams, and serves once resumed', async () => {
    const victim = await startVictim('victim-stopped')
    const client = await clientOf(victim, true)
    const target = victim.node.peerId
    // the signature is known from here on: the calls below only open wRPC streams
    await client.call('local:demo/host', 'log', ['before the stop'], { target })

    victim.node.kill('SIGSTOP')
    try {
      const calls = await Promise.allSettled(Array.from({ length: 20 }, async (_, i) =>
        await client.call('local:demo/host', 'log', [`while stopped ${i}`], { target, timeoutMs: 1_000 })))
      // every caller gave up: its stream was reset while the node could not read it
      for (const c of calls) {
        expect(c.status).toBe('rejected')
        expect((c as PromiseRejectedResult).reason).toBeInstanceOf(RouterError)
        expect(((c as PromiseRejectedResult).reason as RouterError).code).toBe('timeout')
      }
    } finally {
      victim.node.kill('SIGCONT')
    }

    // the node now reads every opening and reset at once; it must answer the next call
    await client.call('local:demo/host', 'log', ['after the stop'], { target, timeoutMs: 10_000 })
    const families = await metricsOf(victim)
    // whether a reset lands in the same chunk as its opening depends on how the kernel hands the
    // backlog over (the storm test above makes that case on purpose); what must hold is that
    // nothing failed beyond a dropped stream
    for (const reason of ['answer-failed', 'negotiation-failed', 'handler-failed']) {
      expect(valueOf(families, 'wasmesh_stream_errors_total', { reason }), reason).toBeUndefined()
    }
    alive(victim)
  }, 90_000)
})
