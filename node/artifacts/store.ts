// The content-addressed cache: bytes by sha256 under <data-dir>/artifacts/sha256/<hex> (or in memory without a data directory), written atomically, verified on every read, bounded with LRU eviction of what is not loaded.

import { mkdir, readdir, readFile, rm, stat, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../logger.ts'
import { writePrivateFile } from '../security/key-files.ts'
import { ArtifactError } from './errors.ts'
import { sha256Hex } from './verify.ts'

export interface StoreStats {
  readonly entries: number
  readonly bytes: number
  readonly evicted: number
  /** Entries found corrupted on read (and deleted). */
  readonly corrupted: number
}

export interface ArtifactStore {
  /** Reads the index of what is on disk (a no-op in memory). */
  open (): Promise<void>
  has (digest: string): boolean
  /** The bytes, verified against the digest; a corrupted entry is deleted, counted, logged and reported missing. */
  get (digest: string): Promise<Uint8Array | undefined>
  /** Stores bytes under their digest (checked: `digest-mismatch` otherwise), then evicts down to the limit. */
  put (digest: string, bytes: Uint8Array): Promise<void>
  /** Loaded components' digests are pinned: never evicted while pinned (counted, so two loads need two unpins). */
  pin (digest: string): void
  unpin (digest: string): void
  digests (): string[]
  stats (): StoreStats
}

interface Entry { size: number, usedAt: number }

const hex64 = /^[a-f0-9]{64}$/

export function createStore (init: { dir?: string, maxBytes: number, log: Logger }): ArtifactStore {
  const { dir, maxBytes, log } = init
  const entries = new Map<string, Entry>()
  const memory = new Map<string, Uint8Array>()
  const pins = new Map<string, number>()
  let bytes = 0
  let evicted = 0
  let corrupted = 0
  const blobDir = dir === undefined ? undefined : join(dir, 'sha256')
  const path = (digest: string): string => join(blobDir as string, digest)

  function forget (digest: string): void {
    const e = entries.get(digest)
    if (e === undefined) return
    entries.delete(digest)
    memory.delete(digest)
    bytes -= e.size
  }

  async function remove (digest: string): Promise<void> {
    forget(digest)
    if (blobDir !== undefined) await rm(path(digest), { force: true })
  }

  async function evict (): Promise<void> {
    if (bytes <= maxBytes) return
    const victims = [...entries].filter(([d]) => (pins.get(d) ?? 0) === 0).sort((a, b) => a[1].usedAt - b[1].usedAt)
    for (const [digest] of victims) {
      if (bytes <= maxBytes) break
      await remove(digest)
      evicted++
      log.debug(`evicted sha256:${digest.slice(0, 12)} from the artifact cache (maxArtifactCacheBytes ${maxBytes})`)
    }
  }

  return {
    async open () {
      if (blobDir === undefined) return
      await mkdir(blobDir, { recursive: true })
      entries.clear()
      bytes = 0
      for (const name of await readdir(blobDir)) {
        // temp files of writes a crash interrupted (`.<hex>.<pid>.<time>.<random>.tmp`) are never renamed into place: clear them
        if (name.startsWith('.') && name.endsWith('.tmp')) { await rm(join(blobDir, name), { force: true }); continue }
        if (!hex64.test(name)) continue
        const info = await stat(join(blobDir, name)).catch(() => undefined)
        if (info === undefined || !info.isFile()) continue
        entries.set(name, { size: info.size, usedAt: info.mtimeMs })
        bytes += info.size
      }
      await evict()
    },

    has: digest => entries.has(digest),

    async get (digest) {
      const entry = entries.get(digest)
      if (entry === undefined) return undefined
      let data: Uint8Array | undefined = memory.get(digest)
      if (blobDir !== undefined) {
        try {
          const buf = await readFile(path(digest))
          data = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
        } catch {
          forget(digest)
          return undefined
        }
      }
      if (data === undefined) return undefined
      if (sha256Hex(data) !== digest) {
        corrupted++
        log.warn(`artifact cache entry sha256:${digest} does not match its digest (changed on disk?): deleted, fetched again when needed`)
        await remove(digest)
        return undefined
      }
      entry.usedAt = Date.now()
      // the file's time is its last use across restarts; failing to set it costs only eviction order
      if (blobDir !== undefined) await utimes(path(digest), new Date(), new Date()).catch(() => {})
      return data
    },

    async put (digest, data) {
      const got = sha256Hex(data)
      if (got !== digest) throw new ArtifactError('digest-mismatch', `bytes whose sha256 is ${got} were to be cached as sha256:${digest}: refused`)
      if (entries.has(digest)) { (entries.get(digest) as Entry).usedAt = Date.now(); return }
      if (blobDir !== undefined) {
        // temp + fsync + rename (0600): a reader, or a crash, never sees half a file under its digest
        await writePrivateFile(path(digest), data, { overwrite: true })
        // a concurrent put of the same bytes renamed first: the file is the same, count it once
        if (entries.has(digest)) return
      } else {
        memory.set(digest, data)
      }
      entries.set(digest, { size: data.byteLength, usedAt: Date.now() })
      bytes += data.byteLength
      await evict()
    },

    pin (digest) { pins.set(digest, (pins.get(digest) ?? 0) + 1) },
    unpin (digest) {
      const n = (pins.get(digest) ?? 0) - 1
      if (n <= 0) pins.delete(digest); else pins.set(digest, n)
    },
    digests: () => [...entries.keys()],
    stats: () => ({ entries: entries.size, bytes, evicted, corrupted })
  }
}
