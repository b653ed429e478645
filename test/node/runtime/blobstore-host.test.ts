// The node's wasi:blobstore host (node/runtime/host/blobstore.ts) against builtin:blobstore on another node: the calls a component makes, its limits, and a large object in bounded memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createInstanceBlobstore, WRPC_BLOBSTORE, type InstanceBlobstore } from '../../../node/runtime/host/blobstore.ts'
import { defaultHostLimits, type HostLimits } from '../../../node/runtime/host/limits.ts'
import { createComponentHost } from '../../../node/runtime/host/index.ts'
import { blobstoreMesh, type BlobstoreMesh } from '../../support/blobstore.ts'

const B = 'wasi:blobstore/blobstore@0.2.0-draft'
const C = 'wasi:blobstore/container@0.2.0-draft'
const T = 'wasi:blobstore/types@0.2.0-draft'
const MiB = 1024 * 1024
type R<T = unknown> = { tag: 'ok', val: T } | { tag: 'err', val: string }

describe('the wasi:blobstore host of an instance', () => {
  let bs: BlobstoreMesh
  beforeAll(async () => { bs = await blobstoreMesh() }, 60_000)
  afterAll(async () => { await bs?.stop() })

  function host (limits: Partial<HostLimits> = {}, call = async (func: string, params: unknown[]) => await bs.client.call(WRPC_BLOBSTORE, func, params)): InstanceBlobstore {
    return createInstanceBlobstore({ limits: { ...defaultHostLimits, ...limits }, link: iface => ({ iface, name: undefined }), call: async (_link, func, params) => await call(func, params) })
  }
  const one = async <T = unknown>(h: InstanceBlobstore, iface: string, func: string, ...params: unknown[]): Promise<T> => (await h.serve(iface, func, params))[0] as T

  async function container (h: InstanceBlobstore, name: string): Promise<Uint8Array> {
    if (!(await one<R<boolean>>(h, B, 'container-exists', name) as { val: boolean }).val) {
      const made = await one<R<Uint8Array>>(h, B, 'create-container', name)
      await h.serve(C, '[resource-drop]container', [(made as { val: Uint8Array }).val])
    }
    const r = await one<R<Uint8Array>>(h, B, 'get-container', name)
    if (r.tag !== 'ok') throw new Error(r.val)
    return r.val
  }

  /** write-data first, then the body through the output-stream, then finish: as wasmCloud components do. */
  async function write (h: InstanceBlobstore, c: Uint8Array, name: string, chunks: Iterable<Uint8Array>): Promise<R> {
    const value = await one<Uint8Array>(h, T, '[static]outgoing-value.new-outgoing-value')
    const out = await one<R<Uint8Array>>(h, T, '[method]outgoing-value.outgoing-value-write-body', value)
    if (out.tag !== 'ok') throw new Error('no stream')
    const w = await one<R>(h, C, '[method]container.write-data', c, name, value)
    if (w.tag === 'err') return w
    for (const chunk of chunks) {
      const [r] = await h.io('write', [out.val, chunk]) as [R]
      if (r.tag === 'err') return r
    }
    await h.io('drop', [out.val])
    return await one<R>(h, T, '[static]outgoing-value.finish', value)
  }

  async function readAsync (h: InstanceBlobstore, c: Uint8Array, name: string, each: (b: Uint8Array) => void): Promise<R> {
    const v = await one<R<Uint8Array>>(h, C, '[method]container.get-data', c, name, 0n, 2n ** 64n - 1n)
    if (v.tag === 'err') return v
    const s = await one<R<Uint8Array>>(h, T, '[static]incoming-value.incoming-value-consume-async', v.val)
    if (s.tag === 'err') return s
    for (;;) {
      const [r] = await h.io('read', [s.val, MiB]) as [R<Uint8Array | undefined>]
      if (r.tag === 'err') return r
      if (r.val === undefined) break
      each(r.val)
    }
    await h.io('drop', [s.val])
    return { tag: 'ok', val: undefined }
  }

  it('creates, writes, reads (sync, async, size), lists, infos, deletes through wrpc:blobstore', async () => {
    const h = host()
    const c = await container(h, 'host-basic')
    expect(await one(h, C, '[method]container.name', c)).toEqual({ tag: 'ok', val: 'host-basic' })
    expect(await write(h, c, 'a.txt', [Buffer.from('hello '), Buffer.from('world')])).toEqual({ tag: 'ok', val: undefined })
    const v = await one<R<Uint8Array>>(h, C, '[method]container.get-data', c, 'a.txt', 6n, 100n)
    expect(await one(h, T, '[method]incoming-value.size', (v as { val: Uint8Array }).val)).toBe(5n)
    expect(await one(h, T, '[static]incoming-value.incoming-value-consume-sync', (v as { val: Uint8Array }).val)).toEqual({ tag: 'ok', val: Buffer.from('world') })
    const parts: Uint8Array[] = []
    expect(await readAsync(h, c, 'a.txt', b => parts.push(b))).toEqual({ tag: 'ok', val: undefined })
    expect(Buffer.concat(parts).toString()).toBe('hello world')
    const info = await one<R<{ name: string, container: string, size: bigint }>>(h, C, '[method]container.object-info', c, 'a.txt')
    expect(info.tag === 'ok' && [info.val.name, info.val.container, info.val.size]).toEqual(['a.txt', 'host-basic', 11n])
    await write(h, c, 'b.txt', [Buffer.from('b')])
    const names = await one<R<Uint8Array>>(h, C, '[method]container.list-objects', c)
    const first = await one<R<[string[], boolean]>>(h, C, '[method]stream-object-names.read-stream-object-names', (names as { val: Uint8Array }).val, 1n)
    const rest = await one<R<[string[], boolean]>>(h, C, '[method]stream-object-names.read-stream-object-names', (names as { val: Uint8Array }).val, 10n)
    expect([...(first as { val: [string[], boolean] }).val[0], ...(rest as { val: [string[], boolean] }).val[0]].sort()).toEqual(['a.txt', 'b.txt'])
    expect((rest as { val: [string[], boolean] }).val[1]).toBe(true)
    expect(await one(h, C, '[method]container.delete-object', c, 'a.txt')).toEqual({ tag: 'ok', val: undefined })
    expect(await one(h, C, '[method]container.has-object', c, 'a.txt')).toEqual({ tag: 'ok', val: false })
    expect(await one(h, B, 'delete-container', 'host-basic')).toEqual({ tag: 'ok', val: undefined })
  }, 60_000)

  it('answers the WIT\'s error strings: missing container or object, a refused name, no server at all', async () => {
    const h = host()
    expect(await one(h, B, 'get-container', 'never-made')).toEqual({ tag: 'err', val: 'container "never-made" does not exist' })
    const c = await container(h, 'host-errors')
    const missing = await one<R>(h, C, '[method]container.get-data', c, 'nothing', 0n, 10n)
    expect(missing.tag).toBe('err')
    expect((await write(h, c, '../escape', [Buffer.from('x')])).tag).toBe('err')
    expect((await write(h, c, 'x'.repeat(10_000), [Buffer.from('x')])).tag).toBe('err')
    const offline = host({}, async () => { throw Object.assign(new Error('no server exports wrpc:blobstore/blobstore@0.2.0'), { code: 'no-server' }) })
    expect(await one(offline, B, 'container-exists', 'x')).toEqual({ tag: 'err', val: 'blobstore container-exists: no server exports wrpc:blobstore/blobstore@0.2.0' })
  }, 30_000)

  it('bounds what a guest can make it hold: handles, bytes before write-data, a sync read, names per read; forged handles fail', async () => {
    const h = host({ maxBlobstoreHandles: 3, maxBlobstorePendingWriteBytes: 1024, maxBlobstoreSyncBytes: 100, maxBlobstoreListNames: 2 })
    const c = await container(h, 'host-limits')
    const value = await one<Uint8Array>(h, T, '[static]outgoing-value.new-outgoing-value')
    const out = await one<R<Uint8Array>>(h, T, '[method]outgoing-value.outgoing-value-write-body', value)
    expect(await one(h, T, '[method]outgoing-value.outgoing-value-write-body', value)).toEqual({ tag: 'err', val: undefined })
    // three handles held: a fourth resource is refused with a reason
    expect(await one(h, B, 'get-container', 'host-limits')).toEqual({ tag: 'err', val: expect.stringContaining('maxBlobstoreHandles') })
    const [early] = await h.io('write', [(out as { val: Uint8Array }).val, new Uint8Array(2000)]) as [R]
    expect(early).toEqual({ tag: 'err', val: expect.stringContaining('maxBlobstorePendingWriteBytes') })
    await h.io('drop', [(out as { val: Uint8Array }).val])
    await h.serve(T, '[resource-drop]outgoing-value', [value])
    expect(await write(h, c, 'big', [new Uint8Array(500)])).toEqual({ tag: 'ok', val: undefined })
    const v = await one<R<Uint8Array>>(h, C, '[method]container.get-data', c, 'big', 0n, 1000n)
    expect(await one(h, T, '[static]incoming-value.incoming-value-consume-sync', (v as { val: Uint8Array }).val)).toEqual({ tag: 'err', val: expect.stringContaining('maxBlobstoreSyncBytes') })
    for (const n of ['n1', 'n2', 'n3']) await write(h, c, n, [new Uint8Array(1)])
    const names = await one<R<Uint8Array>>(h, C, '[method]container.list-objects', c)
    const read = await one<R<[string[], boolean]>>(h, C, '[method]stream-object-names.read-stream-object-names', (names as { val: Uint8Array }).val, 1_000_000n)
    expect((read as { val: [string[], boolean] }).val[0]).toHaveLength(2)
    await expect(h.serve(C, '[method]container.name', [crypto.getRandomValues(new Uint8Array(16))])).rejects.toThrow('unknown container handle')
    await expect(h.io('read', [new Uint8Array(16), 10])).resolves.toEqual([{ tag: 'err', val: 'unknown input handle' }])
  }, 30_000)

  it('stores nothing when the outgoing value is dropped without finish, and keeps the old bytes', async () => {
    const h = host()
    const c = await container(h, 'host-drop')
    await write(h, c, 'keep', [Buffer.from('old')])
    const value = await one<Uint8Array>(h, T, '[static]outgoing-value.new-outgoing-value')
    const out = await one<R<Uint8Array>>(h, T, '[method]outgoing-value.outgoing-value-write-body', value)
    await one(h, C, '[method]container.write-data', c, 'keep', value)
    await h.io('write', [(out as { val: Uint8Array }).val, Buffer.from('new, half')])
    await h.serve(T, '[resource-drop]outgoing-value', [value])
    const v = await one<R<Uint8Array>>(h, C, '[method]container.get-data', c, 'keep', 0n, 100n)
    expect(await one(h, T, '[static]incoming-value.incoming-value-consume-sync', (v as { val: Uint8Array }).val)).toEqual({ tag: 'ok', val: Buffer.from('old') })
  }, 30_000)

  it('streams a 256 MiB object out and back in bounded memory (both nodes and the host in this process)', async () => {
    const h = host()
    const c = await container(h, 'host-large')
    const chunk = new Uint8Array(256 * 1024).map((_, i) => i % 251)
    const total = 256 * MiB
    const baseline = process.memoryUsage().rss
    let peak = baseline
    const sample = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 100)
    let received = 0
    let wrong = 0
    try {
      expect(await write(h, c, 'big', (function * () { for (let n = 0; n < total; n += chunk.byteLength) yield chunk })())).toEqual({ tag: 'ok', val: undefined })
      expect(await readAsync(h, c, 'big', b => {
        if (b[0] !== (received % chunk.byteLength) % 251) wrong++
        received += b.byteLength
      })).toEqual({ tag: 'ok', val: undefined })
    } finally {
      clearInterval(sample)
    }
    expect(received).toBe(total)
    expect(wrong).toBe(0)
    const growth = (peak - baseline) / MiB
    console.log(`256 MiB out and back through the wasi:blobstore host: RSS growth ${growth.toFixed(0)} MiB (baseline ${(baseline / MiB).toFixed(0)} MiB)`)
    // measured 93-139 MiB for this object and 168 MiB for 1 GiB (the GC's garbage, not the object): below the object
    expect(growth).toBeLessThan(200)
  }, 300_000)

  it('routes by the links of wasi:blobstore with the link name set-link-name chose, and a container keeps the link it was opened through', async () => {
    const seen: Array<[string, string, string, string | undefined]> = []
    const host = createComponentHost({
      name: 'files',
      limits: defaultHostLimits,
      logger: { debug () {}, info () {}, warn () {}, error () {} },
      call: async (iface, func, params, linkIface, linkName) => {
        seen.push([iface, func, linkIface, linkName])
        return await bs.client.call(iface, func, params)
      }
    }).instance()
    const serve = async (iface: string, func: string, ...params: unknown[]): Promise<unknown> => (await (host.serve(iface, func, params) as Promise<unknown[]>))[0]
    await serve(B, 'create-container', 'host-links')
    const opened = await serve(B, 'get-container', 'host-links') as R<Uint8Array>
    const target = await serve('wasmcloud:bus/lattice@2.0.0', '[constructor]call-target-interface', 'wasi', 'blobstore', 'blobstore')
    expect(await serve('wasmcloud:bus/lattice@2.0.0', 'set-link-name', 'archive', [target])).toEqual({ tag: 'ok', val: undefined })
    await serve(B, 'container-exists', 'host-links')
    await serve(C, '[method]container.has-object', (opened as { val: Uint8Array }).val, 'x')
    expect(seen).toEqual([
      [WRPC_BLOBSTORE, 'create-container', B, undefined],
      [WRPC_BLOBSTORE, 'container-exists', B, undefined],
      [WRPC_BLOBSTORE, 'container-exists', B, 'archive'],
      // opened before the new name: still the store it came from
      [WRPC_BLOBSTORE, 'has-object', B, undefined]
    ])
  }, 30_000)
})
