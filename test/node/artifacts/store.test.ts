import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createStore, sha256Hex } from '../../../node/artifacts/index.ts'
import { silentLogger } from '../../../node/logger.ts'
import { scratchDir } from '../../support/scratch.ts'
import type { ScratchDir } from '../../support/scratch.ts'

let scratch: ScratchDir | undefined
afterEach(async () => { await scratch?.remove(); scratch = undefined })

const blob = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill)

describe('the artifact cache', () => {
  it('keeps bytes under sha256/<hex> across a reopen, written whole (no temp file left)', async () => {
    scratch = await scratchDir('artifact-store')
    const a = blob(1000, 1)
    const store = createStore({ dir: scratch.path, maxBytes: 1 << 20, log: silentLogger })
    await store.open()
    await store.put(sha256Hex(a), a)
    expect(await readdir(join(scratch.path, 'sha256'))).toEqual([sha256Hex(a)])
    const again = createStore({ dir: scratch.path, maxBytes: 1 << 20, log: silentLogger })
    await again.open()
    expect(again.has(sha256Hex(a))).toBe(true)
    expect(await again.get(sha256Hex(a))).toEqual(a)
    expect(again.stats()).toMatchObject({ entries: 1, bytes: 1000 })
  })

  it('refuses bytes that do not match their digest', async () => {
    const store = createStore({ maxBytes: 1 << 20, log: silentLogger })
    await expect(store.put(sha256Hex(blob(10, 1)), blob(10, 2))).rejects.toMatchObject({ code: 'digest-mismatch' })
    expect(store.stats().entries).toBe(0)
  })

  it('verifies on read: an entry changed on disk is deleted and reported missing, never returned', async () => {
    scratch = await scratchDir('artifact-store')
    const a = blob(500, 3)
    const store = createStore({ dir: scratch.path, maxBytes: 1 << 20, log: silentLogger })
    await store.open()
    await store.put(sha256Hex(a), a)
    await writeFile(join(scratch.path, 'sha256', sha256Hex(a)), blob(500, 4))
    expect(await store.get(sha256Hex(a))).toBeUndefined()
    expect(store.has(sha256Hex(a))).toBe(false)
    expect(await readdir(join(scratch.path, 'sha256'))).toEqual([])
    expect(store.stats().corrupted).toBe(1)
  })

  it('evicts the least recently used entries past its size, never a pinned one', async () => {
    scratch = await scratchDir('artifact-store')
    const store = createStore({ dir: scratch.path, maxBytes: 2500, log: silentLogger })
    await store.open()
    const [a, b, c, d] = [1, 2, 3, 4].map(f => blob(1000, f))
    await store.put(sha256Hex(a), a)
    store.pin(sha256Hex(a))
    await store.put(sha256Hex(b), b)
    await store.put(sha256Hex(c), c)
    // a is the oldest, but pinned: b goes
    expect(store.digests().sort()).toEqual([sha256Hex(a), sha256Hex(c)].sort())
    store.unpin(sha256Hex(a))
    await store.get(sha256Hex(c))
    await store.put(sha256Hex(d), d)
    expect(store.digests().sort()).toEqual([sha256Hex(c), sha256Hex(d)].sort())
    expect(store.stats()).toMatchObject({ entries: 2, bytes: 2000, evicted: 2 })
    expect((await readdir(join(scratch.path, 'sha256'))).sort()).toEqual([sha256Hex(c), sha256Hex(d)].sort())
  })

  it('clears the temp files of interrupted writes and ignores foreign files when it opens', async () => {
    scratch = await scratchDir('artifact-store')
    const first = createStore({ dir: scratch.path, maxBytes: 1 << 20, log: silentLogger })
    await first.open()
    await writeFile(join(scratch.path, 'sha256', `.${'a'.repeat(64)}.123.456.tmp`), blob(10, 1))
    await writeFile(join(scratch.path, 'sha256', 'not-a-digest'), blob(10, 1))
    const store = createStore({ dir: scratch.path, maxBytes: 1 << 20, log: silentLogger })
    await store.open()
    expect(await readdir(join(scratch.path, 'sha256'))).toEqual(['not-a-digest'])
    expect(store.stats().entries).toBe(0)
  })
})
