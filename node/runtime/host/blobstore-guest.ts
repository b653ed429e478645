// (guest side) The wasi:io streams of a component's wasi:blobstore values: preview2-shim stream objects whose reads and writes go to the host's blobstore (host/blobstore.ts).
import { error as ioError, streams } from '@bytecodealliance/preview2-shim/io'
import { monotonicClock } from '@bytecodealliance/preview2-shim/clocks'
import { BLOBSTORE_IO_IFACE } from './blobstore.ts'

type ImportCall = (iface: string, func: string, params: unknown[]) => Promise<unknown[]>
type Result = { tag: 'ok', val: unknown } | { tag: 'err', val: unknown }
type Cls = { prototype: Record<string, unknown> } & Record<string, unknown>

/** Bytes asked of the host per read: a guest's small reads are served from them without a suspension each. */
const FETCH_BYTES = 1024 * 1024
/** Writes gathered before they go to the host (one message, one wait for room). */
const FLUSH_BYTES = 256 * 1024

const closed = (): never => { throw { tag: 'closed' } }
// preview2-shim's wasi:io `error` (its constructor takes the message, though its typings say private)
const IoError = ioError.Error as unknown as new (message: string) => object
const failed = (msg: unknown): never => { throw { tag: 'last-operation-failed', val: new IoError(String(msg)) } }
const ready = (): object => monotonicClock.subscribeDuration(0n)

export interface BlobstoreGuest {
  /** Replaces, in the import classes of `wasi:blobstore/types`, the two functions that hand out wasi:io streams. */
  patch (typesIface: string, classes: ReadonlyMap<string, Cls>): void
}

/**
 * `handleOf` gives the host handle behind an imported resource object (guest.ts's wrappers). Reads suspend the guest
 * (JSPI: component.ts lists the stream methods as async imports of a blobstore component) until the host has bytes;
 * writes until it has room, so an object moves chunk by chunk and neither side holds it whole.
 */
export function createBlobstoreGuest (importCall: ImportCall, drop: (iface: string, func: string, params: unknown[]) => void, handleOf: (obj: unknown) => Promise<Uint8Array>): BlobstoreGuest {
  const io = async (func: string, params: unknown[]): Promise<Result> => (await importCall(BLOBSTORE_IO_IFACE, func, params))[0] as Result

  function withDispose (obj: Record<string | symbol, unknown>, handle: Uint8Array): Record<string | symbol, unknown> {
    let dropped = false
    obj[Symbol.dispose] = () => { if (!dropped) { dropped = true; drop(BLOBSTORE_IO_IFACE, 'drop', [handle]) } }
    return obj
  }

  function inputStream (handle: Uint8Array): object {
    let ended = false
    let pending: Uint8Array | undefined
    const take = (max: number): Uint8Array => {
      const p = pending as Uint8Array
      if (p.byteLength <= max) { pending = undefined; return p }
      pending = p.subarray(max)
      return p.subarray(0, max)
    }
    const read = (len: bigint): Uint8Array | Promise<Uint8Array> => {
      const max = Number(len > BigInt(FETCH_BYTES) ? BigInt(FETCH_BYTES) : len)
      if (max === 0) return new Uint8Array(0)
      if (pending !== undefined) return take(max)
      if (ended) closed()
      return io('read', [handle, FETCH_BYTES]).then(r => {
        if (r.tag === 'err') { ended = true; failed(r.val) }
        if (r.val === undefined) { ended = true; closed() }
        pending = r.val as Uint8Array
        return take(max)
      })
    }
    const skip = (len: bigint): bigint | Promise<bigint> => {
      const r = read(len)
      return r instanceof Uint8Array ? BigInt(r.byteLength) : r.then(b => BigInt(b.byteLength))
    }
    const stream = Object.create((streams.InputStream as { prototype: object }).prototype) as Record<string | symbol, unknown>
    Object.assign(stream, { read, blockingRead: read, skip, blockingSkip: skip, subscribe: ready })
    return withDispose(stream, handle)
  }

  /** Each outgoing value's stream flush: `finish` sends what the stream still gathers first. */
  const flushes = new WeakMap<object, () => Promise<void>>()

  function outputStream (handle: Uint8Array, value: object): object {
    let parts: Uint8Array[] = []
    let held = 0
    let failure: unknown
    const send = async (): Promise<void> => {
      if (held === 0) return
      const all = new Uint8Array(held)
      let at = 0
      for (const p of parts) { all.set(p, at); at += p.byteLength }
      parts = []
      held = 0
      const r = await io('write', [handle, all])
      if (r.tag === 'err') { failure = r.val; failed(r.val) }
    }
    const write = (bytes: Uint8Array): undefined | Promise<void> => {
      if (failure !== undefined) failed(failure)
      if (bytes.byteLength === 0) return undefined
      // Copied: the view points into the guest's linear memory, which changes as soon as the guest runs on.
      parts.push(bytes.slice())
      held += bytes.byteLength
      return held < FLUSH_BYTES ? undefined : send()
    }
    // Gathered writes go at FLUSH_BYTES, at finish and at drop: a flush per small write would be a message each.
    const flush = (): undefined => undefined
    const writeAndFlush = write
    const zeroes = (n: bigint): undefined | Promise<void> => write(new Uint8Array(Number(n)))
    const stream = Object.create((streams.OutputStream as { prototype: object }).prototype) as Record<string | symbol, unknown>
    Object.assign(stream, {
      checkWrite: () => { if (failure !== undefined) failed(failure); return BigInt(FLUSH_BYTES) },
      write,
      blockingWriteAndFlush: writeAndFlush,
      flush,
      blockingFlush: flush,
      writeZeroes: zeroes,
      blockingWriteZeroesAndFlush: (n: bigint) => writeAndFlush(new Uint8Array(Number(n))),
      subscribe: ready,
      splice: () => failed('splice into a blobstore value is not supported: read and write'),
      blockingSplice: () => failed('splice into a blobstore value is not supported: read and write')
    })
    flushes.set(value, async () => { await send().catch(() => {}) })
    const obj = withDispose(stream, handle)
    const dispose = obj[Symbol.dispose] as () => void
    // what is still gathered goes first: the host answers in the order it is called, so finish sees every byte
    obj[Symbol.dispose] = () => { void send().catch(() => {}).finally(dispose) }
    return obj
  }

  return {
    patch (typesIface, classes) {
      const incoming = classes.get('incoming-value')
      const outgoing = classes.get('outgoing-value')
      if (incoming !== undefined) {
        incoming.incomingValueConsumeAsync = async (value: unknown) => {
          const r = (await importCall(typesIface, '[static]incoming-value.incoming-value-consume-async', [await handleOf(value)]))[0] as Result
          return r.tag === 'ok' ? { tag: 'ok', val: inputStream(r.val as Uint8Array) } : r
        }
      }
      if (outgoing !== undefined) {
        outgoing.prototype.outgoingValueWriteBody = async function (this: unknown) {
          const r = (await importCall(typesIface, '[method]outgoing-value.outgoing-value-write-body', [await handleOf(this)]))[0] as Result
          return r.tag === 'ok' ? { tag: 'ok', val: outputStream(r.val as Uint8Array, this as object) } : r
        }
        const finish = outgoing.finish as (value: unknown) => Promise<unknown>
        outgoing.finish = async (value: unknown) => {
          await flushes.get(value as object)?.()
          return await finish(value)
        }
      }
    }
  }
}
