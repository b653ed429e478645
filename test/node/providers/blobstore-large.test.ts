import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BLOBSTORE } from '../../../node/providers/blobstore/index.ts'
import { blobstoreMesh } from '../../support/blobstore.ts'
import type { BlobstoreMesh } from '../../support/blobstore.ts'

type R<T = unknown> = { tag: 'ok', val: T } | { tag: 'err', val: string }

const MiB = 1024 * 1024
const CHUNKS = 1024 // of 1 MiB: 1 GiB
/** What the resident set may grow by while 1 GiB passes through both nodes (they share this process). */
const MAX_RSS_GROWTH_BYTES = 400 * MiB

describe('a 1 GiB object through two nodes', () => {
  let bs: BlobstoreMesh

  beforeAll(async () => {
    bs = await blobstoreMesh({ config: { fsync: 'false' } })
  }, 60_000)

  afterAll(async () => { await bs?.stop() })

  it('is written and read back in bounded memory', async () => {
    global.gc?.()
    const baseline = process.memoryUsage().rss
    let peak = baseline
    const sample = (): void => { peak = Math.max(peak, process.memoryUsage().rss) }

    const id = { container: 'big', object: 'gib' }
    await bs.client.call(BLOBSTORE, 'create-container', ['big'])
    // each chunk is fresh (the session sends large chunks from the array given) and says which it is
    async function * body (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < CHUNKS; i++) {
        sample()
        yield new Uint8Array(MiB).fill(i & 255)
      }
    }
    const [w] = await bs.client.call(BLOBSTORE, 'write-container-data', [id, body()], { timeoutMs: 600_000 }) as [R<Promise<R>>]
    expect(w.tag).toBe('ok')
    expect(await (w as { val: Promise<R> }).val).toEqual({ tag: 'ok', val: undefined })
    expect((await stat(join(bs.root, 'big', 'gib'))).size).toBe(CHUNKS * MiB)

    const [r] = await bs.client.call(BLOBSTORE, 'get-container-data', [id, 0n, BigInt(CHUNKS * MiB - 1)], { timeoutMs: 600_000 }) as [R<[AsyncIterable<Uint8Array>, Promise<R>]>]
    if (r.tag !== 'ok') throw new Error(r.val)
    let offset = 0
    let wrong = 0
    for await (const chunk of r.val[0]) {
      sample()
      // chunks of the read need not align with the written ones: check each byte's value by its offset
      for (let j = 0; j < chunk.length; j += 4093) if (chunk[j] !== (Math.floor((offset + j) / MiB) & 255)) wrong++
      offset += chunk.length
    }
    expect(await r.val[1]).toEqual({ tag: 'ok', val: undefined })
    expect(offset).toBe(CHUNKS * MiB)
    expect(wrong).toBe(0)
    expect(peak - baseline).toBeLessThan(MAX_RSS_GROWTH_BYTES)
  }, 600_000)
})
