import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createProvider } from '../../../node/providers/sdk.ts'
import type { Provider } from '../../../node/providers/sdk.ts'
import { ATOMICS, BATCH, STORE, createKeyvalueModule } from '../../../node/providers/keyvalue/index.ts'
import { scratchDir } from '../../support/scratch.ts'
import type { ScratchDir } from '../../support/scratch.ts'

const ME = 'caller-peer'
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: unknown): string => new TextDecoder().decode(b as Uint8Array)

interface Kv {
  readonly provider: Provider
  call (iface: string, func: string, ...params: unknown[]): Promise<unknown>
  open (name: string): Promise<Uint8Array>
}

async function kv (config: Record<string, string>): Promise<Kv> {
  const provider = await createProvider(createKeyvalueModule(), { config })
  await provider.start()
  const call = async (iface: string, func: string, ...params: unknown[]): Promise<unknown> => (await provider.service.call(iface, func, params, { caller: ME }))[0]
  return {
    provider,
    call,
    async open (name) {
      const r = await call(STORE, 'open', name) as { tag: string, val: Uint8Array }
      if (r.tag !== 'ok') throw new Error(`open ${name}: ${JSON.stringify(r.val)}`)
      return r.val
    }
  }
}

let dir: ScratchDir
beforeAll(async () => { dir = await scratchDir('kv') })
afterAll(async () => { await dir?.remove() })

const open: Provider[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map(async p => { await p.stop() }))
})

for (const backend of ['sqlite', 'memory'] as const) {
  describe(`key-value provider (${backend})`, () => {
    let n = 0
    async function fresh (extra: Record<string, string> = {}): Promise<Kv> {
      const k = await kv({ backend, path: join(dir.path, `${backend}-${n++}.sqlite`), ...extra })
      open.push(k.provider)
      return k
    }

    it('gets, sets, deletes and checks keys, bucket by bucket', async () => {
      const k = await fresh()
      const a = await k.open('a')
      const b = await k.open('b')
      expect(await k.call(STORE, '[method]bucket.get', a, 'x')).toEqual({ tag: 'ok', val: undefined })
      expect(await k.call(STORE, '[method]bucket.set', a, 'x', bytes('one'))).toEqual({ tag: 'ok', val: undefined })
      expect(await k.call(STORE, '[method]bucket.set', a, '', new Uint8Array(0))).toEqual({ tag: 'ok', val: undefined })
      const got = await k.call(STORE, '[method]bucket.get', a, 'x') as { val: Uint8Array }
      expect(text(got.val)).toBe('one')
      expect(await k.call(STORE, '[method]bucket.get', a, '')).toEqual({ tag: 'ok', val: new Uint8Array(0) })
      expect(await k.call(STORE, '[method]bucket.exists', a, 'x')).toEqual({ tag: 'ok', val: true })
      expect(await k.call(STORE, '[method]bucket.exists', b, 'x')).toEqual({ tag: 'ok', val: false })
      expect(await k.call(STORE, '[method]bucket.delete', a, 'x')).toEqual({ tag: 'ok', val: undefined })
      expect(await k.call(STORE, '[method]bucket.delete', a, 'x')).toEqual({ tag: 'ok', val: undefined })
      expect(await k.call(STORE, '[method]bucket.exists', a, 'x')).toEqual({ tag: 'ok', val: false })
    })

    it('keeps what it was given even when the caller reuses its buffer', async () => {
      const k = await fresh()
      const a = await k.open('a')
      const buf = bytes('abc')
      await k.call(STORE, '[method]bucket.set', a, 'k', buf)
      buf.fill(0)
      const got = await k.call(STORE, '[method]bucket.get', a, 'k') as { val: Uint8Array }
      expect(text(got.val)).toBe('abc')
    })

    it('increments decimal counters, refusing values that are not u64 and overflow', async () => {
      const k = await fresh()
      const a = await k.open('a')
      expect(await k.call(ATOMICS, 'increment', a, 'c', 5n)).toEqual({ tag: 'ok', val: 5n })
      expect(await k.call(ATOMICS, 'increment', a, 'c', 1)).toEqual({ tag: 'ok', val: 6n })
      expect(text((await k.call(STORE, '[method]bucket.get', a, 'c') as { val: Uint8Array }).val)).toBe('6')
      await k.call(STORE, '[method]bucket.set', a, 'word', bytes('hello'))
      expect(await k.call(ATOMICS, 'increment', a, 'word', 1n)).toEqual({ tag: 'err', val: { tag: 'other', val: 'cannot increment a/word: its value is not a decimal u64' } })
      await k.call(STORE, '[method]bucket.set', a, 'big', bytes(((1n << 64n) - 1n).toString()))
      expect(await k.call(ATOMICS, 'increment', a, 'big', 1n)).toMatchObject({ tag: 'err', val: { tag: 'other', val: expect.stringContaining('overflows u64') } })
      expect(text((await k.call(STORE, '[method]bucket.get', a, 'big') as { val: Uint8Array }).val)).toBe('18446744073709551615')
    })

    it('increments atomically under many concurrent callers', async () => {
      const k = await fresh()
      const a = await k.open('a')
      await Promise.all(Array.from({ length: 500 }, async () => await k.call(ATOMICS, 'increment', a, 'n', 1n)))
      expect(await k.call(ATOMICS, 'increment', a, 'n', 0n)).toEqual({ tag: 'ok', val: 500n })
    })

    it('pages list-keys with a cursor that neither repeats nor skips keys written meanwhile', async () => {
      const k = await fresh({ 'list-page-keys': '10' })
      const a = await k.open('a')
      for (let i = 0; i < 25; i++) await k.call(STORE, '[method]bucket.set', a, `k${i}`, bytes(String(i)))
      const seen: string[] = []
      let cursor: bigint | undefined
      let pages = 0
      do {
        const r = await k.call(STORE, '[method]bucket.list-keys', a, cursor) as { tag: 'ok', val: { keys: string[], cursor?: bigint } }
        seen.push(...r.val.keys)
        cursor = r.val.cursor
        pages++
        if (pages === 1) {
          // written during the listing: a new key shows up later, a deleted one not at all, an updated one once
          await k.call(STORE, '[method]bucket.set', a, 'late', bytes('x'))
          await k.call(STORE, '[method]bucket.delete', a, 'k20')
          await k.call(STORE, '[method]bucket.set', a, 'k15', bytes('again'))
        }
      } while (cursor !== undefined)
      expect(pages).toBe(3)
      expect(seen).toEqual([...Array.from({ length: 25 }, (_, i) => `k${i}`).filter(x => x !== 'k20'), 'late'])
      const empty = await k.open('empty')
      expect(await k.call(STORE, '[method]bucket.list-keys', empty, undefined)).toEqual({ tag: 'ok', val: { keys: [], cursor: undefined } })
    })

    it('does batches: get-many with none for missing keys, set-many all or nothing, delete-many', async () => {
      const k = await fresh({ 'max-value-bytes': '8' })
      const a = await k.open('a')
      expect(await k.call(BATCH, 'set-many', a, [['x', bytes('1')], ['y', bytes('2')]])).toEqual({ tag: 'ok', val: undefined })
      const many = await k.call(BATCH, 'get-many', a, ['x', 'nope', 'y']) as { val: Array<[string, Uint8Array] | undefined> }
      expect(many.val.map(e => e === undefined ? undefined : [e[0], text(e[1])])).toEqual([['x', '1'], undefined, ['y', '2']])
      const bad = await k.call(BATCH, 'set-many', a, [['z', bytes('3')], ['huge', new Uint8Array(9)]])
      expect(bad).toMatchObject({ tag: 'err', val: { tag: 'other', val: expect.stringContaining('value too large') } })
      expect(await k.call(STORE, '[method]bucket.exists', a, 'z')).toEqual({ tag: 'ok', val: false })
      expect(await k.call(BATCH, 'delete-many', a, ['x', 'nope'])).toEqual({ tag: 'ok', val: undefined })
      expect(await k.call(STORE, '[method]bucket.exists', a, 'x')).toEqual({ tag: 'ok', val: false })
    })

    it('refuses an oversized value or key with other(...) and stores nothing', async () => {
      const k = await fresh({ 'max-value-bytes': '1024', 'max-key-bytes': '16' })
      const a = await k.open('a')
      expect(await k.call(STORE, '[method]bucket.set', a, 'ok', new Uint8Array(1024))).toEqual({ tag: 'ok', val: undefined })
      expect(await k.call(STORE, '[method]bucket.set', a, 'big', new Uint8Array(1025))).toEqual({
        tag: 'err', val: { tag: 'other', val: 'value too large: big has 1025 bytes, the most is 1024 (max-value-bytes)' }
      })
      expect(await k.call(STORE, '[method]bucket.exists', a, 'big')).toEqual({ tag: 'ok', val: false })
      expect(await k.call(STORE, '[method]bucket.set', a, 'k'.repeat(17), bytes('v'))).toMatchObject({ tag: 'err', val: { tag: 'other', val: expect.stringContaining('key too large') } })
    })

    it('opens any valid bucket by default; with `buckets` set, others are no-such-store; malformed identifiers say why', async () => {
      const k = await fresh()
      expect(await k.call(STORE, 'open', 'anything-at-all')).toMatchObject({ tag: 'ok' })
      expect(await k.call(STORE, 'open', '')).toMatchObject({ tag: 'err', val: { tag: 'other', val: expect.stringContaining('must be 1-255 bytes') } })
      expect(await k.call(STORE, 'open', 'a\nb')).toMatchObject({ tag: 'err', val: { tag: 'other', val: expect.stringContaining('control character') } })
      const only = await fresh({ buckets: 'counter, sessions' })
      expect(await only.call(STORE, 'open', 'counter')).toMatchObject({ tag: 'ok' })
      expect(await only.call(STORE, 'open', 'other')).toEqual({ tag: 'err', val: { tag: 'no-such-store' } })
    })

    it('counts bucket handles and releases them on drop', async () => {
      const k = await fresh()
      const a = await k.open('a')
      const b = await k.open('a')
      expect(k.provider.stats().handles).toBe(2)
      await k.call(STORE, '[resource-drop]bucket', a)
      await k.call(STORE, '[resource-drop]bucket', b)
      expect(k.provider.stats().handles).toBe(0)
      await expect(k.call(STORE, '[method]bucket.get', a, 'x')).rejects.toMatchObject({ code: 'resource-lost' })
    })
  })
}

describe('key-value provider (sqlite) persistence and config', () => {
  it('keeps data across a restart of the provider', async () => {
    const path = join(dir.path, 'restart.sqlite')
    const first = await kv({ path })
    const a = await first.open('persist')
    await first.call(STORE, '[method]bucket.set', a, 'k', bytes('v'))
    await first.call(ATOMICS, 'increment', a, 'n', 41n)
    await first.provider.stop()
    const second = await kv({ path })
    open.push(second.provider)
    const b = await second.open('persist')
    expect(text((await second.call(STORE, '[method]bucket.get', b, 'k') as { val: Uint8Array }).val)).toBe('v')
    expect(await second.call(ATOMICS, 'increment', b, 'n', 1n)).toEqual({ tag: 'ok', val: 42n })
  })

  it('puts the database in the data directory by default', async () => {
    const provider = await createProvider(createKeyvalueModule(), { dataDir: join(dir.path, 'node-data') })
    await provider.start()
    open.push(provider)
    const { existsSync } = await import('node:fs')
    expect(existsSync(join(dir.path, 'node-data', 'keyvalue.sqlite'))).toBe(true)
  })

  it('fails the start on config it does not understand, naming it', async () => {
    for (const [config, words] of [
      [{ backend: 'redis' }, 'config backend'],
      [{ 'max-value-bytes': 'lots' }, 'config max-value-bytes'],
      [{ colour: 'blue' }, 'unknown config colour'],
      [{ synchronous: 'off' }, 'config synchronous']
    ] as const) {
      const p = await createProvider(createKeyvalueModule(), { config: { path: join(dir.path, 'bad.sqlite'), ...config } })
      await expect(p.start()).rejects.toMatchObject({ code: 'provider-start-failed', message: expect.stringContaining(words) })
    }
  })
})
