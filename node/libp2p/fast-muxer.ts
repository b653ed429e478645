// A stream muxer wrapper (yamux here) that coalesces its frames into one write per event-loop turn and negotiates chosen protocols optimistically (multistream-select "lazy": no round trip).

import { UnsupportedProtocolError } from '@libp2p/interface'
import type { AbortOptions, MessageStream, Stream, StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'
import type { CreateStreamOptions } from '@libp2p/interface'
import { createStreamErrors } from './stream-errors.ts'
import type { StreamErrors } from './stream-errors.ts'

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
  /** Where a stream given up while being negotiated is counted (the node's `stats().streamErrors`); default a counter of this factory's own. */
  readonly errors?: StreamErrors
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

/** Per protocol: the header and the proposal as one buffer, which is also what a listener that accepts answers. */
const proposals = new Map<string, Uint8Array>()
function proposalOf (protocol: string): Uint8Array {
  let bytes = proposals.get(protocol)
  if (bytes === undefined) {
    const parts = [lp(MULTISTREAM), lp(`${protocol}\n`)]
    bytes = concat(parts, parts[0].length + parts[1].length)
    proposals.set(protocol, bytes)
  }
  return bytes
}

function startsWith (bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false
  return true
}

function bytesOf (chunk: Chunk): Uint8Array {
  return chunk instanceof Uint8Array ? chunk : chunk.subarray()
}

/**
 * The first `count` multistream-select messages at the front of `bytes` (each a varint length of
 * at most 2 bytes, as a protocol id needs, then the text), and where what follows them starts.
 */
function takeMessages (bytes: Uint8Array, count: number): { texts: string[], at: number } | 'incomplete' | 'malformed' {
  const texts: string[] = []
  let at = 0
  while (texts.length < count) {
    let len = 0
    let shift = 0
    let p = at
    let complete = false
    while (p < bytes.length && p - at < 2) {
      const b = bytes[p++]
      len |= (b & 0x7f) << shift
      shift += 7
      if ((b & 0x80) === 0) { complete = true; break }
    }
    // a third length byte would let a peer make us hold megabytes waiting for the "message"
    if (!complete) return p - at >= 2 ? 'malformed' : 'incomplete'
    if (p + len > bytes.length) return 'incomplete'
    texts.push(utf8Decoder.decode(bytes.subarray(p, p + len)))
    at = p + len
  }
  return { texts, at }
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
function negotiateOptimistically (stream: DataStream, protocol: string, errors: StreamErrors): void {
  const expected = [MULTISTREAM, `${protocol}\n`]
  const request = proposalOf(protocol)
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
    // nobody awaits the held FIN any more (close() resolved long ago): a failure is counted here
    sendCloseWrite(options).catch((err: unknown) => { errors.count('negotiation-failed', err) })
  }

  const deliver = stream.onData.bind(stream)
  let pending: Uint8Array = new Uint8Array(0)
  const answer = (data: Chunk): void => {
    let bytes = bytesOf(data)
    if (pending.length > 0) bytes = concat([pending, bytes], pending.length + bytes.length)
    // An accepting listener echoes the proposal byte for byte.
    if (startsWith(bytes, request)) {
      pending = new Uint8Array(0)
      stream.onData = deliver
      onAnswered()
      if (request.length < bytes.length) deliver(bytes.subarray(request.length))
      return
    }
    const answers = takeMessages(bytes, expected.length)
    if (answers === 'incomplete') {
      pending = bytes
      return
    }
    if (answers === 'malformed') {
      stream.abort(new UnsupportedProtocolError(`multistream-select answer for ${protocol} is malformed`))
      return
    }
    const wrong = answers.texts.find((text, i) => text !== expected[i])
    if (wrong !== undefined) {
      stream.abort(new UnsupportedProtocolError(`the peer does not speak ${protocol} (answered ${JSON.stringify(wrong.trimEnd())})`))
      return
    }
    pending = new Uint8Array(0)
    stream.onData = deliver
    onAnswered()
    if (answers.at < bytes.length) deliver(bytes.subarray(answers.at))
  }
  // The muxer calls this inside its frame loop, where a throw aborts the whole connection: a
  // failure here costs this stream only.
  stream.onData = (data: Chunk): void => {
    try {
      answer(data)
    } catch (err) {
      errors.count('negotiation-failed', err)
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }
}

/**
 * The listener's half, for an inbound stream whose first bytes (arriving with the frame that
 * opened it, as a lazy dialer and js-libp2p's `mss.select` both send them) are the header and a
 * proposal of a protocol in `fast` that this node handles: the two answers go out at once, the
 * negotiation bytes are taken off the stream's buffer, and the stream reaches libp2p with
 * `protocol` set, which skips libp2p's own `mss.handle` (a length-prefixed reader, several promises
 * and an `unshift` per stream). Anything else (a partial first chunk, another protocol, `ls`, no
 * data yet) reaches libp2p untouched. The bytes stay in the stream's own buffer throughout, so a
 * FIN that came with them cannot drop them.
 */
function answerEagerly (stream: Stream, fast: ReadonlySet<string>, handled: (protocol: string) => boolean, dispatch: () => void, errors: StreamErrors): void {
  // yamux handles every frame of a chunk in one synchronous loop: the data that came with the
  // opening frame is in the buffer by the time this runs. So is a reset that came with it (a
  // caller that gave up while this node was stalled sends both, and they arrive together when
  // it resumes), and so is a close of the whole muxer (this node stopping): nothing of the stream
  // may be assumed to be as it was when it opened.
  queueMicrotask(() => {
    if (stream.status !== 'open' || stream.writeStatus !== 'writable') {
      // Nobody to answer: the stream never reaches libp2p (its handler would only fail on it).
      errors.count('reset-before-answer', new Error(`inbound stream ${stream.id} was ${stream.status === 'open' ? `${stream.writeStatus} for writing` : stream.status} before it was answered`))
      stream.abort(new Error('stream closed before it was answered'))
      return
    }
    try {
      const buffer = (stream as { readBuffer?: BufferedBytes }).readBuffer
      if (buffer !== undefined && buffer.byteLength > 0) {
        const first = buffer.subarray(0, Math.min(buffer.byteLength, MAX_PROPOSAL_BYTES))
        for (const protocol of fast) {
          const proposal = proposalOf(protocol)
          if (!startsWith(first, proposal) || !handled(protocol)) continue
          // The answer to a header and a proposal accepted is the same two lines.
          stream.send(proposal)
          buffer.consume(proposal.length)
          stream.protocol = protocol
          break
        }
      }
    } catch (err) {
      errors.count('answer-failed', err)
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      return
    }
    dispatchSafely(dispatch, stream, errors)
  })
}

/** Hands a stream to libp2p's listener; a throw there would otherwise escape from a microtask and end the process. */
function dispatchSafely (dispatch: () => void, stream: Stream, errors: StreamErrors): void {
  try {
    dispatch()
  } catch (err) {
    errors.count('handler-failed', err)
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}

/** What `AbstractMessageStream.readBuffer` (a Uint8ArrayList) offers that this needs. */
interface BufferedBytes {
  readonly byteLength: number
  subarray (start: number, end: number): Uint8Array
  consume (bytes: number): void
}

/** The header and one proposal: two varint-prefixed lines of at most 1 KiB (multistream-select's own limit). */
const MAX_PROPOSAL_BYTES = 2 * (2 + 1024)

/**
 * Wraps a muxer factory (js-libp2p's yamux) with frame coalescing and optimistic negotiation of
 * `opts.optimistic` protocols. libp2p's `Connection.newStream` passes the single protocol it dials
 * as `createStream({ protocol })` and skips its own multistream-select round trip when the muxer
 * returns the stream with `protocol` already set: the documented hook for muxers that negotiate
 * early. Inbound streams proposing one of those protocols are answered the same way (`answerEagerly`);
 * the rest go through libp2p's multistream-select as always.
 */
export function fastMuxer<C> (inner: (components: C) => StreamMuxerFactory, opts: FastMuxerOptions = {}): (components: C) => StreamMuxerFactory {
  const optimistic = new Set(opts.optimistic ?? [])
  const belowBytes = opts.coalesceBelowBytes ?? defaultCoalesceBelowBytes
  const group = opts.group ?? createFlushGroup()
  const errors = opts.errors ?? createStreamErrors()
  return (components) => {
    const factory = inner(components)
    return {
      protocol: factory.protocol,
      createStreamMuxer (maConn: MessageStream): StreamMuxer {
        const muxer = factory.createStreamMuxer(maConn) as SendingMuxer
        if (belowBytes > 0 && typeof muxer.send === 'function') coalesce(muxer, maConn, belowBytes, group)
        if (optimistic.size > 0) {
          const registrar = (components as { registrar?: { getHandler: (protocol: string) => unknown } }).registrar
          const handled = (protocol: string): boolean => {
            try {
              registrar?.getHandler(protocol)
              return registrar !== undefined
            } catch {
              return false
            }
          }
          // libp2p's Connection listens to 'stream' for inbound streams: each reaches it after answerEagerly.
          const wrappers = new WeakMap<object, EventListener>()
          const addEventListener = muxer.addEventListener.bind(muxer) as (type: string, listener: EventListener | EventListenerObject | null, options?: unknown) => void
          const removeEventListener = muxer.removeEventListener.bind(muxer) as (type: string, listener: EventListener | EventListenerObject | null, options?: unknown) => void
          muxer.addEventListener = ((type: string, listener: EventListener | EventListenerObject | null, options?: unknown) => {
            if (type !== 'stream' || typeof listener !== 'function') { addEventListener(type, listener, options); return }
            const wrapped: EventListener = (evt) => {
              const stream = (evt as CustomEvent<Stream>).detail
              if (stream.protocol !== '') { dispatchSafely(() => { listener(evt) }, stream, errors); return }
              answerEagerly(stream, optimistic, handled, () => { listener(evt) }, errors)
            }
            wrappers.set(listener, wrapped)
            addEventListener(type, wrapped, options)
          }) as typeof muxer.addEventListener
          muxer.removeEventListener = ((type: string, listener: EventListener | EventListenerObject | null, options?: unknown) => {
            removeEventListener(type, (typeof listener === 'function' ? wrappers.get(listener) : undefined) ?? listener, options)
          }) as typeof muxer.removeEventListener
          const createStream = muxer.createStream.bind(muxer)
          muxer.createStream = async (options?: CreateStreamOptions): Promise<Stream> => {
            const stream = await createStream(options)
            const protocol = options?.protocol
            if (protocol !== undefined && optimistic.has(protocol) && stream.protocol === '' && typeof (stream as Partial<DataStream>).onData === 'function') {
              try {
                negotiateOptimistically(stream as DataStream, protocol, errors)
              } catch (err) {
                // the muxer closed under the new stream (this node stopping): the dial fails, and
                // the stream, which libp2p never got to see, does not stay behind
                stream.abort(err instanceof Error ? err : new Error(String(err)))
                throw err
              }
            }
            return stream
          }
        }
        return muxer
      }
    }
  }
}
