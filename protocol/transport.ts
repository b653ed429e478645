// The byte-duplex a wRPC session runs over, and an in-memory pair of them for tests and simulations.

import { ProtocolError } from './errors.ts'

/**
 * One invocation's byte stream in both directions (a libp2p stream, a TCP connection, memory).
 * `write` may be called again before an earlier returned promise settles: chunks go out in call
 * order, and a chunk handed to `write` must not be mutated afterwards (the peer may keep a view).
 */
export interface Transport {
  /** Next chunk of bytes from the peer, or null once the peer closed its write side. */
  read(): Promise<Uint8Array | null>
  /** Queues bytes for the peer; a returned promise is backpressure: it settles once the bytes are accepted. */
  write(bytes: Uint8Array): void | Promise<void>
  /** Ends our write side (EOF for the peer); reading goes on. */
  closeWrite(): void | Promise<void>
  /** Abort both directions (e.g. on a protocol violation or timeout). */
  abort(err: Error): void
  /**
   * Aborted when the stream is reset by either side. Optional, but without it a server whose
   * caller vanished after sending everything only notices on its next write.
   */
  readonly signal?: AbortSignal
}

export interface TransportPairOptions {
  /** Unread bytes at the reader above which `write` returns a promise until the reader catches up. */
  readonly highWaterMarkBytes?: number
}

const defaultHighWaterMarkBytes = 1024 * 1024

/** One direction: the writer's queue and the reader's wait. */
class Pipe {
  readonly #chunks: Uint8Array[] = []
  #head = 0
  #queuedBytes = 0
  #ended = false
  #error: Error | null = null
  #reader: PromiseWithResolvers<Uint8Array | null> | null = null
  #drained: PromiseWithResolvers<void> | null = null
  readonly #highWaterMarkBytes: number

  constructor (highWaterMarkBytes: number) {
    this.#highWaterMarkBytes = highWaterMarkBytes
  }

  read (): Promise<Uint8Array | null> {
    if (this.#head < this.#chunks.length) {
      const chunk = this.#chunks[this.#head]
      this.#chunks[this.#head++] = EMPTY
      if (this.#head > 64 && this.#head * 2 > this.#chunks.length) {
        this.#chunks.splice(0, this.#head)
        this.#head = 0
      }
      this.#queuedBytes -= chunk.length
      this.#maybeDrained()
      return Promise.resolve(chunk)
    }
    if (this.#error != null) return Promise.reject(this.#error)
    if (this.#ended) return Promise.resolve(null)
    if (this.#reader != null) return Promise.reject(new ProtocolError('closed', 'read called while another read is pending'))
    this.#reader = Promise.withResolvers()
    return this.#reader.promise
  }

  write (bytes: Uint8Array): void | Promise<void> {
    if (this.#error != null) throw this.#error
    if (this.#ended) throw new ProtocolError('closed', 'write after closeWrite')
    if (bytes.length === 0) return
    const reader = this.#reader
    if (reader != null) {
      this.#reader = null
      reader.resolve(bytes)
      return
    }
    this.#chunks.push(bytes)
    this.#queuedBytes += bytes.length
    if (this.#queuedBytes <= this.#highWaterMarkBytes) return
    this.#drained ??= Promise.withResolvers()
    return this.#drained.promise
  }

  end (): void {
    if (this.#ended || this.#error != null) return
    this.#ended = true
    const reader = this.#reader
    this.#reader = null
    reader?.resolve(null)
  }

  /** Reset: queued bytes are dropped, the reader and any blocked writer fail with `err`. */
  fail (readerErr: Error, writerErr: Error): void {
    if (this.#error != null) return
    this.#error = readerErr
    this.#chunks.length = 0
    this.#head = 0
    this.#queuedBytes = 0
    const reader = this.#reader
    this.#reader = null
    reader?.reject(readerErr)
    const drained = this.#drained
    this.#drained = null
    if (drained != null) {
      drained.promise.catch(() => {})
      drained.reject(writerErr)
    }
  }

  #maybeDrained (): void {
    if (this.#drained != null && this.#queuedBytes <= this.#highWaterMarkBytes) {
      const drained = this.#drained
      this.#drained = null
      drained.resolve()
    }
  }
}

const EMPTY = new Uint8Array(0)

class PipeEnd implements Transport {
  readonly #in: Pipe
  readonly #out: Pipe
  readonly #reset = new AbortController()
  peer: PipeEnd | null = null

  constructor (incoming: Pipe, outgoing: Pipe) {
    this.#in = incoming
    this.#out = outgoing
  }

  get signal (): AbortSignal {
    return this.#reset.signal
  }

  /** Marks the stream reset on this end. */
  reset (reason: Error): void {
    if (!this.#reset.signal.aborted) this.#reset.abort(reason)
  }

  read (): Promise<Uint8Array | null> {
    return this.#in.read()
  }

  write (bytes: Uint8Array): void | Promise<void> {
    return this.#out.write(bytes)
  }

  closeWrite (): void {
    this.#out.end()
  }

  abort (err: Error): void {
    const reset = new ProtocolError('closed', 'stream reset by peer')
    this.#in.fail(err, reset)
    this.#out.fail(reset, err)
    this.reset(err)
    this.peer?.reset(reset)
  }
}

/**
 * Two connected in-memory transports: what one writes the other reads, chunk for chunk as
 * written (no copying, no re-chunking). `abort` on either end resets both directions.
 */
export function createTransportPair (opts: TransportPairOptions = {}): [Transport, Transport] {
  const hwm = opts.highWaterMarkBytes ?? defaultHighWaterMarkBytes
  const aToB = new Pipe(hwm)
  const bToA = new Pipe(hwm)
  const a = new PipeEnd(bToA, aToB)
  const b = new PipeEnd(aToB, bToA)
  a.peer = b
  b.peer = a
  return [a, b]
}
