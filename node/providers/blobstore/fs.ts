// The blobstore on a local file system: a directory per container under one root, objects written to a temporary file and renamed into place.

import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { copyFile, mkdir, open, opendir, readdir, rename, rm, stat, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { nameProblem } from './names.ts'

/** A failure the contract reports as `err(string)`: bad names, missing containers, limits. */
export class BlobstoreError extends Error {
  override readonly name: string = 'BlobstoreError'
}

export interface FsBlobstoreLimits {
  /** The largest object a write may store; a stream that goes past it fails and stores nothing. */
  readonly maxObjectBytes: number
  /** The longest container or object name in UTF-8 bytes (at most 255). */
  readonly maxNameBytes: number
  /** Bytes per chunk of a read stream. */
  readonly readChunkBytes: number
  /** Names per chunk of a listing stream. */
  readonly listChunkNames: number
  /** Writes (temporary files open) at once, all callers together; more fail at once. */
  readonly maxConcurrentWrites: number
  /** Names one delete-objects call may take. */
  readonly maxDeleteObjects: number
  /** Whether each write is fsynced before it is renamed into place (and so acknowledged). */
  readonly fsync: boolean
}

export interface ContainerInfo { readonly createdAt: bigint }
export interface ObjectInfo { readonly createdAt: bigint, readonly size: bigint }

/** Prefix of the temporary files writes go to; object names never start with '.', so no object can collide with one. */
const TEMP_PREFIX = '.tmp-'

function code (err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code
}

function millis (s: { birthtimeMs: number, mtimeMs: number }): bigint {
  // birthtime is 0 on file systems that do not keep it
  return BigInt(Math.floor(s.birthtimeMs > 0 ? s.birthtimeMs : s.mtimeMs))
}

/** Turns a stream parameter (ready bytes or an async iterable of chunks) into chunks. */
async function * chunksOf (data: unknown): AsyncGenerator<Uint8Array> {
  if (data instanceof Uint8Array) {
    yield data
    return
  }
  if (data == null || typeof (data as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] !== 'function') throw new BlobstoreError('data must be a stream of bytes')
  for await (const chunk of data as AsyncIterable<unknown>) {
    if (!(chunk instanceof Uint8Array)) throw new BlobstoreError('data must be a stream of bytes')
    yield chunk
  }
}

export class FsBlobstore {
  readonly root: string
  readonly limits: FsBlobstoreLimits
  #writes = 0

  constructor (root: string, limits: FsBlobstoreLimits) {
    this.root = root
    this.limits = limits
  }

  /** Creates the root and removes temporary files a crash left behind (they were never acknowledged). */
  async open (): Promise<void> {
    await mkdir(this.root, { recursive: true })
    for (const c of await readdir(this.root, { withFileTypes: true })) {
      if (!c.isDirectory() || c.name.startsWith('.')) continue
      for (const f of await readdir(join(this.root, c.name))) {
        if (f.startsWith(TEMP_PREFIX)) await rm(join(this.root, c.name, f), { force: true })
      }
    }
  }

  get writesInFlight (): number {
    return this.#writes
  }

  #container (name: unknown): string {
    const why = nameProblem('container', name, this.limits.maxNameBytes)
    if (why !== undefined) throw new BlobstoreError(why)
    return join(this.root, name as string)
  }

  #object (container: unknown, object: unknown): { dir: string, path: string } {
    const dir = this.#container(container)
    const why = nameProblem('object', object, this.limits.maxNameBytes)
    if (why !== undefined) throw new BlobstoreError(why)
    return { dir, path: join(dir, object as string) }
  }

  async #existingContainer (name: unknown): Promise<string> {
    const dir = this.#container(name)
    if (!(await this.#isDir(dir))) throw new BlobstoreError(`container ${JSON.stringify(name)} does not exist`)
    return dir
  }

  async #isDir (path: string): Promise<boolean> {
    try {
      return (await stat(path)).isDirectory()
    } catch (err) {
      if (code(err) === 'ENOENT' || code(err) === 'ENOTDIR') return false
      throw err
    }
  }

  async createContainer (name: unknown): Promise<void> {
    const dir = this.#container(name)
    try {
      await mkdir(dir)
    } catch (err) {
      if (code(err) === 'EEXIST') throw new BlobstoreError(`container ${JSON.stringify(name)} already exists`)
      throw err
    }
  }

  async containerExists (name: unknown): Promise<boolean> {
    return await this.#isDir(this.#container(name))
  }

  async deleteContainer (name: unknown): Promise<void> {
    const dir = this.#container(name)
    await rm(dir, { recursive: true, force: true })
  }

  async clearContainer (name: unknown): Promise<void> {
    const dir = await this.#existingContainer(name)
    for (const f of await readdir(dir)) {
      if (!f.startsWith('.')) await rm(join(dir, f), { force: true })
    }
  }

  async containerInfo (name: unknown): Promise<ContainerInfo> {
    const dir = await this.#existingContainer(name)
    return { createdAt: millis(await stat(dir)) }
  }

  async objectInfo (container: unknown, object: unknown): Promise<ObjectInfo> {
    const { path } = this.#object(container, object)
    await this.#existingContainer(container)
    try {
      const s = await stat(path)
      if (!s.isFile()) throw new BlobstoreError(`object ${JSON.stringify(object)} does not exist in ${JSON.stringify(container)}`)
      return { createdAt: millis(s), size: BigInt(s.size) }
    } catch (err) {
      if (code(err) === 'ENOENT') throw new BlobstoreError(`object ${JSON.stringify(object)} does not exist in ${JSON.stringify(container)}`)
      throw err
    }
  }

  async hasObject (container: unknown, object: unknown): Promise<boolean> {
    const { path } = this.#object(container, object)
    await this.#existingContainer(container)
    try {
      return (await stat(path)).isFile()
    } catch (err) {
      if (code(err) === 'ENOENT') return false
      throw err
    }
  }

  /** Does not fail when the object did not exist (as the contract says). */
  async deleteObject (container: unknown, object: unknown): Promise<void> {
    const { path } = this.#object(container, object)
    await this.#existingContainer(container)
    await rm(path, { force: true })
  }

  /** Every name is checked before anything is deleted. */
  async deleteObjects (container: unknown, objects: readonly unknown[]): Promise<void> {
    if (objects.length > this.limits.maxDeleteObjects) throw new BlobstoreError(`${objects.length} names in one delete-objects, the most is ${this.limits.maxDeleteObjects} (max-delete-objects)`)
    const paths = objects.map(o => this.#object(container, o).path)
    await this.#existingContainer(container)
    for (const p of paths) await rm(p, { force: true })
  }

  /** Copies to a temporary file in the destination, then renames: readers of dest see the old or the new bytes. */
  async copyObject (src: { container: unknown, object: unknown }, dest: { container: unknown, object: unknown }): Promise<void> {
    const from = this.#object(src.container, src.object)
    const to = this.#object(dest.container, dest.object)
    await this.#existingContainer(src.container)
    await this.#existingContainer(dest.container)
    const temp = join(to.dir, `${TEMP_PREFIX}${randomBytes(12).toString('hex')}`)
    try {
      await copyFile(from.path, temp, constants.COPYFILE_EXCL)
      await rename(temp, to.path)
    } catch (err) {
      await rm(temp, { force: true })
      if (code(err) === 'ENOENT') throw new BlobstoreError(`object ${JSON.stringify(src.object)} does not exist in ${JSON.stringify(src.container)}`)
      throw err
    }
  }

  async moveObject (src: { container: unknown, object: unknown }, dest: { container: unknown, object: unknown }): Promise<void> {
    const from = this.#object(src.container, src.object)
    const to = this.#object(dest.container, dest.object)
    await this.#existingContainer(src.container)
    await this.#existingContainer(dest.container)
    try {
      await rename(from.path, to.path)
    } catch (err) {
      if (code(err) === 'ENOENT') throw new BlobstoreError(`object ${JSON.stringify(src.object)} does not exist in ${JSON.stringify(src.container)}`)
      throw err
    }
  }

  /**
   * Checks the names and the container, takes a write slot and opens a temporary file; the returned
   * `store` consumes the stream into it and renames it into place only when the stream ended whole
   * within `maxObjectBytes`. Anything else (a limit, the caller gone, a disk error) removes the
   * temporary file, so the object keeps its old bytes or stays absent: never a torn file.
   */
  async beginWrite (container: unknown, object: unknown): Promise<{ store: (data: unknown) => Promise<void> }> {
    const { dir, path } = this.#object(container, object)
    await this.#existingContainer(container)
    if (this.#writes >= this.limits.maxConcurrentWrites) throw new BlobstoreError(`${this.#writes} writes in flight already, the most is ${this.limits.maxConcurrentWrites} (max-concurrent-writes): try again later`)
    this.#writes++
    const temp = join(dir, `${TEMP_PREFIX}${randomBytes(12).toString('hex')}`)
    let file: FileHandle
    try {
      file = await open(temp, 'wx', 0o600)
    } catch (err) {
      this.#writes--
      throw err
    }
    const store = async (data: unknown): Promise<void> => {
      let done = false
      try {
        let size = 0
        for await (const chunk of chunksOf(data)) {
          size += chunk.byteLength
          if (size > this.limits.maxObjectBytes) throw new BlobstoreError(`object ${JSON.stringify(object)} is over ${this.limits.maxObjectBytes} bytes (max-object-bytes): nothing stored`)
          let off = 0
          while (off < chunk.byteLength) off += (await file.write(chunk, off, chunk.byteLength - off)).bytesWritten
        }
        if (this.limits.fsync) await file.sync()
        await file.close()
        await rename(temp, path)
        done = true
      } finally {
        this.#writes--
        if (!done) {
          await file.close().catch(() => {})
          await unlink(temp).catch(() => {})
        }
      }
    }
    return { store }
  }

  /**
   * Opens the object and gives its bytes `start..=end` (clamped to its size) as a stream of chunks
   * read one at a time, so a reader holds one chunk whatever the object's size. The file is open
   * from here: a concurrent write or delete does not change what this read gives.
   */
  async read (container: unknown, object: unknown, start: bigint, end: bigint): Promise<AsyncGenerator<Uint8Array>> {
    const { path } = this.#object(container, object)
    await this.#existingContainer(container)
    let file: FileHandle
    try {
      file = await open(path, 'r')
    } catch (err) {
      if (code(err) === 'ENOENT' || code(err) === 'EISDIR') throw new BlobstoreError(`object ${JSON.stringify(object)} does not exist in ${JSON.stringify(container)}`)
      throw err
    }
    const size = BigInt((await file.stat()).size)
    const last = end >= size ? size - 1n : end
    const chunkBytes = this.limits.readChunkBytes
    return (async function * () {
      try {
        let pos = start
        while (pos <= last) {
          const n = Number(last - pos + 1n < BigInt(chunkBytes) ? last - pos + 1n : BigInt(chunkBytes))
          const buf = new Uint8Array(n)
          const { bytesRead } = await file.read(buf, 0, n, Number(pos))
          if (bytesRead === 0) break
          pos += BigInt(bytesRead)
          yield bytesRead === n ? buf : buf.subarray(0, bytesRead)
        }
      } finally {
        await file.close()
      }
    })()
  }

  /**
   * The container's object names in directory order, `offset` skipped, at most `limit`, as the chunks of a
   * `stream<string>` of up to `listChunkNames` names each (one chunk, one frame); the directory is read as it goes.
   */
  async list (container: unknown, limit: bigint | undefined, offset: bigint | undefined): Promise<AsyncGenerator<string[]>> {
    const dir = await this.#existingContainer(container)
    const handle = await opendir(dir, { bufferSize: 64 })
    const chunkNames = this.limits.listChunkNames
    return (async function * () {
      let skip = offset ?? 0n
      let left = limit ?? -1n
      let chunk: string[] = []
      try {
        for await (const entry of handle) {
          if (left === 0n) break
          if (entry.name.startsWith('.') || !entry.isFile()) continue
          if (skip > 0n) { skip--; continue }
          chunk.push(entry.name)
          if (left > 0n) left--
          if (chunk.length >= chunkNames) {
            yield chunk
            chunk = []
          }
        }
        if (chunk.length > 0) yield chunk
      } finally {
        // iterating to the end closes the directory; an early stop must close it here
        await handle.close().catch(() => {})
      }
    })()
  }
}
