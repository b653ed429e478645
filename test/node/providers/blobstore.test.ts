import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MeshNode } from '../../../node/index.ts'
import { BLOBSTORE } from '../../../node/providers/blobstore/index.ts'
import { blobstoreMesh } from '../../support/blobstore.ts'
import type { BlobstoreMesh } from '../../support/blobstore.ts'
import { eventually } from '../../support/mesh.ts'

type R<T = unknown> = { tag: 'ok', val: T } | { tag: 'err', val: string }

async function collect (stream: AsyncIterable<unknown> | Uint8Array): Promise<Uint8Array> {
  if (stream instanceof Uint8Array) return stream
  const parts: Uint8Array[] = []
  for await (const c of stream) parts.push(c as Uint8Array)
  return Buffer.concat(parts)
}

async function * chunks (data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < data.length; o += size) yield data.subarray(o, Math.min(data.length, o + size))
}

describe('the blobstore provider through a node', () => {
  let bs: BlobstoreMesh
  let client: MeshNode
  const root = (): string => bs.root

  async function call<T = unknown> (func: string, ...params: unknown[]): Promise<R<T>> {
    const [r] = await client.call(BLOBSTORE, func, params)
    return r as R<T>
  }

  async function write (container: string, object: string, data: AsyncIterable<Uint8Array> | Uint8Array): Promise<R> {
    const r = await call<Promise<R>>('write-container-data', { container, object }, data)
    if (r.tag === 'err') return r
    return await r.val
  }

  async function read (container: string, object: string, start = 0n, end = 2n ** 64n - 1n): Promise<Uint8Array> {
    const r = await call<[AsyncIterable<unknown>, Promise<R>]>('get-container-data', { container, object }, start, end)
    if (r.tag === 'err') throw new Error(r.val)
    const bytes = await collect(r.val[0])
    expect(await r.val[1]).toEqual({ tag: 'ok', val: undefined })
    return bytes
  }

  beforeAll(async () => {
    bs = await blobstoreMesh({ config: { 'max-object-bytes': String(8 * 1024 * 1024) } })
    client = bs.client
  }, 60_000)

  afterAll(async () => { await bs?.stop() })

  it('creates a container, writes streamed data, reads it back whole and by range, lists and deletes', async () => {
    expect(await call('create-container', 'photos')).toEqual({ tag: 'ok', val: undefined })
    expect(await call('container-exists', 'photos')).toEqual({ tag: 'ok', val: true })
    expect((await call('create-container', 'photos')).tag).toBe('err')
    const data = new Uint8Array(300_000).map((_, i) => i % 251)
    expect(await write('photos', 'cat.jpg', chunks(data, 10_000))).toEqual({ tag: 'ok', val: undefined })
    // Buffer.equals, not toEqual: a deep compare of 300 KB holds the event loop for seconds on a loaded machine, past the test mesh's advert TTL
    expect(Buffer.from(await read('photos', 'cat.jpg')).equals(data)).toBe(true)
    expect(await read('photos', 'cat.jpg', 10n, 19n)).toEqual(Buffer.from(data.subarray(10, 20)))
    const info = await call<{ size: bigint, createdAt: bigint }>('get-object-info', { container: 'photos', object: 'cat.jpg' })
    expect(info.tag === 'ok' && info.val.size).toBe(300_000n)
    expect(await call('has-object', { container: 'photos', object: 'cat.jpg' })).toEqual({ tag: 'ok', val: true })
    expect(await call('copy-object', { container: 'photos', object: 'cat.jpg' }, { container: 'photos', object: 'copy.jpg' })).toEqual({ tag: 'ok', val: undefined })
    expect(Buffer.from(await read('photos', 'copy.jpg')).equals(data)).toBe(true)

    const listed = await call<[AsyncIterable<string[]>, Promise<R>]>('list-container-objects', 'photos', undefined, undefined)
    if (listed.tag !== 'ok') throw new Error(listed.val)
    const names: string[] = []
    for await (const c of listed.val[0]) names.push(...c)
    expect(names.sort()).toEqual(['cat.jpg', 'copy.jpg'])
    expect(await listed.val[1]).toEqual({ tag: 'ok', val: undefined })

    expect(await call('delete-object', { container: 'photos', object: 'copy.jpg' })).toEqual({ tag: 'ok', val: undefined })
    expect(await call('has-object', { container: 'photos', object: 'copy.jpg' })).toEqual({ tag: 'ok', val: false })
    expect(await call('delete-container', 'photos')).toEqual({ tag: 'ok', val: undefined })
    expect(await call('container-exists', 'photos')).toEqual({ tag: 'ok', val: false })
  })

  it('answers write-container-data before its stream has sent a byte (a wasi:blobstore writer calls write-data first)', async () => {
    await call('create-container', 'early')
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    const data = (async function * () { await gate; yield new Uint8Array([1, 2, 3]) })()
    const r = await call<Promise<R>>('write-container-data', { container: 'early', object: 'o' }, data)
    expect(r.tag).toBe('ok')
    release()
    expect(await (r as { val: Promise<R> }).val).toEqual({ tag: 'ok', val: undefined })
    expect(await read('early', 'o')).toEqual(Buffer.from([1, 2, 3]))
  })

  it('lists a container of 2,500 objects in chunks, with offset and limit', async () => {
    await call('create-container', 'many')
    for (let i = 0; i < 2500; i++) await write('many', `o${i}`, new Uint8Array([i & 255]))
    const listed = await call<[AsyncIterable<string[]>, Promise<R>]>('list-container-objects', 'many', 2000n, 100n)
    if (listed.tag !== 'ok') throw new Error(listed.val)
    const sizes: number[] = []
    const names = new Set<string>()
    for await (const c of listed.val[0]) {
      sizes.push(c.length)
      for (const n of c) names.add(n)
    }
    // 2,400 names after the first 100, capped at 2,000: two chunks of 1,000
    expect(sizes).toEqual([1000, 1000])
    expect(names.size).toBe(2000)
  }, 120_000)

  it('refuses names that leave the container, with err saying why, and touches nothing outside the root', async () => {
    await call('create-container', 'safe')
    const hostile = ['..', '.', '../escape', 'a/b', '/etc/passwd', 'a\\b', 'nul\u0000byte', '', 'x'.repeat(256), 'é'.repeat(128), '.hidden', 'line\nbreak']
    for (const name of hostile) {
      const asContainer = await call('create-container', name)
      expect(asContainer.tag, `container ${JSON.stringify(name)}`).toBe('err')
      const asObject = await write('safe', name, new Uint8Array([1, 2, 3]))
      expect(asObject.tag, `object ${JSON.stringify(name)}`).toBe('err')
      expect((await call('get-container-data', { container: 'safe', object: name }, 0n, 10n)).tag).toBe('err')
      expect((await call('delete-object', { container: name, object: 'x' })).tag).toBe('err')
      expect((await call('copy-object', { container: 'safe', object: 'x' }, { container: 'safe', object: name })).tag).toBe('err')
    }
    expect((await readdir(bs.dir)).sort()).toEqual(['blobs'])
    expect(await readdir(join(root(), 'safe'))).toEqual([])
  })

  it('stores nothing for a write over max-object-bytes, and keeps the old bytes', async () => {
    await call('create-container', 'big')
    expect(await write('big', 'obj', new Uint8Array([7]))).toEqual({ tag: 'ok', val: undefined })
    const tooBig = await write('big', 'obj', chunks(new Uint8Array(9 * 1024 * 1024), 256 * 1024))
    expect(tooBig.tag).toBe('err')
    expect(String(tooBig.val)).toContain('max-object-bytes')
    expect(await read('big', 'obj')).toEqual(Buffer.from([7]))
    await eventually('the temporary file to be gone', async () => (await readdir(join(root(), 'big'))).length === 1)
  })

  it('never leaves a torn object when 16 writers race on one name', async () => {
    await call('create-container', 'race')
    const size = 512 * 1024
    const bodies = Array.from({ length: 16 }, (_, i) => new Uint8Array(size).fill(i + 1))
    const results = await Promise.all(bodies.map(async b => await write('race', 'one', chunks(b, 16 * 1024))))
    expect(results.every(r => r.tag === 'ok')).toBe(true)
    const stored = await readFile(join(root(), 'race', 'one'))
    expect(stored.length).toBe(size)
    // every byte is the same writer's
    expect(stored.every(b => b === stored[0])).toBe(true)
    expect(await readdir(join(root(), 'race'))).toEqual(['one'])
  })

  it('removes the temporary file and stores nothing when the writer goes away mid-stream', async () => {
    await call('create-container', 'cut')
    const gone = new AbortController()
    let sent = 0
    async function * endless (): AsyncGenerator<Uint8Array> {
      while (true) {
        sent++
        if (sent === 20) gone.abort()
        yield new Uint8Array(64 * 1024).fill(sent & 255)
      }
    }
    await client.call(BLOBSTORE, 'write-container-data', [{ container: 'cut', object: 'half' }, endless()], { signal: gone.signal }).then(async ([r]) => {
      // the answer came before the abort: its future must say the write failed
      const f = (r as R<Promise<R>>)
      if (f.tag === 'ok') expect((await f.val).tag).toBe('err')
    }, (err: Error) => { expect(err).toBeDefined() })
    await eventually('the temporary file to be removed', async () => (await readdir(join(root(), 'cut'))).length === 0)
    expect(await call('has-object', { container: 'cut', object: 'half' })).toEqual({ tag: 'ok', val: false })
  })
})
