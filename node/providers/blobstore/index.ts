// The built-in blobstore provider: wrpc:blobstore@0.2.0 (wasi:blobstore@0.2.0-draft's operations, data as stream<u8>) on the local file system.

import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ProviderContext, ProviderModule } from '../sdk.ts'
import { BlobstoreError, FsBlobstore } from './fs.ts'
import type { FsBlobstoreLimits } from './fs.ts'
import { MAX_NAME_BYTES } from './names.ts'

export const BLOBSTORE = 'wrpc:blobstore/blobstore@0.2.0'

export interface BlobstoreSettings extends FsBlobstoreLimits {
  /** The directory holding one directory per container. Default `<dataDir>/blobstore` (`.wasmesh/blobstore` without a data directory). */
  readonly root: string
}

export const defaultBlobstoreLimits: FsBlobstoreLimits = Object.freeze({
  maxObjectBytes: 4 * 1024 * 1024 * 1024,
  maxNameBytes: MAX_NAME_BYTES,
  readChunkBytes: 256 * 1024,
  listChunkNames: 1000,
  maxConcurrentWrites: 64,
  maxDeleteObjects: 10_000,
  fsync: true
})

const KNOWN = ['root', 'max-object-bytes', 'max-name-bytes', 'read-chunk-bytes', 'list-chunk-names', 'max-concurrent-writes', 'max-delete-objects', 'fsync']

function positive (config: Readonly<Record<string, string>>, key: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = config[key]
  if (text === undefined) return fallback
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1 || n > max) throw new BlobstoreError(`config ${key}: ${JSON.stringify(text)} is not an integer from 1 to ${max}`)
  return n
}

/** Reads the provider's config; an unknown key or a bad value fails the start, naming it. */
export function blobstoreSettings (ctx: Pick<ProviderContext, 'config' | 'dataDir'>): BlobstoreSettings {
  const c = ctx.config
  for (const k of Object.keys(c)) if (!KNOWN.includes(k)) throw new BlobstoreError(`unknown config ${k} (known: ${KNOWN.join(', ')})`)
  const fsync = c.fsync ?? 'true'
  if (fsync !== 'true' && fsync !== 'false') throw new BlobstoreError(`config fsync: ${JSON.stringify(fsync)} is not true or false`)
  const d = defaultBlobstoreLimits
  return {
    root: c.root ?? join(ctx.dataDir ?? '.wasmesh', 'blobstore'),
    maxObjectBytes: positive(c, 'max-object-bytes', d.maxObjectBytes),
    maxNameBytes: positive(c, 'max-name-bytes', d.maxNameBytes, MAX_NAME_BYTES),
    // one chunk is one wRPC frame: keep it well under the session's maxFrameBytes
    readChunkBytes: positive(c, 'read-chunk-bytes', d.readChunkBytes, 4 * 1024 * 1024),
    listChunkNames: positive(c, 'list-chunk-names', d.listChunkNames, 10_000),
    maxConcurrentWrites: positive(c, 'max-concurrent-writes', d.maxConcurrentWrites),
    maxDeleteObjects: positive(c, 'max-delete-objects', d.maxDeleteObjects),
    fsync: fsync === 'true'
  }
}

/** `wit/` of the repository (seen from here) or of the npm package (seen from `dist/node/providers/blobstore/`). */
function witDir (): URL {
  for (const up of ['../../../wit/', '../../../../wit/']) {
    const dir = new URL(up, import.meta.url)
    if (existsSync(new URL('providers/blobstore.wit', dir))) return dir
  }
  throw new BlobstoreError('wit/providers/blobstore.wit is missing from this install of wasmesh: reinstall it')
}

/** The WIT sources: this provider's world and the deps it needs (wrpc:blobstore, wasi:blobstore, wasi:io), read from wit/. */
function witSources (): Record<string, string> {
  const wit = witDir()
  const files: Record<string, string> = { 'blobstore.wit': readFileSync(new URL('providers/blobstore.wit', wit), 'utf8') }
  for (const dep of ['wrpc-blobstore-0.2.0', 'wasi-blobstore-0.2.0-draft', 'wasi-io-0.2.1']) {
    const dir = new URL(`deps/${dep}/`, wit)
    for (const f of readdirSync(dir)) if (f.endsWith('.wit')) files[`deps/${dep}/${f}`] = readFileSync(new URL(f, dir), 'utf8')
  }
  return files
}

type Result<T> = { tag: 'ok', val: T } | { tag: 'err', val: string }
interface ObjectId { container: string, object: string }

const ok = <T>(val: T): Result<T> => ({ tag: 'ok', val })

/**
 * The stream of a read or listing, and the future that says how it ended: `ok` after the last
 * chunk, `err` when reading failed part way (the stream then just ends; the future says why).
 */
function streamed<T> (source: AsyncGenerator<T>): [AsyncIterable<T>, Promise<Result<undefined>>] {
  const outcome = Promise.withResolvers<Result<undefined>>()
  const stream = (async function * () {
    let settled = false
    try {
      for await (const chunk of source) yield chunk
      settled = true
      outcome.resolve(ok(undefined))
    } catch (err) {
      settled = true
      outcome.resolve({ tag: 'err', val: (err as Error).message })
    } finally {
      // the caller went away mid-stream: the generator's finally has closed the file
      if (!settled) outcome.resolve({ tag: 'err', val: 'the reader stopped before the end' })
    }
  })()
  return [stream, outcome.promise]
}

/** Stops reading a stream parameter nobody will consume. */
function cancel (data: unknown): void {
  if (data == null || typeof (data as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] !== 'function') return
  void Promise.resolve((data as AsyncIterable<unknown>)[Symbol.asyncIterator]().return?.()).catch(() => {})
}

/**
 * A fresh blobstore provider module (its own root once started). The default export, so
 * `loadProviderModule('builtin:blobstore')` gives a new instance each time.
 */
export function createBlobstoreModule (): ProviderModule & { readonly store: () => FsBlobstore | undefined } {
  let store: FsBlobstore | undefined

  /** Runs an operation; the contract's errors (bad names, missing containers, limits) come back as `err`, never thrown. */
  async function op<T> (fn: (s: FsBlobstore) => Promise<T>): Promise<Result<T>> {
    if (store === undefined) return { tag: 'err', val: 'the blobstore provider is not started' }
    try {
      return ok(await fn(store))
    } catch (err) {
      if (err instanceof BlobstoreError) return { tag: 'err', val: err.message }
      const c = (err as NodeJS.ErrnoException).code
      // a file-system failure names its errno, never the host path behind the container
      if (typeof c === 'string') return { tag: 'err', val: `file system error ${c}` }
      throw err
    }
  }

  return {
    name: 'blobstore',
    wit: witSources(),
    world: 'wasmesh:blobstore-provider/provider@0.1.0',
    store: () => store,

    async start (ctx) {
      const s = blobstoreSettings(ctx)
      const fs = new FsBlobstore(s.root, s)
      await fs.open()
      store = fs
      ctx.log.info(`containers under ${s.root} (max-object-bytes=${s.maxObjectBytes}, fsync=${String(s.fsync)})`)
    },

    stop () {
      store = undefined
    },

    exports: {
      [BLOBSTORE]: {
        'clear-container': async (name: string) => await op(async s => { await s.clearContainer(name) }),
        'container-exists': async (name: string) => await op(async s => await s.containerExists(name)),
        'create-container': async (name: string) => await op(async s => { await s.createContainer(name) }),
        'delete-container': async (name: string) => await op(async s => { await s.deleteContainer(name) }),
        'get-container-info': async (name: string) => await op(async s => await s.containerInfo(name)),
        'list-container-objects': async (name: string, limit: bigint | undefined, offset: bigint | undefined) =>
          await op(async s => streamed(await s.list(name, limit === undefined ? undefined : BigInt(limit), offset === undefined ? undefined : BigInt(offset)))),
        'copy-object': async (src: ObjectId, dest: ObjectId) => await op(async s => { await s.copyObject(src, dest) }),
        'delete-object': async (id: ObjectId) => await op(async s => { await s.deleteObject(id.container, id.object) }),
        'delete-objects': async (container: string, objects: string[]) => await op(async s => { await s.deleteObjects(container, objects) }),
        'get-container-data': async (id: ObjectId, start: bigint, end: bigint) =>
          await op(async s => streamed(await s.read(id.container, id.object, BigInt(start), BigInt(end)))),
        'get-object-info': async (id: ObjectId) => await op(async s => await s.objectInfo(id.container, id.object)),
        'has-object': async (id: ObjectId) => await op(async s => await s.hasObject(id.container, id.object)),
        'move-object': async (src: ObjectId, dest: ObjectId) => await op(async s => { await s.moveObject(src, dest) }),
        /**
         * Answers at once (names checked, container found, temporary file open) with a future that
         * resolves when the whole stream is stored, or with why not (then nothing was stored).
         */
        'write-container-data': async (id: ObjectId, data: unknown) => {
          // boxed: an async function returning the future itself would wait for it, answering only once the write is done
          const answer = await op(async s => {
            const { store: consume } = await s.beginWrite(id.container, id.object)
            return {
              future: consume(data).then(() => ok(undefined), (err: unknown): Result<undefined> => {
                const c = (err as NodeJS.ErrnoException).code
                return { tag: 'err', val: err instanceof BlobstoreError ? err.message : typeof c === 'string' ? `write failed: ${c}` : `write failed: ${(err as Error).message}` }
              })
            }
          })
          // refused before reading: what the caller still sends of the stream is dropped as it arrives, not queued
          if (answer.tag === 'err') { cancel(data); return answer }
          return ok(answer.val.future)
        }
      }
    }
  }
}

export default createBlobstoreModule
