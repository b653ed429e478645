// A stream muxer wrapper (yamux here) that coalesces its frames into one write per event-loop turn and negotiates chosen protocols optimistically (multistream-select "lazy": no round trip).

import { UnsupportedProtocolError } from '@libp2p/interface'
import type { AbortOptions, MessageStream, Stream, StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'
import type { CreateStreamOptions } from '@libp2p/interface'

/** What `MessageStream.send` takes: a Uint8Array or a Uint8ArrayList (typed without importing uint8arraylist). */
type Chunk = Parameters<MessageStream['send']>[0]

/** The muxer methods the wrapper relies on: js-libp2p's `AbstractStreamMuxer` sends every frame through `send`. */
interface SendingMuxer extends StreamMuxer {
  send(data: Chunk): boolean
  readonly maConn?: MessageStream
}

/** Stream internals the optimistic negotiation hooks: `AbstractMessageStream.onData` is where a muxer hands over received bytes. */
interface DataStream extends Stream {
  onData(data: Chunk): void
  sendCloseWrite(options?: AbortOptions): Promise<void>
}

export interface FastMuxerOptions {
  /**
   * Protocols negotiated optimistically: the dialer sends the multistream-select header and the
   * protocol together with its first data and does not wait for the answer (multistream-select 1.0
   * as go-libp2p's and rust-libp2p's lazy dialers do it; any listener accepts it). The answer is
   * checked when it arrives: a listener that refuses the protocol ("na") makes the stream abort
   * with `UnsupportedProtocolError` before any of its data is delivered. Only protocols whose
   * failure to negotiate can surface on the stream (not from `dialProtocol`) belong here.
   */
  readonly optimistic?: readonly string[]
  /**
   * Frames of at most this many bytes are held until the end of the event-loop turn and written
   * as one message (one noise message, one socket write); a larger frame flushes what is held and
   * goes out as it is. 0 turns coalescing off. Default 16 KiB.
   */
  readonly coalesceBelowBytes?: number
  /** Shared with the node's stop (see `FlushGroup`); default a group of this factory's own. */
  readonly group?: FlushGroup
}

const defaultCoalesceBelowBytes = 16 * 1024

/**
 * The coalescing muxers of one libp2p node. `stop()` sends what they hold and makes them send at
 * once from then on: libp2p's stop destroys the TCP listener's sockets directly, so bytes still
 * held for the end of the turn (say, the answer to a call that finished while the node drains)
 * would be lost, where stock libp2p had already handed them to the socket.
 */
export interface FlushGroup {
  stopping: boolean
  readonly members: Set<() => boolean>
  stop(): void
}

export function createFlushGroup (): FlushGroup {
  const group: FlushGroup = {
    stopping: false,
    members: new Set(),
    stop () {
      group.stopping = true
      for (const flush of group.members) flush()
    }
  }
  return group
}
const MULTISTREAM = '/multistream/1.0.0\n'
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

/** One multistream-select message: unsigned varint length, then the bytes (each ends in a newline). */
function lp (text: string): Uint8Array {
  const body = utf8.encode(text)
  const head: number[] = []
  let n = body.length
  while (n >= 0x80) { head.push((n & 0x7f) | 0x80); n >>>= 7 }
  head.push(n)
  const out = new Uint8Array(head.length + body.length)
  out.set(head, 0)
  out.set(body, head.length)
  return out
}

function concat (parts: readonly Chunk[], total: number): Uint8Array {
  const out = Buffer.allocUnsafe(total)
  let o = 0
  for (const p of parts) {
    if (p instanceof Uint8Array) {
      out.set(p, o)
      o += p.byteLength
    } else {
      for (const b of p) { out.set(b, o); o += b.byteLength }
    }
  }
  return out
}

function bytesOf (chunk: Chunk): Uint8Array {
  return chunk instanceof Uint8Array ? chunk : chunk.subarray()
}

/**
 * Batches a muxer's frames: each `send` in one event-loop turn joins a batch written as one chunk
 * at `setImmediate` (after the I/O callbacks of the turn, so the answers to everything one socket
 * read brought in leave together). Backpressure stays exact: a send reports false whenever the
 * connection below needs to drain, and a flush happens before close and abort.
 */
function coalesce (muxer: SendingMuxer, maConn: MessageStream, belowBytes: number, group: FlushGroup): void {
  const send = muxer.send.bind(muxer)
  let held: Chunk[] = []
  let heldBytes = 0
  let scheduled: ReturnType<typeof setImmediate> | undefined

  const flush = (): boolean => {
    if (scheduled !== undefined) {
      clearImmediate(scheduled)
      scheduled = undefined
    }
    if (held.length === 0) return true
    const parts = held
    const total = heldBytes
    held = []
    heldBytes = 0
    try {
      return send(parts.length === 1 ? parts[0] : concat(parts, total))
    } catch {
      // the connection closed under us: its close/abort handling reports that to every stream
      return false
    }
  }
  const flushLater = (): void => {
    scheduled = undefined
    flush()
  }

  muxer.send = (data: Chunk): boolean => {
    if (data.byteLength > belowBytes) {
      flush()
      return send(data)
    }
    held.push(data)
    heldBytes += data.byteLength
    if (heldBytes > belowBytes) return flush()
    if (group.stopping) return flush()
    scheduled ??= setImmediate(flushLater)
    return muxer.maConn?.writableNeedsDrain !== true
  }

  group.members.add(flush)
  maConn.addEventListener('close', () => { group.members.delete(flush) }, { once: true })

  const close = muxer.close.bind(muxer)
  muxer.close = async (options) => {
    try {
      await close(options)
    } finally {
      flush()
    }
  }
  const abort = muxer.abort.bind(muxer)
  muxer.abort = (err: Error) => {
    abort(err)
    flush()
  }
}

/**
 * The dialer's half of an optimistic negotiation: the header and protocol are queued as the
 * stream's first bytes (they leave with the caller's first data), and the listener's two answers
 * are taken off the front of what arrives before anything reaches the stream's readers.
 *
 * The dialer's close of its write side (yamux FIN) is held back until the answers arrived (the
 * close itself resolves at once): js-libp2p's listener (`mss.handle` in libp2p 3.3) hands the
 * bytes that followed the protocol back to the stream with `unshift`, which throws once the
 * stream's readable end closed, and a FIN that arrives while negotiation still runs (always the
 * case for a stream opened on a connection the listener is still upgrading) closes it. Data
 * leaves at once, so a call's latency is unchanged: the listener answers a call as soon as its
 * parameters arrived, and the FIN follows one round trip later.
 */
function negotiateOptimistically (stream: DataStream, protocol: string): void {
  const expected = [MULTISTREAM, `${protocol}\n`]
  const parts = expected.map(lp)
  const request = concat(parts, parts[0].length + parts[1].length)
  stream.protocol = protocol
  stream.send(request)

  let negotiated = false
  let finHeld: AbortOptions | undefined | null = null
  const sendCloseWrite = stream.sendCloseWrite.bind(stream)
  stream.sendCloseWrite = async (options?: AbortOptions): Promise<void> => {
    if (negotiated) {
      await sendCloseWrite(options)
      return
    }
    finHeld = options
  }
  const onAnswered = (): void => {
    negotiated = true
    if (finHeld === null || stream.status !== 'open') return
    const options = finHeld
    finHeld = null
    sendCloseWrite(options).catch(() => {})
  }

  const deliver = stream.onData.bind(stream)
  let pending: Uint8Array = new Uint8Array(0)
  let answered = 0
  stream.onData = (data: Chunk): void => {
    let bytes = bytesOf(data)
    if (pending.length > 0) bytes = concat([pending, bytes], pending.length + bytes.length)
    let at = 0
    while (answered < expected.length) {
      // each answer: varint length (at most 2 bytes for a protocol id), then the text
      let len = 0
      let shift = 0
      let p = at
      let complete = false
      while (p < bytes.length && p - at < 3) {
        const b = bytes[p++]
        len |= (b & 0x7f) << shift
        shift += 7
        if ((b & 0x80) === 0) { complete = true; break }
      }
      if (!complete || p + len > bytes.length) {
        if (p - at >= 3 && !complete) {
          stream.abort(new UnsupportedProtocolError(`multistream-select answer for ${protocol} is malformed`))
          return
        }
        pending = bytes.subarray(at)
        return
      }
      const text = utf8Decoder.decode(bytes.subarray(p, p + len))
      if (text !== expected[answered]) {
        stream.abort(new UnsupportedProtocolError(`the peer does not speak ${protocol} (answered ${JSON.stringify(text.trimEnd())})`))
        return
      }
      answered++
      at = p + len
    }
    pending = new Uint8Array(0)
    stream.onData = deliver
    onAnswered()
    if (at < bytes.length) deliver(bytes.subarray(at))
  }
}

/**
 * Wraps a muxer factory (js-libp2p's yamux) with frame coalescing and optimistic negotiation of
 * `opts.optimistic` protocols. libp2p's `Connection.newStream` passes the single protocol it dials
 * as `createStream({ protocol })` and skips its own multistream-select round trip when the muxer
 * returns the stream with `protocol` already set: the documented hook for muxers that negotiate
 * early. Inbound streams are untouched (libp2p answers multistream-select for them as always).
 */
export function fastMuxer<C> (inner: (components: C) => StreamMuxerFactory, opts: FastMuxerOptions = {}): (components: C) => StreamMuxerFactory {
  const optimistic = new Set(opts.optimistic ?? [])
  const belowBytes = opts.coalesceBelowBytes ?? defaultCoalesceBelowBytes
  const group = opts.group ?? createFlushGroup()
  return (components) => {
    const factory = inner(components)
    return {
      protocol: factory.protocol,
      createStreamMuxer (maConn: MessageStream): StreamMuxer {
        const muxer = factory.createStreamMuxer(maConn) as SendingMuxer
        if (belowBytes > 0 && typeof muxer.send === 'function') coalesce(muxer, maConn, belowBytes, group)
        if (optimistic.size > 0) {
          const createStream = muxer.createStream.bind(muxer)
          muxer.createStream = async (options?: CreateStreamOptions): Promise<Stream> => {
            const stream = await createStream(options)
            const protocol = options?.protocol
            if (protocol !== undefined && optimistic.has(protocol) && stream.protocol === '' && typeof (stream as Partial<DataStream>).onData === 'function') {
              negotiateOptimistically(stream as DataStream, protocol)
            }
            return stream
          }
        }
        return muxer
      }
    }
  }
}
