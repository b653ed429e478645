import { describe, expect, it, afterEach } from 'vitest'
import type { Stream } from '@libp2p/interface'
import { streamTransport } from '../../../node/stream-transport.ts'
import type { MeshLibp2p } from '../../../node/libp2p.ts'
import { Nodes } from './helpers.ts'
import type { TransportKind } from './helpers.ts'

const RAW = '/wasmesh-test/slow-reader/1'
const MiB = 1024 * 1024
const nodes = new Nodes()
afterEach(async () => { await nodes.stopAll() })

describe.each<TransportKind>(['tcp', 'memory'])('a reader slower than its sender over %s', (kind) => {
  it('is never reset: the pause a resume hands data to is kept, so yamux stops the sender', async () => {
    const a = await nodes.start(kind)
    const b = await nodes.start(kind)
    const inbound = Promise.withResolvers<Stream>()
    await b.handle(RAW, stream => { inbound.resolve(stream) })
    const clientStream = await (a as MeshLibp2p).dialProtocol(b.getMultiaddrs()[0], RAW)
    const client = streamTransport(clientStream)
    // 1 MiB chunks and the default 4 MiB window: before the fix the paused stream's buffer passed 8 MiB and was reset
    const total = 48
    const sending = (async () => {
      for (let i = 0; i < total; i++) await client.write(new Uint8Array(MiB).fill(i))
      await client.closeWrite()
    })()
    const server = streamTransport(await inbound.promise)
    let got = 0
    while (true) {
      const chunk = await server.read()
      if (chunk == null) break
      got += chunk.length
      // a consumer that lets the event loop run between chunks, so the sender gets ahead
      for (let i = 0; i < 4; i++) await new Promise<void>(resolve => { setImmediate(resolve) })
    }
    await sending
    expect(got).toBe(total * MiB)
  }, 120_000)
})
