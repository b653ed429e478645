import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMeshLibp2p, WRPC_PROTOCOL } from '../../../node/libp2p.ts'
import type { MeshLibp2p } from '../../../node/libp2p.ts'
import type { MeshNode } from '../../../node/index.ts'
import { nodeInternals } from '../../../node/node.ts'
import { PUT_IFACE, bootstrapOf, createMesh, eventually, putService } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'
import { byteListCallHead } from '../../support/wrpc.ts'
import { concat } from '../../support/bytes.ts'

const KiB = 1024
const MiB = 1024 * KiB
const IFACE = PUT_IFACE

/** The opening of a `put` call declaring a `list<u8>` of `length` bytes, none of them sent. */
function putHead (length: number): Uint8Array {
  return byteListCallHead(IFACE, 'put', length)
}

/** Everything the victim answers on `stream`, as text (error frames are JSON). */
async function answerText (stream: Stream): Promise<string> {
  const parts: Uint8Array[] = []
  try {
    for await (const c of stream) parts.push(c instanceof Uint8Array ? c : c.subarray())
  } catch {}
  return new TextDecoder().decode(Buffer.concat(parts))
}

interface Stalled {
  readonly stream: Stream
  /** Bytes its stream accepted from us. */
  sent: number
  /** Waiting for the stream to drain: the victim is not taking more. */
  waiting: boolean
  done: boolean
}

/** Declares a `list<u8>` of `length` bytes and sends all but the last 64 KiB of it as fast as the stream takes it. */
async function stall (attacker: MeshLibp2p, victim: MeshNode, length: number): Promise<Stalled> {
  const stream = await attacker.dialProtocol(nodeInternals(victim).libp2p.peerId, WRPC_PROTOCOL)
  const s: Stalled = { stream, sent: 0, waiting: false, done: false }
  const chunk = new Uint8Array(64 * KiB).fill(7)
  void (async () => {
    try {
      stream.send(putHead(length))
      while (s.sent + chunk.length < length) {
        s.sent += chunk.length
        if (!stream.send(chunk)) {
          s.waiting = true
          await new Promise<void>((resolve, reject) => {
            stream.addEventListener('drain', () => { resolve() }, { once: true })
            stream.addEventListener('close', () => { reject(new Error('closed')) }, { once: true })
          })
          s.waiting = false
        }
      }
      s.done = true
    } catch {}
  })()
  return s
}

let mesh: Mesh
let victim: MeshNode
let client: MeshNode
let attacker: MeshLibp2p

beforeEach(async () => {
  mesh = await createMesh()
  victim = await mesh.add({
    limits: { maxInboundStreams: 32, maxInboundBufferedBytesPerPeer: 1 * MiB, maxInboundBufferedBytesPerNode: 16 * MiB, maxInboundPausedMs: 60_000 },
    sessionLimits: { idleTimeoutMs: 500, minProgressBytes: 16 * KiB }
  })
  victim.serve(putService())
  client = await mesh.add({ bootstrap: bootstrapOf(victim) })
  await eventually('the client to know the victim', () => client.servers(IFACE).length === 1)
  attacker = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), transport: 'memory' })
  await attacker.start()
  await attacker.dial(nodeInternals(victim).libp2p.getMultiaddrs()[0])
})

afterEach(async () => {
  await attacker?.stop()
  await mesh?.stop()
})

describe('stalled inbound values hold bounded memory', () => {
  it('keeps a peer\'s stalled values within its budget, back-pressures it, serves others, and gives the bytes back on reset', async () => {
    const streams = await Promise.all(Array.from({ length: 24 }, async () => await stall(attacker, victim, 3 * MiB)))
    // without budgets the victim takes all 24 x 3 MiB; a budget of 1 MiB for the peer pauses all but
    // the oldest holder, which may finish its value (so that some value always can)
    await eventually('the attacker to be stalled', () =>
      streams.some(s => s.done) && streams.every(s => s.waiting || s.done) && victim.stats().inboundBuffered.paused >= streams.length - 1, 30_000)
    const buffered = victim.stats().inboundBuffered.bytes
    // the peer's budget, the oldest holder's whole value, and about a muxer message per stream read or queued as the budget ran out
    expect(buffered).toBeLessThanOrEqual(1 * MiB + 3 * MiB + streams.length * 128 * KiB)
    expect(streams.filter(s => s.waiting).length).toBeGreaterThanOrEqual(streams.length - 1)
    const sent = streams.reduce((n, s) => n + s.sent, 0)
    expect(sent).toBeLessThan(streams.length * 3 * MiB / 2)

    // another peer's call beside them goes through
    expect(await client.call(IFACE, 'put', [new Uint8Array(512 * KiB)])).toEqual([512 * KiB])

    for (const s of streams) s.stream.abort(new Error('attacker gone'))
    await eventually('the budget to be given back', () => {
      const b = victim.stats().inboundBuffered
      return b.bytes === 0 && b.paused === 0 && b.holders === 0
    })
  }, 60_000)

  it('serves many concurrent 1 MiB calls of one peer that exceed its budget: slowed, not failed', async () => {
    const payloads = Array.from({ length: 32 }, (_, i) => new Uint8Array(1 * MiB).fill(i))
    const answers = await Promise.all(payloads.map(async p => await client.call(IFACE, 'put', [p])))
    expect(answers).toEqual(payloads.map(() => [1 * MiB]))
    const b = victim.stats().inboundBuffered
    expect(b.refused).toBe(0)
    await eventually('the budget to be given back', () => victim.stats().inboundBuffered.bytes === 0)
  }, 60_000)

  it('closes a stream that trickles a byte at a time into an unfinished value with too-slow', async () => {
    const stream = await attacker.dialProtocol(nodeInternals(victim).libp2p.peerId, WRPC_PROTOCOL)
    stream.send(concat(putHead(1 * MiB), new Uint8Array(32 * KiB)))
    const answer = answerText(stream)
    let answered = false
    void answer.then(() => { answered = true })
    // one byte every 100 ms: inside every 500 ms idle interval, far below 16 KiB per interval
    const trickle = setInterval(() => {
      try { stream.send(Uint8Array.of(1)) } catch {}
    }, 100)
    try {
      await eventually('the victim to answer', () => answered, 20_000)
    } finally {
      clearInterval(trickle)
    }
    expect(await answer).toContain('too-slow')
    await eventually('the budget to be given back', () => victim.stats().inboundBuffered.bytes === 0)
    stream.abort(new Error('done'))
  }, 30_000)
})
