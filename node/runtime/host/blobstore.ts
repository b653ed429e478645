// wasi:blobstore@0.2.0-draft for one instance: each import becomes wrpc:blobstore@0.2.0 calls through the mesh, object bytes streamed both ways.

import type { HostLimits } from './limits.ts'

/** What the node serves the translated calls as (the contract builtin:blobstore and wasmCloud's providers serve). */
export const WRPC_BLOBSTORE = 'wrpc:blobstore/blobstore@0.2.0'

/**
 * The internal interface through which a guest's blobstore streams (preview2-shim `input-stream`/`output-stream`
 * objects made in the guest, runtime/host/blobstore-guest.ts) reach this module; no component can import it.
 */
export const BLOBSTORE_IO_IFACE = 'wasmesh:runtime/blobstore-io'

/** Where a call goes: the interface whose links choose the server, and the link name the instance chose for it. */
export interface BlobstoreLink {
  readonly iface: string
  readonly name: string | undefined
}

export interface InstanceBlobstoreInit {
  /** A `wrpc:blobstore` call to whichever server the link chooses; throws when none answers. */
  readonly call: (link: BlobstoreLink, func: string, params: unknown[]) => Promise<unknown[]>
  /** The link a top-level `wasi:blobstore/blobstore` call of this version goes through now. */
  readonly link: (iface: string) => BlobstoreLink
  readonly limits: Pick<HostLimits, 'maxBlobstoreHandles' | 'maxBlobstoreSyncBytes' | 'maxBlobstorePendingWriteBytes' | 'maxBlobstoreListNames'>
}

export interface InstanceBlobstore {
  /** `iface` versioned (`wasi:blobstore/container@0.2.0-draft`), `func` the component-model name. */
  serve (iface: string, func: string, params: unknown[]): Promise<unknown[]>
  /** The guest's stream calls (`BLOBSTORE_IO_IFACE`). */
  io (func: string, params: unknown[]): Promise<unknown[]>
}

type Result<T = unknown> = { tag: 'ok', val: T } | { tag: 'err', val: string }
interface ObjectId { container: string, object: string }

/** A guest's blobstore stream failed: the guest sees `last-operation-failed` with this message. */
export class BlobstoreIoError extends Error {
  readonly code = 'blobstore-io'
}

const ok = <T>(val: T): Result<T> => ({ tag: 'ok', val })
const err = (val: string): Result<never> => ({ tag: 'err', val })
const key = (h: unknown): string => h instanceof Uint8Array ? Buffer.from(h).toString('hex') : ''
/** A view that is its whole buffer: a worker's message clones the buffer behind a view, not the view. */
const own = (b: Uint8Array): Uint8Array => b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice()
const message = (e: unknown): string => e instanceof Error ? e.message : String(e)

/**
 * Bytes from the guest to a `write-container-data` stream parameter. Before the call starts (`write-data`) it holds
 * at most `maxPendingBytes`; once read, a write waits while more than `highWaterBytes` are unread (back-pressure),
 * so an object of any size passes in bounded memory.
 */
class BytePipe {
  #chunks: Uint8Array[] = []
  #bytes = 0
  #ended = false
  #failure: Error | undefined
  #reader: (() => void) | undefined
  #writers: Array<() => void> = []
  #reading = false
  readonly highWaterBytes: number
  readonly maxPendingBytes: number
  constructor (highWaterBytes: number, maxPendingBytes: number) {
    this.highWaterBytes = highWaterBytes
    this.maxPendingBytes = maxPendingBytes
  }

  get failure (): Error | undefined { return this.#failure }

  /** Queues a chunk; resolves when there is room for the next one. */
  async push (chunk: Uint8Array): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure
    if (this.#ended) throw new BlobstoreIoError('the outgoing value is finished')
    if (!this.#reading && this.#bytes + chunk.byteLength > this.maxPendingBytes) {
      throw new BlobstoreIoError(`more than maxBlobstorePendingWriteBytes (${this.maxPendingBytes}) written before container.write-data: call write-data first, then write the body`)
    }
    this.#chunks.push(chunk)
    this.#bytes += chunk.byteLength
    this.#wakeReader()
    while (this.#reading && this.#bytes > this.highWaterBytes && this.#failure === undefined) {
      await new Promise<void>(resolve => this.#writers.push(resolve))
    }
    if (this.#failure !== undefined) throw this.#failure
  }

  end (): void { this.#ended = true; this.#wakeReader() }

  fail (e: Error): void {
    if (this.#failure === undefined) this.#failure = e
    this.#chunks = []
    this.#bytes = 0
    this.#wakeReader()
    this.#wakeWriters()
  }

  #wakeReader (): void { const r = this.#reader; this.#reader = undefined; r?.() }
  #wakeWriters (): void { const w = this.#writers; this.#writers = []; for (const f of w) f() }

  async * stream (): AsyncGenerator<Uint8Array> {
    this.#reading = true
    try {
      for (;;) {
        if (this.#failure !== undefined) throw this.#failure
        const chunk = this.#chunks.shift()
        if (chunk !== undefined) {
          this.#bytes -= chunk.byteLength
          if (this.#bytes <= this.highWaterBytes) this.#wakeWriters()
          yield chunk
          continue
        }
        if (this.#ended) return
        await new Promise<void>(resolve => { this.#reader = resolve })
      }
    } finally {
      // the server stopped reading (refused, failed, done): later writes fail rather than wait forever
      if (!this.#ended || this.#chunks.length > 0) this.fail(this.#failure ?? new BlobstoreIoError('the blobstore stopped reading the object'))
    }
  }
}

/** A stream's chunks as the guest pulls them, and the future telling how the stream ended. */
class Pulled<T> {
  readonly #it: AsyncIterator<T>
  readonly #status: Promise<Result>
  #done = false
  constructor (stream: AsyncIterable<T>, status: Promise<Result>) {
    this.#it = stream[Symbol.asyncIterator]()
    this.#status = status
    status.catch(() => {})
  }

  /** The next chunk, or undefined at a good end; throws the error the future gave at a bad one. */
  async next (): Promise<T | undefined> {
    if (this.#done) return undefined
    let r: IteratorResult<T>
    try {
      r = await this.#it.next()
    } catch (e) {
      this.#done = true
      throw new BlobstoreIoError(`reading from the blobstore failed: ${message(e)}`)
    }
    if (r.done !== true) return r.value
    this.#done = true
    let s: Result
    try {
      s = await this.#status
    } catch (e) {
      throw new BlobstoreIoError(`reading from the blobstore failed: ${message(e)}`)
    }
    if (s.tag === 'err') throw new BlobstoreIoError(s.val)
    return undefined
  }

  close (): void {
    if (this.#done) return
    this.#done = true
    void Promise.resolve(this.#it.return?.()).catch(() => {})
  }
}

interface Container { readonly kind: 'container', readonly name: string, readonly link: BlobstoreLink }
interface Outgoing {
  readonly kind: 'outgoing'
  readonly pipe: BytePipe
  streamTaken: boolean
  /** Set by write-data: the future of the write, and the link it went through. */
  written?: Promise<Result>
}
interface Incoming { readonly kind: 'incoming', readonly data: Pulled<Uint8Array>, readonly id: ObjectId, readonly start: bigint, readonly end: bigint, readonly link: BlobstoreLink }
interface InputStream { readonly kind: 'input', readonly data: Pulled<Uint8Array>, pending: Uint8Array | undefined }
interface OutputStream { readonly kind: 'output', readonly pipe: BytePipe }
interface Names { readonly kind: 'names', readonly data: Pulled<string[]>, pending: string[] }
type Entry = Container | Outgoing | Incoming | InputStream | OutputStream | Names

/** The wasi:blobstore resources and streams of one instance. */
export function createInstanceBlobstore (init: InstanceBlobstoreInit): InstanceBlobstore {
  const table = new Map<string, Entry>()
  const limits = init.limits

  function add (entry: Entry): Uint8Array | undefined {
    if (table.size >= limits.maxBlobstoreHandles) return undefined
    const h = crypto.getRandomValues(new Uint8Array(16))
    table.set(key(h), entry)
    return h
  }
  const full = (): Result<never> => err(`this instance holds maxBlobstoreHandles (${limits.maxBlobstoreHandles}) blobstore resources: drop some`)

  function get<K extends Entry['kind']> (h: unknown, kind: K): Extract<Entry, { kind: K }> {
    const e = table.get(key(h))
    // Unknown handles are the host's bug or a forged value: jco only hands over handles it was given.
    if (e?.kind !== kind) throw new BlobstoreIoError(`unknown ${kind} handle`)
    return e as Extract<Entry, { kind: K }>
  }

  function drop (h: unknown): void {
    const e = table.get(key(h))
    table.delete(key(h))
    if (e === undefined) return
    if (e.kind === 'incoming' || e.kind === 'input' || e.kind === 'names') e.data.close()
    // an outgoing value dropped without finish is corrupt (the WIT): its write is abandoned, nothing stored
    if (e.kind === 'outgoing') e.pipe.fail(new BlobstoreIoError('the outgoing value was dropped without finish'))
    if (e.kind === 'output') e.pipe.end()
  }

  /** One wrpc:blobstore call; a server that does not answer becomes the WIT's error string, never a trap. */
  async function remote<T> (link: BlobstoreLink, func: string, params: unknown[]): Promise<Result<T>> {
    try {
      const [r] = await init.call(link, func, params)
      return r as Result<T>
    } catch (e) {
      return err(`blobstore ${func}: ${message(e)}`)
    }
  }

  async function onBlobstore (iface: string, func: string, params: unknown[]): Promise<Result<unknown>> {
    const link = init.link(iface)
    switch (func) {
      case 'create-container':
      case 'get-container': {
        const name = params[0] as string
        if (func === 'create-container') {
          const r = await remote(link, 'create-container', [name])
          if (r.tag === 'err') return r
        } else {
          const r = await remote<boolean>(link, 'container-exists', [name])
          if (r.tag === 'err') return r
          if (!r.val) return err(`container ${JSON.stringify(name)} does not exist`)
        }
        const h = add({ kind: 'container', name, link })
        return h === undefined ? full() : ok(h)
      }
      case 'delete-container': return await remote(link, 'delete-container', [params[0]])
      case 'container-exists': return await remote(link, 'container-exists', [params[0]])
      case 'copy-object': return await remote(link, 'copy-object', [params[0], params[1]])
      case 'move-object': return await remote(link, 'move-object', [params[0], params[1]])
    }
    throw new BlobstoreIoError(`wasi:blobstore/blobstore has no function ${func}`)
  }

  async function onContainer (func: string, params: unknown[]): Promise<unknown> {
    if (func === '[resource-drop]container' || func === '[resource-drop]stream-object-names') { drop(params[0]); return undefined }
    if (func.startsWith('[method]stream-object-names.')) return await onNames(func.slice('[method]stream-object-names.'.length), params)
    const c = get(params[0], 'container')
    const id = (object: unknown): ObjectId => ({ container: c.name, object: object as string })
    switch (func) {
      case '[method]container.name': return ok(c.name)
      case '[method]container.info': {
        const r = await remote<{ createdAt: bigint }>(c.link, 'get-container-info', [c.name])
        return r.tag === 'err' ? r : ok({ name: c.name, createdAt: r.val.createdAt })
      }
      case '[method]container.get-data': {
        const start = BigInt(params[2] as bigint)
        const end = BigInt(params[3] as bigint)
        const r = await remote<[AsyncIterable<Uint8Array>, Promise<Result>]>(c.link, 'get-container-data', [id(params[1]), start, end])
        if (r.tag === 'err') return r
        const h = add({ kind: 'incoming', data: new Pulled(r.val[0], r.val[1]), id: id(params[1]), start, end, link: c.link })
        if (h === undefined) { new Pulled(r.val[0], r.val[1]).close(); return full() }
        return ok(h)
      }
      case '[method]container.write-data': {
        const v = get(params[2], 'outgoing')
        if (v.written !== undefined) return err('write-data was already called with this outgoing value')
        const r = await remote<Promise<Result>>(c.link, 'write-container-data', [id(params[1]), v.pipe.stream()])
        if (r.tag === 'err') { v.pipe.fail(new BlobstoreIoError(r.val)); v.written = Promise.resolve(r); return r }
        v.written = r.val.then(s => { if (s.tag === 'err') v.pipe.fail(new BlobstoreIoError(s.val)); return s }, (e: unknown) => err(message(e)))
        v.written.catch(() => {})
        return ok(undefined)
      }
      case '[method]container.list-objects': {
        const r = await remote<[AsyncIterable<string[]>, Promise<Result>]>(c.link, 'list-container-objects', [c.name, undefined, undefined])
        if (r.tag === 'err') return r
        const h = add({ kind: 'names', data: new Pulled(r.val[0], r.val[1]), pending: [] })
        if (h === undefined) { new Pulled(r.val[0], r.val[1]).close(); return full() }
        return ok(h)
      }
      case '[method]container.delete-object': return await remote(c.link, 'delete-object', [id(params[1])])
      case '[method]container.delete-objects': return await remote(c.link, 'delete-objects', [c.name, params[1]])
      case '[method]container.has-object': return await remote(c.link, 'has-object', [id(params[1])])
      case '[method]container.object-info': {
        const r = await remote<{ createdAt: bigint, size: bigint }>(c.link, 'get-object-info', [id(params[1])])
        return r.tag === 'err' ? r : ok({ name: params[1], container: c.name, createdAt: r.val.createdAt, size: r.val.size })
      }
      case '[method]container.clear': return await remote(c.link, 'clear-container', [c.name])
    }
    throw new BlobstoreIoError(`wasi:blobstore/container has no function ${func}`)
  }

  async function onNames (method: string, params: unknown[]): Promise<Result<[unknown, boolean]>> {
    const s = get(params[0], 'names')
    const want = Math.min(Number(BigInt(params[1] as bigint)), limits.maxBlobstoreListNames)
    const names: string[] = []
    let skipped = 0
    let ended = false
    try {
      while (names.length + skipped < want) {
        if (s.pending.length === 0) {
          const chunk = await s.data.next()
          if (chunk === undefined) { ended = true; break }
          s.pending = chunk
          continue
        }
        const take = s.pending.splice(0, want - names.length - skipped)
        if (method === 'read-stream-object-names') names.push(...take)
        else skipped += take.length
      }
    } catch (e) {
      return err(message(e))
    }
    return ok(method === 'read-stream-object-names' ? [names, ended] : [BigInt(skipped), ended])
  }

  async function onTypes (func: string, params: unknown[]): Promise<unknown> {
    switch (func) {
      case '[static]outgoing-value.new-outgoing-value': {
        const h = add({ kind: 'outgoing', pipe: new BytePipe(1024 * 1024, limits.maxBlobstorePendingWriteBytes), streamTaken: false })
        // the WIT gives no error here: past the handle limit the instance is failing, and the call says why
        if (h === undefined) throw new BlobstoreIoError(full().val)
        return h
      }
      case '[method]outgoing-value.outgoing-value-write-body': {
        const v = get(params[0], 'outgoing')
        // `result<output-stream>`: the WIT's error carries nothing
        if (v.streamTaken) return { tag: 'err', val: undefined }
        const h = add({ kind: 'output', pipe: v.pipe })
        if (h === undefined) return { tag: 'err', val: undefined }
        v.streamTaken = true
        return ok(h)
      }
      case '[static]outgoing-value.finish': {
        const v = get(params[0], 'outgoing')
        table.delete(key(params[0]))
        v.pipe.end()
        if (v.written === undefined) return ok(undefined)
        return await v.written
      }
      case '[static]incoming-value.incoming-value-consume-sync': {
        const v = get(params[0], 'incoming')
        table.delete(key(params[0]))
        const parts: Uint8Array[] = []
        let n = 0
        try {
          for (let c = await v.data.next(); c !== undefined; c = await v.data.next()) {
            n += c.byteLength
            if (n > limits.maxBlobstoreSyncBytes) {
              v.data.close()
              return err(`the value is larger than maxBlobstoreSyncBytes (${limits.maxBlobstoreSyncBytes}): read it with incoming-value-consume-async`)
            }
            parts.push(c)
          }
        } catch (e) {
          return err(message(e))
        }
        return ok(Buffer.concat(parts))
      }
      case '[static]incoming-value.incoming-value-consume-async': {
        const v = get(params[0], 'incoming')
        table.delete(key(params[0]))
        const h = add({ kind: 'input', data: v.data, pending: undefined })
        if (h === undefined) { v.data.close(); return full() }
        return ok(h)
      }
      case '[method]incoming-value.size': {
        // wrpc:blobstore's read carries no size: the object's, clamped to the range asked for
        const v = get(params[0], 'incoming')
        const r = await remote<{ size: bigint }>(v.link, 'get-object-info', [v.id])
        if (r.tag === 'err' || r.val.size === 0n || v.start >= r.val.size) return 0n
        const last = v.end < r.val.size - 1n ? v.end : r.val.size - 1n
        return last - v.start + 1n
      }
      case '[resource-drop]outgoing-value':
      case '[resource-drop]incoming-value': drop(params[0]); return undefined
    }
    throw new BlobstoreIoError(`wasi:blobstore/types has no function ${func}`)
  }

  return {
    async serve (iface, func, params) {
      const name = iface.replace(/@.*$/, '')
      const r = name === 'wasi:blobstore/blobstore'
        ? await onBlobstore(iface, func, params)
        : name === 'wasi:blobstore/container'
          ? await onContainer(func, params)
          : await onTypes(func, params)
      return func.startsWith('[resource-drop]') ? [] : [r]
    },

    /** `read` answers `ok(bytes)`, `ok(undefined)` at the end, `err(message)`; `write` `ok` once there is room, or `err`. */
    async io (func, params) {
      if (func === 'drop') { drop(params[0]); return [] }
      try {
        switch (func) {
          case 'read': {
            const s = get(params[0], 'input')
            const max = Math.max(1, Math.min(Number(params[1]) || 65536, 4 * 1024 * 1024))
            if (s.pending === undefined) s.pending = await s.data.next()
            const p = s.pending
            if (p === undefined) return [ok(undefined)]
            if (p.byteLength <= max) { s.pending = undefined; return [ok(own(p))] }
            s.pending = p.subarray(max)
            return [ok(p.slice(0, max))]
          }
          case 'write': {
            const s = get(params[0], 'output')
            const bytes = params[1]
            if (!(bytes instanceof Uint8Array)) throw new BlobstoreIoError('write takes bytes')
            await s.pipe.push(bytes)
            return [ok(undefined)]
          }
        }
      } catch (e) {
        return [err(message(e))]
      }
      throw new BlobstoreIoError(`no blobstore stream function ${func}`)
    }
  }
}
