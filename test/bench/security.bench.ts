// The cost of membership on a call: wRPC between two node processes on loopback, open, in a private lattice (pnet's XSalsa20 under noise) and with an allow-list too, all in one run.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { MeshNode } from '../../node/index.ts'
import { newLatticeKeyFile, readLatticeKey, writePrivateFile } from '../../node/security/index.ts'
import { startServer } from './support/child.ts'
import type { ServerProcess } from './support/child.ts'
import { ECHO_CALL_IFACE, echoClient } from './support/echo.ts'
import { measureLatency } from './support/latency.ts'
import { scratchDir } from '../support/scratch.ts'
import { fmtRate, latencyTable, measureRates, rateTable, timed, verify } from './wrpc.bench.ts'
import type { Subject } from './wrpc.bench.ts'

const SMALL_BYTES = 64
const LEVELS = [1, 64] as const
/** As the wrpc suite: many short samples taken in turn, so that the machine's drift hits every case alike. */
const LATENCY = { warmupMs: 300, rounds: 15, roundMs: 200 }
const RATE = { samples: 11, sampleMs: 300 }

const serverScript = new URL('./support/wrpc-server.ts', import.meta.url)

const OPEN = 'wRPC `node.call`, open lattice, 2 processes'
const KEYED = 'wRPC `node.call`, lattice key (pnet), 2 processes'
const ALLOWED = 'wRPC `node.call`, lattice key and allow-list, 2 processes'

export async function run (): Promise<string> {
  const started = performance.now()
  const scratch = await scratchDir('bench-security')
  const children: ServerProcess[] = []
  const clients: MeshNode[] = []
  try {
    const keyFile = join(scratch.path, 'lattice.key')
    await writePrivateFile(keyFile, newLatticeKeyFile())
    const key = await readLatticeKey(keyFile)
    const allowedKey = await generateKeyPair('Ed25519')
    const spawned = await Promise.allSettled([
      startServer(serverScript, ['wrpc']),
      startServer(serverScript, ['wrpc', '--lattice-key', keyFile]),
      startServer(serverScript, ['wrpc', '--lattice-key', keyFile, '--allow-peer', peerIdFromPrivateKey(allowedKey).toString()])
    ])
    for (const s of spawned) if (s.status === 'fulfilled') children.push(s.value)
    const failed = spawned.find(s => s.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    const [openServer, keyedServer, allowedServer] = children
    const client = async (address: string, opts: Parameters<typeof echoClient>[1]): Promise<MeshNode> => {
      const node = await echoClient(address, opts)
      clients.push(node)
      return node
    }
    const open = await client(openServer.address, {})
    const keyed = await client(keyedServer.address, { init: { latticeKey: key } })
    const allowed = await client(allowedServer.address, { init: { latticeKey: key, privateKey: allowedKey } })
    const call = (node: MeshNode) => async (p: Uint8Array): Promise<Uint8Array> => (await node.call(ECHO_CALL_IFACE, 'echo', [p]))[0] as Uint8Array
    const subjects: Subject[] = [
      { name: OPEN, baselines: [], call: call(open) },
      { name: KEYED, baselines: [OPEN], call: call(keyed) },
      { name: ALLOWED, baselines: [OPEN], call: call(allowed) }
    ]
    const small = new Uint8Array(randomBytes(SMALL_BYTES))
    await verify(subjects, [small, new Uint8Array(randomBytes(256 * 1024))])
    const latency = await measureLatency(subjects.map(s => ({ name: s.name, fn: timed(s, small) })), LATENCY)
    const rates = await measureRates(subjects, small, LEVELS, RATE)
    const seconds = (performance.now() - started) / 1000
    return [
      '## The cost of membership on a call (issue 15)',
      '',
      '`npm run bench -- security`: the wRPC echo of `npm run bench -- wrpc` (64 B, served natively by a node in a child',
      'process on 127.0.0.1 TCP, called with `node.call` from a node in the bench process), against three servers in the',
      'same run: an open lattice, a private lattice (`--lattice-key`: `@libp2p/pnet` XSalsa20 over the socket, under',
      'noise, both ends), and a private lattice whose server also has an allow-list naming the client (the gater decides',
      'once per connection, so it costs nothing per call). Each case echoes its payload byte for byte before timing.',
      '',
      `**Sequential 64 B calls**: ${LATENCY.rounds} rounds of ${LATENCY.roundMs} ms per case in turn after a ${LATENCY.warmupMs} ms warm-up.`,
      '',
      latencyTable(subjects, latency),
      '',
      `**64 B calls per second**, 1 and 64 in flight: median of ${RATE.samples} samples of ${RATE.sampleMs} ms, all cases in turn; ratio > 1 is faster.`,
      '',
      rateTable(subjects, LEVELS, rates, fmtRate, 'calls/s'),
      '',
      `(suite time ${seconds.toFixed(0)} s)`
    ].join('\n')
  } finally {
    for (const c of clients.reverse()) await c.stop().catch(() => {})
    await Promise.all(children.map(async c => { await c.stop() }))
    await scratch.remove()
  }
}
