import { describe, expect, it } from 'vitest'
import { invoke, serve } from '../../protocol/session.ts'
import { createTransportPair } from '../../protocol/transport.ts'
import type { StreamType, Type } from '../../protocol/wit/model.ts'

const u8: Type = { kind: 'u8' } as Type
const bytes: StreamType = { kind: 'stream', element: u8 } as StreamType
const u64: Type = { kind: 'u64' } as Type
const MiB = 1024 * 1024

describe('a stream parameter whose consumer is slower than its sender', () => {
  it('holds the sender back instead of failing at maxValueBytes, and the consumer gets every byte', async () => {
    const [client, server] = createTransportPair()
    const limits = { maxValueBytes: 8 * MiB, streamHighWaterBytes: 1 * MiB }
    void serve(server, {
      lookup: () => ({
        params: [bytes],
        results: [u64],
        call: async ([data]) => {
          let n = 0
          for await (const chunk of data as AsyncIterable<Uint8Array>) {
            n += chunk.length
            // a consumer that yields to the event loop per chunk: the sender runs far ahead unless held back
            await new Promise<void>(resolve => { setImmediate(resolve) })
            await new Promise<void>(resolve => { setImmediate(resolve) })
          }
          return [BigInt(n)]
        }
      })
    }, { limits })
    async function * body (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 64; i++) yield new Uint8Array(256 * 1024).fill(i)
    }
    const [total] = await invoke(client, 'test:s/s', 'take', [bytes], [body()], [u64], { limits })
    // 16 MiB through a session whose maxValueBytes is 8 MiB
    expect(total).toBe(16n * BigInt(MiB))
  }, 60_000)
})
