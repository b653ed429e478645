// A libp2p 3 Stream as the protocol's Transport: the byte path of every wRPC call between nodes.

import { ProtocolError } from '../protocol/errors.ts'
import type { Transport } from '../protocol/transport.ts'
import type { InboundAccount } from '../protocol/budget.ts'
import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'

export interface StreamTransportOptions {
  /**
   * Unread bytes held for the reader above which the stream is paused: the muxer then stops
   * granting send window, so a peer that outruns its reader is slowed down, not buffered. What
   * arrives while paused is bounded by the muxer's window and the stream's `maxReadBufferLength`
   * (`createMeshLibp2p` keeps the first below the second).
   */
  readonly readHighWaterMarkBytes?: number
  /**
   * The reading session's inbound budget account: unread bytes queued here are charged to it (the
   * session charges what it holds once read), and while it is `blocked` (the session stopped reading
   * for want of budget) the stream is paused at the first unread byte, not at the high-water mark,
   * so what a peer sends past a spent budget is only what the muxer's window still let through.
   */
  readonly inbound?: Pick<InboundAccount, 'add' | 'blocked'>
}

/** A Transport over a libp2p stream. */
export interface StreamTransport extends Transport {
  readonly signal: AbortSignal
  /** Drops everything unread and still to come, without pausing, so a caller can finish sending after the answer is out. */
  discardInput(): void
}

const defaultReadHighWaterMarkBytes = 1024 * 1024

/** Libp2p hands out Node Buffers and list segments; the protocol gets plain views of the same memory. */
function plain (buf: Uint8Array): Uint8Array {
  return buf.constructor === Uint8Array ? buf : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

function closedError (message: string, cause?: unknown): ProtocolError {
  const err = new ProtocolError('closed', message)
  if (cause !== undefined) err.cause = cause
  return err
}

class MessageStreamTransport implements StreamTransport {
  readonly #stream: Stream
  readonly #highWaterMarkBytes: number
  readonly #inbound: Pick<InboundAccount, 'add' | 'blocked'> | undefined
  readonly #reset = new AbortController()
  #chunks: Uint8Array[] = []
  #head = 0
  #queuedBytes = 0
  #reader: PromiseWithResolvers<Uint8Array | null> | null = null
  #error: Error | null = null
  #paused = false
  #discarding = false
  #drain: PromiseWithResolvers<void> | null = null

  constructor (stream: Stream, opts: StreamTransportOptions) {
    this.#stream = stream
    this.#highWaterMarkBytes = opts.readHighWaterMarkBytes ?? defaultReadHighWaterMarkBytes
    this.#inbound = opts.inbound
    stream.addEventListener('message', this.#onMessage)
    stream.addEventListener('remoteCloseWrite', this.#onRemoteCloseWrite)
    stream.addEventListener('close', this.#onClose)
    stream.addEventListener('drain', this.#onDrain)
    if (stream.status === 'aborted' || stream.status === 'reset') this.#fail(closedError(`stream ${stream.status} before use`))
  }

  get signal (): AbortSignal {
    return this.#reset.signal
  }

  read (): Promise<Uint8Array | null> {
    // resuming dispatches what the stream buffered while paused, synchronously, into our queue
    if (this.#paused && this.#head === this.#chunks.length) this.#resume()
    if (this.#head < this.#chunks.length) return Promise.resolve(this.#take())
    if (this.#error != null) return Promise.reject(this.#error)
    if (this.#atEof()) return Promise.resolve(null)
    if (this.#reader != null) return Promise.reject(closedError('read called while another read is pending'))
    this.#reader = Promise.withResolvers()
    return this.#reader.promise
  }

  write (bytes: Uint8Array): void | Promise<void> {
    if (this.#error != null) throw this.#error
    let ok: boolean
    try {
      ok = this.#stream.send(bytes)
    } catch (err) {
      throw closedError(`stream not writable: ${(err as Error).message}`, err)
    }
    if (ok) return
    // not stream.onDrain(): in @libp2p/utils 7.4 it keeps its first, resolved promise, so every
    // later wait returns at once and the send buffer grows without bound
    this.#drain ??= Promise.withResolvers()
    return this.#drain.promise
  }

  closeWrite (): Promise<void> {
    return this.#stream.close().catch((err: unknown) => {
      throw this.#error ?? closedError('stream closed before our side finished', err)
    })
  }

  abort (err: Error): void {
    this.#fail(err)
    this.#stream.abort(err)
  }

  discardInput (): void {
    this.#discarding = true
    this.#inbound?.add(-this.#queuedBytes)
    this.#chunks = []
    this.#head = 0
    this.#queuedBytes = 0
    if (this.#paused) this.#resume()
  }

  #take (): Uint8Array {
    const chunk = this.#chunks[this.#head]
    this.#chunks[this.#head++] = EMPTY
    if (this.#head === this.#chunks.length) {
      this.#chunks = []
      this.#head = 0
    }
    this.#queuedBytes -= chunk.length
    this.#inbound?.add(-chunk.length)
    if (this.#paused && this.#queuedBytes <= this.#highWaterMarkBytes >>> 1) this.#resume()
    return chunk
  }

  #atEof (): boolean {
    return this.#stream.remoteWriteStatus === 'closed' && this.#stream.readBufferLength === 0 && !this.#paused
  }

  #push (chunk: Uint8Array): void {
    if (chunk.length === 0) return
    const reader = this.#reader
    if (reader != null) {
      this.#reader = null
      reader.resolve(chunk)
      return
    }
    this.#chunks.push(chunk)
    this.#queuedBytes += chunk.length
    this.#inbound?.add(chunk.length)
  }

  readonly #onMessage = (evt: StreamMessageEvent): void => {
    if (this.#discarding || this.#error != null) return
    const data = evt.data
    if (data instanceof Uint8Array) {
      this.#push(plain(data))
    } else {
      for (const buf of data) this.#push(plain(buf))
    }
    // Not from inside `resume()`: it dispatches the buffered data first and then re-opens the muxer's window
    // (libp2p 3.3's abstract stream), so a pause taken there would leave the window open; #resume checks after.
    if (!this.#resuming) this.#pauseIfFull()
  }

  #resuming = false

  #pauseIfFull (): void {
    if (!this.#paused && this.#queuedBytes > 0 && (this.#queuedBytes > this.#highWaterMarkBytes || this.#inbound?.blocked === true) && this.#stream.readStatus === 'readable') {
      this.#paused = true
      this.#stream.pause()
    }
  }

  readonly #onRemoteCloseWrite = (): void => {
    // a muxer may flag the end before handing over the frame's data: look once that ran
    queueMicrotask(this.#wakeAtEof)
  }

  readonly #wakeAtEof = (): void => {
    if (this.#reader == null || this.#error != null || !this.#atEof()) return
    const reader = this.#reader
    this.#reader = null
    reader.resolve(null)
  }

  readonly #onDrain = (): void => {
    const drain = this.#drain
    this.#drain = null
    drain?.resolve()
  }

  readonly #onClose = (evt: StreamCloseEvent): void => {
    if (evt.error != null) {
      this.#fail(closedError(`stream reset: ${evt.error.message}`, evt.error))
      return
    }
    const drain = this.#drain
    this.#drain = null
    if (drain != null) {
      drain.promise.catch(() => {})
      drain.reject(closedError('stream closed while a write waited'))
    }
    queueMicrotask(this.#wakeAtEof)
  }

  #resume (): void {
    this.#paused = false
    if (this.#stream.readStatus !== 'paused') return
    this.#resuming = true
    try {
      this.#stream.resume()
    } finally {
      this.#resuming = false
    }
    if (this.#error == null) this.#pauseIfFull()
  }

  #fail (err: Error): void {
    if (this.#error != null) return
    this.#error = err
    this.#inbound?.add(-this.#queuedBytes)
    this.#chunks = []
    this.#head = 0
    this.#queuedBytes = 0
    const reader = this.#reader
    this.#reader = null
    reader?.reject(err)
    const drain = this.#drain
    this.#drain = null
    if (drain != null) {
      drain.promise.catch(() => {})
      drain.reject(err)
    }
    this.#reset.abort(err)
  }
}

const EMPTY = new Uint8Array(0)

/**
 * A libp2p stream as a wRPC `Transport`: `read` yields received chunks (plain Uint8Array views, no
 * copies) and null once the peer closed its write side; `write` returns a promise only when the
 * muxer asks to wait; `closeWrite` half-closes; `abort` resets; `signal` aborts on a reset from
 * either side. The stream must not be read by anyone else.
 */
export function streamTransport (stream: Stream, opts: StreamTransportOptions = {}): StreamTransport {
  return new MessageStreamTransport(stream, opts)
}
