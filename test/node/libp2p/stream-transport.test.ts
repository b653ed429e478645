import { concat } from '../../support/bytes.ts'
import { describe, it, expect, afterEach } from 'vitest'
import type { Stream } from '@libp2p/interface'
import { streamTransport } from '../../../node/stream-transport.ts'
import type { StreamTransport } from '../../../node/stream-transport.ts'
import type { MeshLibp2p } from '../../../node/libp2p.ts'
import { Nodes, waitFor } from './helpers.ts'
import type { TransportKind } from './helpers.ts'

const RAW = '/wasmesh-test/raw/1'
const nodes = new Nodes()
afterEach(async () => { await nodes.stopAll() })

/** Two connected nodes; `pair()` opens one stream and gives both ends as transports. */
async function setup (kind: TransportKind): Promise<{ pair: () => Promise<{ client: StreamTransport, server: StreamTransport, serverStream: Stream, clientStream: Stream }> }> {
  const a = await nodes.start(kind)
  const b = await nodes.start(kind)
  const inbound: Stream[] = []
  const waiting: Array<(s: Stream) => void> = []
  await b.handle(RAW, (stream) => {
    const w = waiting.shift()
    if (w != null) w(stream)
    else inbound.push(stream)
  }, { maxInboundStreams: 64, maxOutboundStreams: 64 })
  return {
    pair: async () => {
      const clientStream = await (a as MeshLibp2p).dialProtocol(b.getMultiaddrs()[0], RAW)
      const client = streamTransport(clientStream)
      // the server's handler runs once the first bytes (or our close) arrive
      const serverStream = inbound.shift() ?? await new Promise<Stream>(resolve => { waiting.push(resolve) })
      return { client, server: streamTransport(serverStream), serverStream, clientStream }
    }
  }
}

async function readAll (t: StreamTransport): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = []
  while (true) {
    const c = await t.read()
    if (c == null) return chunks
    chunks.push(c)
  }
}

function pattern (n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

describe.each<TransportKind>(['tcp', 'memory'])('streamTransport over %s', (kind) => {
  it('carries bytes both ways as plain Uint8Arrays and reads null after the peer closes its write side', async () => {
    const { pair } = await setup(kind)
    const { client, server } = await pair()
    await client.write(Uint8Array.of(1, 2, 3))
    await client.write(Uint8Array.of(4, 5))
    await client.closeWrite()
    const got = await readAll(server)
    for (const c of got) expect(c.constructor).toBe(Uint8Array)
    expect([...concat(...got)]).toEqual([1, 2, 3, 4, 5])
    // half-closed: the server still answers
    await server.write(Uint8Array.of(9))
    await server.closeWrite()
    expect([...concat(...(await readAll(client)))]).toEqual([9])
    expect(await client.read()).toBeNull()
    expect(client.signal.aborted).toBe(false)
    expect(server.signal.aborted).toBe(false)
  })

  it('a reset by the peer fails the reader with `closed` and aborts the signal', async () => {
    const { pair } = await setup(kind)
    const { client, server } = await pair()
    await client.write(Uint8Array.of(1))
    expect([...(await server.read())!]).toEqual([1])
    const pending = server.read()
    client.abort(new Error('caller gave up'))
    await expect(pending).rejects.toMatchObject({ code: 'closed' })
    await waitFor('the server signal to abort', () => server.signal.aborted)
    expect(client.signal.aborted).toBe(true)
    expect(() => client.write(Uint8Array.of(2))).toThrow()
  })

  it('a slow reader slows the writer down instead of buffering without bound, and loses nothing', async () => {
    const { pair } = await setup(kind)
    const { client, server, serverStream } = await pair()
    const total = 48 * 1024 * 1024
    const chunk = 64 * 1024
    let accepted = 0
    let blocked: Promise<void> | null = null
    const writer = (async () => {
      for (let off = 0; off < total; off += chunk) {
        const r = client.write(pattern(chunk, off / chunk))
        accepted += chunk
        if (r != null) {
          blocked = r
          await r
          blocked = null
        }
      }
      await client.closeWrite()
    })()
    // the writer stalls on backpressure while nobody reads: wait until it stayed blocked a while
    let lastAccepted = -1
    await waitFor('the writer to block on backpressure', () => {
      const stalled = blocked != null && accepted === lastAccepted
      lastAccepted = accepted
      return stalled
    }, 30_000, 200)
    expect(accepted).toBeLessThan(total / 2)
    expect(serverStream.status).toBe('open')
    // now read everything: every byte arrives, in order
    let received = 0
    let mismatches = 0
    while (true) {
      const c = await server.read()
      if (c == null) break
      for (let i = 0; i < c.length; i++) {
        const p = received + i
        if (c[i] !== ((((p % chunk) * 31) + Math.floor(p / chunk)) & 0xff)) mismatches++
      }
      received += c.length
    }
    await writer
    expect(received).toBe(total)
    expect(mismatches).toBe(0)
  }, 60_000)
})
