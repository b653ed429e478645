// wRPC invocation sessions over a Transport: `invoke` (caller) and `serve` (one invocation), with async values on sub-paths.

import type { InboundAccount } from './budget.ts'
import { ProtocolError } from './errors.ts'
import type { ProtocolErrorCode } from './errors.ts'
import { defaultSessionLimits } from './limits.ts'
import type { SessionLimits, ValueLimits } from './limits.ts'
import { FrameDecoder, encodeFrame, encodeHeader, encodeErrorFrame, isErrorPath, frameSize, rootFrameChunks, rootHeadroom } from './frame.ts'
import type { FrameItem, Header } from './frame.ts'
import type { Transport } from './transport.ts'
import { encodeValueChunks, encodeValues, decodeValuesPrefix, ValueReader } from './value.ts'
import type { DecodeOptions, EncodeOptions } from './value.ts'
import type { FutureType, StreamType, Type } from './wit/model.ts'

/**
 * Byte lists of a root value from this size on are handed to the transport as chunks of their own,
 * not copied into the frame: a 1 MiB `list<u8>` costs one allocation and copy less on each side. The
 * caller's array is then read when the transport sends it, so it must stay unchanged until the call
 * settles (as with `socket.write`).
 */
export const SPLICE_BYTES_FROM = 64 * 1024

/** How a root value (params or results) is encoded: room for the frame head, large byte lists spliced. */
function rootEncoding (session: Session, outbound: Outbound[], header?: Uint8Array): EncodeOptions {
  return { limits: session.valueLimits, onAsync: collectOutbound(outbound), headroomBytes: rootHeadroom(header), spliceBytesFrom: SPLICE_BYTES_FROM }
}

/** Context handed to a served function. */
export interface CallContext {
  readonly instance: string
  readonly name: string
  /** Aborted when the invocation fails (caller gone, idle timeout, protocol error). */
  readonly signal: AbortSignal
}

export interface ServedFunction {
  readonly params: readonly Type[]
  readonly results: readonly Type[]
  /** Throw an error with a string `code` to answer with that code; any other throw answers `internal`. */
  call(params: unknown[], ctx: CallContext): Promise<unknown[]> | unknown[]
}

export interface Handlers {
  /** The function for a header; `undefined` answers `no-such-function`, a throw with a string `code` answers that code (e.g. `overloaded`). */
  lookup(instance: string, name: string): ServedFunction | undefined | Promise<ServedFunction | undefined>
}

export interface SessionOptions {
  readonly limits?: Partial<SessionLimits>
  /** Aborts the session and its transport. */
  readonly signal?: AbortSignal
  /** Overrides `limits.idleTimeoutMs`; 0 or Infinity disables the idle and progress timeouts. */
  readonly idleTimeoutMs?: number
  /**
   * Where the bytes this session holds of unfinished values are charged (the node's per-peer and
   * per-node budget). While it is `blocked` the session stops reading, so the transport's
   * back-pressure slows the peer; it is closed when the session ends.
   */
  readonly inbound?: InboundAccount
}

export interface InvokeOptions extends SessionOptions {}

export interface ServeOptions extends SessionOptions {
  /** Told about every failed invocation (a peer's bad input, a handler's throw); for logging. */
  readonly onError?: (err: Error) => void
}

/** An error the peer reported in an error frame (`no-such-function`, `invalid-params`, `overloaded`, `trap`, `timeout`, ...). */
export class RemoteError extends Error {
  override readonly name: string = 'RemoteError'
  /** The code string the peer sent. */
  readonly code: string
  /** Whether any result byte had arrived before the failure; a router retries only when false. */
  readonly resultStarted: boolean

  constructor (code: string, message: string, resultStarted = false) {
    super(message)
    this.code = code
    this.resultStarted = resultStarted
  }
}

/** A local or protocol-level failure of an invocation (idle timeout, bad frames, reset, abort, undecodable results). */
export class SessionError extends ProtocolError {
  override readonly name: string = 'SessionError'
  /** Whether any result byte had arrived before the failure; a router retries only when false. */
  readonly resultStarted: boolean

  constructor (code: ProtocolErrorCode, message: string, resultStarted = false, cause?: unknown) {
    super(code, message)
    this.resultStarted = resultStarted
    if (cause !== undefined) this.cause = cause
  }
}

/** Every rejection of `invoke` says whether result bytes had started to arrive. */
export type InvokeError = RemoteError | SessionError

type Role = 'client' | 'server'

const EMPTY = new Uint8Array(0)
const END_OF_STREAM = Uint8Array.of(0)
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })
const noop = (): void => {}

/** Errors from decoding a value (as opposed to framing): the server answers them with `invalid-params`. */
const valueErrors = new WeakSet<object>()

function markValueError (err: unknown): unknown {
  if (err != null && typeof err === 'object') valueErrors.add(err)
  return err
}

function keyOf (path: readonly number[]): string {
  return path.join('.')
}

function pathText (role: Role, path: readonly number[]): string {
  const base = role === 'server' ? 'params' : 'results'
  return path.length === 0 ? base : `${base}${path.map(p => `[${p}]`).join('')}`
}

function errorCode (err: unknown): string | undefined {
  if (err == null || typeof err !== 'object') return undefined
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && code !== '' ? code : undefined
}

function errorMessage (err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}

function concatBytes (parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]
  const out = new Uint8Array(total)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

const asyncCache = new WeakMap<object, boolean>()

/** Whether a value of this type can hold a future or stream (and so own sub-paths). */
function hasAsync (type: Type): boolean {
  const cached = asyncCache.get(type)
  if (cached !== undefined) return cached
  let found: boolean
  switch (type.kind) {
    case 'future': case 'stream': found = true; break
    case 'list': found = hasAsync(type.element); break
    case 'option': found = hasAsync(type.some); break
    case 'result': found = (type.ok != null && hasAsync(type.ok)) || (type.err != null && hasAsync(type.err)); break
    case 'tuple': found = type.elements.some(hasAsync); break
    case 'record': found = type.fields.some(f => hasAsync(f.type)); break
    case 'variant': found = type.cases.some(c => c.type != null && hasAsync(c.type)); break
    default: found = false
  }
  asyncCache.set(type, found)
  return found
}

function lengthOf (chunk: unknown): number {
  const n = chunk != null && typeof chunk === 'object' ? (chunk as { length?: unknown }).length : undefined
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new ProtocolError('value-type', 'a stream chunk must be an array or typed array')
  }
  return n
}

/**
 * Fails a session that waits on its peer and gets too little in one interval of `ms`: nothing at
 * all (idle), or, while it held part of an unfinished value all through the interval, fewer than
 * `minBytes` (slow: a byte now and then must not keep a value's memory alive; the session tells the
 * two apart). Cheap per chunk: the reader adds to `bytes`.
 */
class ProgressWatch {
  readonly #ms: number
  readonly #minBytes: number
  readonly #holding: () => boolean
  readonly #onStall: (received: number, holding: boolean) => void
  #timer: ReturnType<typeof setTimeout> | undefined
  #active = false
  #heldAtStart = false
  #moved = false
  /** Bytes received in the current interval. */
  bytes = 0

  constructor (ms: number, minBytes: number, holding: () => boolean, onStall: (received: number, holding: boolean) => void) {
    this.#ms = Number.isFinite(ms) && ms > 0 ? ms : 0
    this.#minBytes = Math.max(1, minBytes)
    this.#holding = holding
    this.#onStall = onStall
  }

  set (active: boolean): void {
    if (this.#ms === 0 || active === this.#active) return
    this.#active = active
    if (active) {
      this.#restart()
      if (this.#timer === undefined) this.#timer = setTimeout(this.#check, this.#ms)
    } else if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
  }

  /** Something other than received bytes moved (the peer accepted a write). */
  moved (): void {
    this.#moved = true
  }

  #restart (): void {
    this.bytes = 0
    this.#moved = false
    this.#heldAtStart = this.#holding()
  }

  readonly #check = (): void => {
    this.#timer = undefined
    if (!this.#active) return
    const holding = this.#heldAtStart && this.#holding()
    if (holding ? this.bytes < this.#minBytes : this.bytes === 0 && !this.#moved) {
      this.#active = false
      this.#onStall(this.bytes, holding)
      return
    }
    this.#restart()
    this.#timer = setTimeout(this.#check, this.#ms)
  }
}

/** A small view of a large buffer, copied, so that keeping it does not keep the rest alive. */
function ownBytes (view: Uint8Array): Uint8Array {
  return view.byteLength * 2 < view.buffer.byteLength ? new Uint8Array(view) : view
}

/** The JS side of a pending stream: an async iterable of chunks fed by the session. */
class Channel implements AsyncIterable<unknown> {
  readonly #queue: Array<{ chunk: unknown, bytes: number }> = []
  #queuedBytes = 0
  /** Waiting for the reader to take chunks (the session's read loop, paused by a full stream). */
  #drain: PromiseWithResolvers<void> | null = null
  #drainBelow = 0

  /** Resolves once fewer than `bytes` are queued, or the channel is over. */
  drained (bytes: number): Promise<void> {
    if (this.#queuedBytes < bytes || this.#cancelled || this.#error != null) return Promise.resolve()
    this.#drainBelow = bytes
    this.#drain ??= Promise.withResolvers()
    return this.#drain.promise
  }

  #wakeDrain (): void {
    const d = this.#drain
    this.#drain = null
    d?.resolve()
  }
  #ended = false
  #error: Error | null = null
  #cancelled = false
  #waiter: PromiseWithResolvers<IteratorResult<unknown>> | null = null

  get queuedBytes (): number {
    return this.#queuedBytes
  }

  push (chunk: unknown, bytes: number): void {
    if (this.#cancelled || this.#ended || this.#error != null) return
    const waiter = this.#waiter
    if (waiter != null) {
      this.#waiter = null
      waiter.resolve({ done: false, value: chunk })
      return
    }
    this.#queue.push({ chunk, bytes })
    this.#queuedBytes += bytes
  }

  end (): void {
    if (this.#ended || this.#error != null) return
    this.#ended = true
    const waiter = this.#waiter
    this.#waiter = null
    waiter?.resolve({ done: true, value: undefined })
  }

  fail (err: Error): void {
    this.#wakeDrain()
    if (this.#ended || this.#error != null) return
    this.#error = err
    const waiter = this.#waiter
    this.#waiter = null
    waiter?.reject(err)
  }

  [Symbol.asyncIterator] (): AsyncIterator<unknown> {
    return {
      next: () => {
        const item = this.#queue.shift()
        if (item != null) {
          this.#queuedBytes -= item.bytes
          if (this.#drain != null && this.#queuedBytes < this.#drainBelow) this.#wakeDrain()
          return Promise.resolve({ done: false, value: item.chunk })
        }
        if (this.#error != null) return Promise.reject(this.#error)
        if (this.#ended || this.#cancelled) return Promise.resolve({ done: true, value: undefined })
        this.#waiter ??= Promise.withResolvers()
        return this.#waiter.promise
      },
      return: () => {
        // the peer cannot be told to stop: what it still sends is dropped
        this.#cancelled = true
        this.#queue.length = 0
        this.#queuedBytes = 0
        this.#wakeDrain()
        return Promise.resolve({ done: true, value: undefined })
      }
    }
  }
}

/** Collects the bytes of one path and decodes values from them as they complete. */
abstract class Receiver {
  readonly path: readonly number[]
  readonly key: string
  #parts: Uint8Array[] = []
  #total = 0
  /** Least buffered length worth another decode attempt (from the codec's `needBytes`). */
  #need = 0

  constructor (path: readonly number[]) {
    this.path = path
    this.key = keyOf(path)
  }

  get bufferedBytes (): number {
    return this.#total
  }

  /** Whether zero bytes can be a complete value here (zero results, a unit future). */
  abstract readonly empty: boolean
  /** The type that a frame on `path` (below this one) would be nested in, if any. */
  abstract typeAbove (path: readonly number[]): Type | undefined
  /** Decodes one step from `bytes`; throws `truncated` when they are not enough. */
  abstract decode (bytes: Uint8Array, opts: DecodeOptions): { values: unknown[], end: number }
  /** Takes decoded values; returns true when this receiver is complete. */
  abstract accept (values: unknown[], consumed: number): boolean
  abstract fail (err: Error): void

  /** Whether a frame on `path` (below this one) may belong to a nested async value not decoded yet. */
  mayOwn (path: readonly number[]): boolean {
    const type = this.typeAbove(path)
    return type != null && hasAsync(type)
  }

  /** Drops what was buffered (the session failed). */
  release (): void {
    this.#parts = []
    this.#total = 0
  }

  /** Feeds a frame's data; decodes what completes; returns leftover bytes once complete, else null. */
  feed (session: Session, data: Uint8Array): Uint8Array | null {
    if (data.length > 0) {
      this.#parts.push(data)
      this.#total += data.length
      session.receiverBytes += data.length
    }
    if (this.#total > session.valueLimits.maxValueBytes) {
      throw new ProtocolError('limit-exceeded', `more than maxValueBytes (${session.valueLimits.maxValueBytes}) buffered`, pathText(session.role, this.path))
    }
    while (true) {
      if (this.#total < this.#need || (this.#total === 0 && !this.empty)) {
        // kept until more arrives: a small view must not pin the large chunk it sits in
        const last = this.#parts.length - 1
        if (last >= 0) this.#parts[last] = ownBytes(this.#parts[last])
        return null
      }
      const bytes = concatBytes(this.#parts, this.#total)
      let staged: Receiver[] = []
      let decoded: { values: unknown[], end: number }
      try {
        decoded = this.decode(bytes, {
          limits: session.valueLimits,
          // large byte lists stay views of what arrived (no copy); small ones are copied, so they do not pin a large chunk
          copy: 'auto',
          root: pathText(session.role, this.path),
          onPending: (index, type) => {
            const r = type.kind === 'future' ? new FutureReceiver(index, type) : new StreamReceiver(index, type)
            staged.push(r)
            return r.jsValue
          }
        })
      } catch (err) {
        // what the failed attempt announced is announced again by the next one
        staged = []
        if (err instanceof ProtocolError && err.code === 'truncated') {
          this.#parts = bytes.length > 0 ? [ownBytes(bytes)] : []
          this.#need = err.needBytes ?? this.#total + 1
          return null
        }
        throw markValueError(err)
      }
      const rest = bytes.subarray(decoded.end)
      this.#parts = rest.length > 0 ? [rest] : []
      session.receiverBytes += rest.length - this.#total
      this.#total = rest.length
      this.#need = 0
      const complete = this.accept(decoded.values, decoded.end)
      session.adopt(staged)
      if (complete) return rest
      if (rest.length === 0) return null
    }
  }
}

/** Params (server) or results (client) on path `[]`; the codec's index paths are wire paths. */
class RootReceiver extends Receiver {
  readonly types: readonly Type[]
  readonly empty: boolean
  readonly #onValues: (values: unknown[]) => void

  constructor (types: readonly Type[], onValues: (values: unknown[]) => void) {
    super([])
    this.types = types
    this.empty = types.length === 0
    this.#onValues = onValues
  }

  typeAbove (path: readonly number[]): Type | undefined {
    return this.types[path[0]]
  }

  decode (bytes: Uint8Array, opts: DecodeOptions): { values: unknown[], end: number } {
    return decodeValuesPrefix(this.types, bytes, 0, opts)
  }

  accept (values: unknown[]): boolean {
    this.#onValues(values)
    return true
  }

  fail (): void {}
}

/** A pending future: its value `T` arrives on its own path. */
class FutureReceiver extends Receiver {
  readonly type: FutureType
  readonly empty: boolean
  readonly #resolvers = Promise.withResolvers<unknown>()
  readonly jsValue: Promise<unknown>

  constructor (path: readonly number[], type: FutureType) {
    super(path)
    this.type = type
    // a unit future carries no bytes: any frame on its path (wasmesh sends an empty one) resolves it
    this.empty = type.element == null
    this.jsValue = this.#resolvers.promise
    // a future nobody awaits must not become an unhandled rejection
    this.jsValue.catch(noop)
  }

  typeAbove (): Type | undefined {
    return this.type.element ?? undefined
  }

  decode (bytes: Uint8Array, opts: DecodeOptions): { values: unknown[], end: number } {
    if (this.type.element == null) return { values: [undefined], end: 0 }
    const r = new ValueReader(bytes, 0, opts, this.path)
    const value = r.read(this.type.element)
    return { values: [value], end: r.pos }
  }

  accept (values: unknown[]): boolean {
    this.#resolvers.resolve(values[0])
    return true
  }

  fail (err: Error): void {
    this.#resolvers.reject(err)
  }
}

/** A pending stream: `list<T>` chunks on its own path, ended by an empty one. */
class StreamReceiver extends Receiver {
  readonly type: StreamType
  readonly empty = false
  readonly jsValue = new Channel()
  /** Index of the next stream element: nested async values are addressed by it. */
  #offset = 0

  constructor (path: readonly number[], type: StreamType) {
    super(path)
    this.type = type
  }

  typeAbove (): Type | undefined {
    return this.type.element ?? undefined
  }

  decode (bytes: Uint8Array, opts: DecodeOptions): { values: unknown[], end: number } {
    const r = new ValueReader(bytes, 0, opts, this.path)
    const chunk = r.readStreamChunk(this.type, this.#offset)
    return { values: [chunk], end: r.pos }
  }

  accept (values: unknown[], consumed: number): boolean {
    const chunk = values[0]
    if (chunk == null) {
      this.jsValue.end()
      return true
    }
    this.#offset += lengthOf(chunk)
    this.jsValue.push(chunk, consumed)
    return false
  }

  override feed (session: Session, data: Uint8Array): Uint8Array | null {
    const rest = super.feed(session, data)
    if (this.jsValue.queuedBytes + this.bufferedBytes > session.valueLimits.maxValueBytes) {
      throw new ProtocolError('limit-exceeded', `more than maxValueBytes (${session.valueLimits.maxValueBytes}) of unread stream chunks`, pathText(session.role, this.path))
    }
    return rest
  }

  fail (err: Error): void {
    this.jsValue.fail(err)
  }
}

interface Outbound {
  readonly path: readonly number[]
  readonly type: FutureType | StreamType
  readonly value: unknown
}

/** What a failure does to the transport. */
type Ending =
  | { readonly kind: 'abort' }
  | { readonly kind: 'close' }
  | { readonly kind: 'error-frame', readonly code: string, readonly message: string }

/** Where an inbound failure came from: decides the answer the server gives. */
type Cause = 'transport' | 'frame' | 'value'

/** The machinery both sides share: reading and routing frames, receivers, async senders, idle watch, ending. */
class Session {
  readonly role: Role
  readonly limits: SessionLimits
  readonly valueLimits: ValueLimits
  readonly #transport: Transport
  readonly #decoder: FrameDecoder
  readonly #receivers = new Map<string, Receiver>()
  /** Frames that arrived for a path not registered yet, under a value still being decoded. */
  readonly #early = new Map<string, { path: readonly number[], parts: Uint8Array[] }>()
  #earlyBytes = 0
  /** Bytes buffered in receivers (partial values); kept by the receivers as they change. */
  receiverBytes = 0
  readonly #inbound: InboundAccount | undefined
  /** What this session last charged to `#inbound`. */
  #charged = 0
  /** Not reading because the inbound budget is spent: the peer is not to blame meanwhile. */
  #paused = false
  readonly #idle: ProgressWatch
  readonly #controller = new AbortController()
  readonly #signal: AbortSignal | undefined
  readonly #done = Promise.withResolvers<void>()

  #finished = false
  #error: Error | null = null
  #eof = false
  #bytesIn = 0
  #errorFrameBytes = 0
  /** Whether the peer is expected to send (the server: from the start; the client: once results begin). */
  #expecting: boolean
  #rootComplete = false
  #writesPending = 0
  #outboundOpen = 0
  #outboundStarted = false
  #writeClosed = false

  /** The server's hook: may return a promise, during which no frame is routed (the function's types are not known yet). */
  onHeader: ((header: Header) => void | Promise<void>) | null = null

  constructor (role: Role, transport: Transport, opts: SessionOptions) {
    this.role = role
    this.#transport = transport
    let limits: SessionLimits = { ...defaultSessionLimits, ...opts.limits }
    if (opts.idleTimeoutMs !== undefined) limits = { ...limits, idleTimeoutMs: opts.idleTimeoutMs }
    this.limits = limits
    this.valueLimits = { maxValueBytes: limits.maxValueBytes, maxListLength: limits.maxListLength, maxDepth: limits.maxDepth }
    this.#decoder = new FrameDecoder({ header: role === 'server', limits })
    this.#expecting = role === 'server'
    this.#inbound = opts.inbound
    this.#idle = new ProgressWatch(limits.idleTimeoutMs, limits.minProgressBytes, () => this.#heldBytes() > 0, (received, holding) => {
      if (!holding || received === 0) {
        this.fail(new SessionError('idle-timeout', `peer idle for ${limits.idleTimeoutMs} ms`, this.resultStarted), { kind: 'abort' })
        return
      }
      const message = `peer sent ${received} bytes of an unfinished value in ${limits.idleTimeoutMs} ms; at least ${limits.minProgressBytes} are required`
      this.fail(new SessionError('too-slow', message, this.resultStarted), this.role === 'server' ? { kind: 'error-frame', code: 'too-slow', message } : { kind: 'abort' })
    })
    this.#signal = opts.signal
    this.#signal?.addEventListener('abort', this.#onAbort)
    transport.signal?.addEventListener('abort', this.#onReset)
  }

  /** Aborted when the session fails. */
  get signal (): AbortSignal {
    return this.#controller.signal
  }

  get finished (): boolean {
    return this.#finished
  }

  /** Settles (never rejects) once the session is over, well or not; `error` says which. */
  get done (): Promise<void> {
    return this.#done.promise
  }

  get error (): Error | null {
    return this.#error
  }

  get resultStarted (): boolean {
    return this.#bytesIn > this.#errorFrameBytes
  }

  readonly #onReset = (): void => {
    const reason: unknown = this.#transport.signal?.reason
    const message = reason instanceof Error && reason.message !== '' ? reason.message : 'stream reset'
    this.#inboundFailed(new SessionError('closed', message.startsWith('stream reset') ? message : `stream reset: ${message}`, this.resultStarted, reason), 'transport')
  }

  readonly #onAbort = (): void => {
    const reason: unknown = this.#signal?.reason
    this.fail(new SessionError('aborted', `invocation aborted: ${errorMessage(reason)}`, this.resultStarted, reason), { kind: 'abort' })
  }

  /** Registers the root value of the peer's side: params on the server, results on the client. */
  expectRoot (types: readonly Type[], onValues: (values: unknown[]) => void): void {
    const root = new RootReceiver(types, onValues)
    this.#receivers.set(root.key, root)
    // a server's zero params decode from nothing; a client waits for a root frame or EOF before trusting zero results
    if (types.length === 0 && this.role === 'server') this.#routeOrFail([], EMPTY)
  }

  start (): void {
    if (this.#signal?.aborted === true) {
      this.#onAbort()
      return
    }
    if (this.#transport.signal?.aborted === true) {
      this.#onReset()
      return
    }
    this.#updateIdle()
    void this.#readLoop()
  }

  /** Bytes held of values not yet complete: undecoded frames, partial values, frames for paths not yet announced. */
  #heldBytes (): number {
    return this.#decoder.bufferedBytes + this.receiverBytes + this.#earlyBytes
  }

  /** Charges what changed since the last chunk to the inbound budget; false when the session failed. */
  #charge (): boolean {
    const held = this.#heldBytes()
    if (held === this.#charged) return true
    if (held > this.limits.maxInboundBufferedBytes) {
      this.#inboundFailed(new ProtocolError('limit-exceeded', `more than maxInboundBufferedBytes (${this.limits.maxInboundBufferedBytes}) of unfinished values buffered`), 'frame')
      return false
    }
    this.#inbound?.add(held - this.#charged)
    this.#charged = held
    return true
  }

  /** A pending stream whose reader has fallen `streamHighWaterBytes` behind: reading more would only queue it. */
  #fullStream (): Channel | undefined {
    const mark = this.limits.streamHighWaterBytes
    if (!(mark > 0)) return undefined
    for (const r of this.#receivers.values()) {
      if (r instanceof StreamReceiver && r.jsValue.queuedBytes >= mark) return r.jsValue
    }
    return undefined
  }

  /**
   * Waits, not reading, until the stream's reader catches up: the transport's own flow control then slows the
   * peer, so a slow consumer of a large stream holds `streamHighWaterBytes`, not the whole stream. The peer is not
   * to blame meanwhile (no idle or progress timeout). False when the session ended meanwhile.
   */
  async #awaitReader (channel: Channel): Promise<boolean> {
    this.#paused = true
    this.#updateIdle()
    try {
      await Promise.race([channel.drained(this.limits.streamHighWaterBytes), this.#done.promise])
    } finally {
      this.#paused = false
    }
    if (this.#finished) return false
    this.#updateIdle()
    return true
  }

  /** Waits, not reading, until the inbound budget has room; false when the session ended meanwhile. */
  async #awaitBudget (inbound: InboundAccount): Promise<boolean> {
    this.#paused = true
    this.#updateIdle()
    try {
      await inbound.whenUnblocked()
    } catch (err) {
      this.#inboundFailed(err, 'frame')
      return false
    } finally {
      this.#paused = false
    }
    if (this.#finished) return false
    this.#updateIdle()
    return true
  }

  async #readLoop (): Promise<void> {
    while (!this.#finished) {
      const inbound = this.#inbound
      if (inbound !== undefined && inbound.blocked && !(await this.#awaitBudget(inbound))) return
      const full = this.#fullStream()
      if (full !== undefined && !(await this.#awaitReader(full))) return
      let chunk: Uint8Array | null
      try {
        chunk = await this.#transport.read()
      } catch (err) {
        this.#inboundFailed(new SessionError('closed', `transport failed: ${errorMessage(err)}`, this.resultStarted, err), 'transport')
        return
      }
      if (this.#finished) return
      if (chunk == null) {
        this.#onEof()
        return
      }
      this.#bytesIn += chunk.length
      this.#idle.bytes += chunk.length
      if (!this.#expecting) this.#expecting = true
      this.#decoder.push(chunk)
      while (!this.#finished) {
        let item: FrameItem | undefined
        try {
          item = this.#decoder.next()
        } catch (err) {
          this.#inboundFailed(err, 'frame')
          return
        }
        if (item == null) break
        if (item.type === 'header') {
          const pending = this.onHeader?.(item.header)
          if (pending != null) await pending
        } else if (isErrorPath(item.path)) {
          this.#errorFrameBytes += frameSize(item.path, item.data.length)
          this.fail(this.#parseErrorFrame(item.data), { kind: 'close' })
        } else {
          this.#routeOrFail(item.path, item.data)
        }
      }
      if (this.#finished || !this.#charge()) return
      this.#updateIdle()
    }
  }

  #routeOrFail (path: readonly number[], data: Uint8Array): void {
    try {
      this.#route(path, data)
    } catch (err) {
      this.#inboundFailed(err, valueErrors.has(err as object) ? 'value' : 'frame')
    }
  }

  #parseErrorFrame (data: Uint8Array): Error {
    let parsed: unknown
    try {
      parsed = JSON.parse(utf8Decoder.decode(data))
    } catch {
      return new SessionError('invalid-frame', 'peer sent a malformed error frame (not UTF-8 JSON)', this.resultStarted)
    }
    const { code, message } = (parsed != null && typeof parsed === 'object' ? parsed : {}) as { code?: unknown, message?: unknown }
    if (typeof code !== 'string' || (message !== undefined && typeof message !== 'string')) {
      return new SessionError('invalid-frame', 'peer sent a malformed error frame (no string code)', this.resultStarted)
    }
    return new RemoteError(code, message ?? code, this.resultStarted)
  }

  #route (path: readonly number[], data: Uint8Array): void {
    const key = keyOf(path)
    const receiver = this.#receivers.get(key)
    if (receiver == null) {
      if (this.#hasOpenAncestor(path)) {
        this.#stash(key, path, data)
        return
      }
      if (path.length === 0) {
        // wRPC peers may send an empty root frame for a value that needs no bytes
        if (data.length === 0) return
        throw markValueError(new ProtocolError('trailing-bytes', 'root data after the root value was complete', pathText(this.role, path)))
      }
      throw new ProtocolError('unexpected-path', `frame for path [${path.join(', ')}] that no pending value waits for`)
    }
    const rest = receiver.feed(this, data)
    if (rest != null) this.#completed(receiver, rest)
  }

  #completed (receiver: Receiver, rest: Uint8Array): void {
    if (this.#receivers.get(receiver.key) === receiver) this.#receivers.delete(receiver.key)
    if (receiver instanceof RootReceiver) this.#rootComplete = true
    if (this.#receivers.has(receiver.key)) {
      // e.g. future<future<T>>: the inner value continues on the same path
      if (rest.length > 0) this.#route(receiver.path, rest)
    } else if (rest.length > 0) {
      throw markValueError(new ProtocolError('trailing-bytes', `${rest.length} bytes after the value was complete`, pathText(this.role, receiver.path)))
    }
    for (const early of this.#early.values()) {
      if (!this.#hasOpenAncestor(early.path)) {
        throw new ProtocolError('unexpected-path', `frame for path [${early.path.join(', ')}] that no pending value waits for`)
      }
    }
    this.#checkDone()
  }

  /** Registers receivers the codec created for pending values; replays frames that came early. */
  adopt (receivers: readonly Receiver[]): void {
    for (const r of receivers) {
      if (r.path.length > this.limits.maxPathDepth) {
        throw new ProtocolError('limit-exceeded', `async value path deeper than maxPathDepth (${this.limits.maxPathDepth})`, pathText(this.role, r.path))
      }
      if (this.#receivers.has(r.key)) {
        throw new ProtocolError('invalid-frame', `two pending values on path [${r.path.join(', ')}]`)
      }
      this.#receivers.set(r.key, r)
    }
    for (const r of receivers) {
      const early = this.#early.get(r.key)
      if (early == null) continue
      this.#early.delete(r.key)
      for (const part of early.parts) {
        this.#earlyBytes -= part.length
        this.#route(r.path, part)
      }
    }
  }

  /** Whether the nearest open value above `path` may still announce a pending value there. */
  #hasOpenAncestor (path: readonly number[]): boolean {
    for (let n = path.length - 1; n >= 0; n--) {
      const r = this.#receivers.get(keyOf(path.slice(0, n)))
      if (r != null) return r.mayOwn(path)
    }
    return false
  }

  #stash (key: string, path: readonly number[], data: Uint8Array): void {
    data = ownBytes(data)
    this.#earlyBytes += data.length
    if (this.#earlyBytes > this.valueLimits.maxValueBytes) {
      throw new ProtocolError('limit-exceeded', `more than maxValueBytes (${this.valueLimits.maxValueBytes}) of frames for paths not yet decoded`)
    }
    const early = this.#early.get(key)
    if (early == null) this.#early.set(key, { path, parts: [data] })
    else early.parts.push(data)
  }

  #onEof (): void {
    this.#eof = true
    try {
      this.#decoder.finish()
    } catch (err) {
      this.#inboundFailed(err, 'frame')
      return
    }
    const root = this.#receivers.get('')
    if (root != null && root.empty && root.bufferedBytes === 0) {
      // zero results and a peer that sent no root frame at all: that is a complete answer
      this.#routeOrFail([], EMPTY)
      if (this.#finished) return
    }
    if (this.#receivers.size > 0 || this.#early.size > 0) {
      const what = this.#rootComplete ? 'every pending async value was complete' : (this.role === 'server' ? 'the parameters were complete' : 'the results were complete')
      this.#inboundFailed(markValueError(new ProtocolError('truncated', `peer closed its side before ${what}`)), 'value')
      return
    }
    this.#updateIdle()
    this.#checkDone()
  }

  #inboundFailed (err: unknown, cause: Cause): void {
    if (this.#finished) return
    const error = this.#wrap(err)
    this.fail(error, this.#endingFor(error, cause))
  }

  #endingFor (err: Error, cause: Cause): Ending {
    if (err instanceof RemoteError) return { kind: 'close' }
    // a client cannot tell a server anything useful about a bad answer
    if (this.role === 'client' || cause === 'transport') return { kind: 'abort' }
    if (cause === 'value') return { kind: 'error-frame', code: 'invalid-params', message: err.message }
    return { kind: 'error-frame', code: err instanceof ProtocolError ? err.code : 'internal', message: err.message }
  }

  /** Errors surfaced to callers carry `resultStarted`. */
  #wrap (err: unknown): Error {
    if (err instanceof SessionError || err instanceof RemoteError) return err
    if (err instanceof ProtocolError) {
      const wrapped = new SessionError(err.code, err.message, this.resultStarted, err)
      if (valueErrors.has(err)) valueErrors.add(wrapped)
      return wrapped
    }
    return new SessionError('aborted', errorMessage(err), this.resultStarted, err)
  }

  /** Writes one chunk; a backpressure promise counts as waiting on the peer for the idle watch. */
  #write (bytes: Uint8Array): void | Promise<void> {
    const r = this.#transport.write(bytes)
    if (r == null) return
    this.#writesPending++
    this.#updateIdle()
    return r.finally(() => {
      this.#writesPending--
      this.#idle.moved()
      this.#updateIdle()
    })
  }

  /** Sends the root value (already framed, possibly after the opening, in one or more chunks) and then every pending async value in it; closes the write side after the last. */
  sendRoot (chunks: readonly Uint8Array[], outbound: readonly Outbound[]): void {
    this.#outboundStarted = true
    this.#outboundOpen++
    try {
      for (const bytes of chunks) this.#track(this.#write(bytes))
    } catch (err) {
      this.#outboundOpen--
      this.#outboundFailed(err)
      return
    }
    for (const o of outbound) this.#send(o)
    this.#outboundDone()
  }

  #track (r: void | Promise<void>): void {
    if (r == null) return
    this.#outboundOpen++
    r.then(() => { this.#outboundDone() }, (err: unknown) => { this.#outboundFailed(err) })
  }

  #send (o: Outbound): void {
    this.#outboundOpen++
    const run = o.type.kind === 'future' ? this.#sendFuture(o.path, o.type, o.value) : this.#sendStream(o.path, o.type, o.value)
    run.then(() => { this.#outboundDone() }, (err: unknown) => { this.#outboundFailed(err) })
  }

  async #sendFuture (path: readonly number[], type: FutureType, value: unknown): Promise<void> {
    const v = await value
    if (this.#finished) return
    const nested: Outbound[] = []
    const data = type.element == null
      ? EMPTY
      : encodeValues([type.element], [v], {
        limits: this.valueLimits,
        onAsync: (index, t, val) => { nested.push({ path: [...path, ...index.slice(1)], type: t, value: val }) }
      })
    await this.#write(encodeFrame(path, data))
    for (const n of nested) this.#send(n)
  }

  async #sendStream (path: readonly number[], type: StreamType, value: unknown): Promise<void> {
    // the codec sends an empty list as pending too: it is then one (empty) chunk
    const chunks: AsyncIterable<unknown> = value != null && typeof (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function'
      ? value as AsyncIterable<unknown>
      : (async function * () { yield value })()
    const iterator = chunks[Symbol.asyncIterator]()
    let offset = 0
    let ended = false
    try {
      while (true) {
        const next = await iterator.next()
        if (this.#finished) return
        if (next.done === true) break
        const n = lengthOf(next.value)
        // an empty chunk would end the stream on the wire
        if (n === 0) continue
        const base = offset
        const nested: Outbound[] = []
        // a non-empty chunk is encoded exactly as a ready stream: count, then items
        const data = encodeValues([type], [next.value], {
          limits: this.valueLimits,
          onAsync: (index, t, val) => { nested.push({ path: [...path, base + (index[1] ?? 0), ...index.slice(2)], type: t, value: val }) }
        })
        offset += n
        await this.#write(encodeFrame(path, data))
        for (const o of nested) this.#send(o)
      }
      ended = true
    } finally {
      if (!ended) void Promise.resolve().then(() => iterator.return?.()).catch(noop)
    }
    await this.#write(encodeFrame(path, END_OF_STREAM))
  }

  #outboundDone (): void {
    if (--this.#outboundOpen > 0 || this.#finished || this.#writeClosed) return
    this.#writeClosed = true
    Promise.resolve()
      .then(async () => { await this.#transport.closeWrite() })
      .then(() => { this.#checkDone() }, (err: unknown) => { this.#outboundFailed(err) })
  }

  #outboundFailed (err: unknown): void {
    if (this.#finished) return
    const transportFailed = err instanceof ProtocolError && err.code === 'closed'
    let ending: Ending
    if (transportFailed || this.#writeClosed) {
      ending = { kind: 'abort' }
    } else {
      // a local async value (a promise or iterator) failed: tell the peer, which will never get the rest of it
      const code = err instanceof ProtocolError ? 'internal' : (errorCode(err) ?? 'internal')
      ending = { kind: 'error-frame', code, message: errorMessage(err) }
    }
    this.fail(this.#wrap(err), ending)
  }

  #checkDone (): void {
    if (this.#finished || !this.#outboundStarted || !this.#writeClosed || this.#writesPending > 0) return
    if (this.#receivers.size > 0 || !this.#rootComplete) return
    this.#finish()
  }

  #updateIdle (): void {
    const awaitingPeer = this.#expecting && !this.#eof && !this.#paused && (this.#receivers.size > 0 || !this.#rootComplete)
    this.#idle.set(!this.#finished && (awaitingPeer || this.#writesPending > 0))
  }

  /** Fails every pending value with `err` and ends the transport as `ending` says. */
  fail (err: Error, ending: Ending): void {
    if (this.#finished) return
    this.#finished = true
    this.#error = err
    this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#transport.signal?.removeEventListener('abort', this.#onReset)
    this.#idle.set(false)
    this.#controller.abort(err)
    for (const r of this.#receivers.values()) {
      r.fail(err)
      r.release()
    }
    this.#receivers.clear()
    this.#early.clear()
    // nothing of a failed invocation stays referenced: the peer's bytes go back to the budget now
    this.#decoder.clear()
    this.receiverBytes = 0
    this.#earlyBytes = 0
    this.#releaseInbound()
    if (ending.kind === 'abort') {
      this.#transport.abort(err)
      this.#finish()
      return
    }
    const frame = ending.kind === 'error-frame' && !this.#writeClosed ? encodeErrorFrame(ending.code, ending.message) : null
    const wasClosed = this.#writeClosed
    this.#writeClosed = true
    let r: void | Promise<void> = undefined
    try {
      if (frame != null) r = this.#transport.write(frame)
      if (r == null && !wasClosed) r = this.#transport.closeWrite()
      else if (!wasClosed) r = r?.then(async () => { await this.#transport.closeWrite() })
    } catch {
      r = undefined
    }
    if (r == null) {
      this.#finish()
      return
    }
    // a graceful end still must not hang on a peer that stopped reading
    const watch = new ProgressWatch(this.limits.idleTimeoutMs, 0, () => false, () => {
      this.#transport.abort(new SessionError('idle-timeout', 'peer stopped reading'))
      this.#finish()
    })
    watch.set(true)
    r.catch(noop).finally(() => {
      watch.set(false)
      this.#finish()
    })
  }

  #releaseInbound (): void {
    this.#charged = 0
    this.#inbound?.close()
  }

  #finish (): void {
    this.#releaseInbound()
    this.#finished = true
    this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#transport.signal?.removeEventListener('abort', this.#onReset)
    this.#idle.set(false)
    this.#done.resolve()
  }
}

function collectOutbound (list: Outbound[]): (index: readonly number[], type: FutureType | StreamType, value: unknown) => void {
  return (index, type, value) => { list.push({ path: [...index], type, value }) }
}

/**
 * Calls `instance#name` over a fresh transport (one transport = one invocation). Resolves with the
 * results as soon as the root result value decodes; pending futures and streams in them keep being
 * fed until the server closes. Rejects with an `InvokeError` (`RemoteError` for an error frame,
 * `SessionError` otherwise), both carrying `resultStarted`.
 */
export function invoke (
  transport: Transport,
  instance: string,
  name: string,
  paramTypes: readonly Type[],
  params: readonly unknown[],
  resultTypes: readonly Type[],
  opts: InvokeOptions = {}
): Promise<unknown[]> {
  const session = new Session('client', transport, opts)
  const result = Promise.withResolvers<unknown[]>()
  let settled = false
  session.expectRoot(resultTypes, values => {
    settled = true
    result.resolve(values)
  })
  session.done.then(() => {
    if (!settled) result.reject(session.error ?? new SessionError('closed', 'session ended without results', session.resultStarted))
  }, noop)

  const outbound: Outbound[] = []
  let opening: Uint8Array[]
  try {
    // the opening is written in front of the params in their own buffer: one copy of the values, not two
    const header = encodeHeader({ instance, name })
    opening = rootFrameChunks(encodeValueChunks(paramTypes, params, rootEncoding(session, outbound, header)), header)
  } catch (err) {
    const error = err instanceof ProtocolError
      ? new SessionError(err.code, err.message, false, err)
      : new SessionError('value-type', errorMessage(err), false, err)
    session.fail(error, { kind: 'abort' })
    return result.promise
  }
  session.start()
  if (!session.finished) {
    try {
      session.sendRoot(opening, outbound)
    } catch (err) {
      session.fail(new SessionError('closed', `transport write failed: ${errorMessage(err)}`, false, err), { kind: 'abort' })
    }
  }
  return result.promise
}

/**
 * Serves ONE invocation on `transport`: reads the header, looks the function up, decodes the
 * params, calls it and sends the results. Never rejects: every failure is answered (an error frame
 * when the peer can still read one), reported to `onError`, and ends the session.
 */
export async function serve (transport: Transport, handlers: Handlers, opts: ServeOptions = {}): Promise<void> {
  const session = new Session('server', transport, opts)
  const failWith = (err: unknown, code: string, message = errorMessage(err)): void => {
    session.fail(err instanceof Error ? err : new Error(message), { kind: 'error-frame', code, message })
  }

  const call = async (header: Header, fn: ServedFunction, params: unknown[]): Promise<void> => {
    let results: unknown[]
    try {
      results = await fn.call(params, { instance: header.instance, name: header.name, signal: session.signal })
    } catch (err) {
      failWith(err, errorCode(err) ?? 'internal')
      return
    }
    if (session.finished) return
    const outbound: Outbound[] = []
    let chunks: Uint8Array[]
    try {
      chunks = rootFrameChunks(encodeValueChunks(fn.results, results, rootEncoding(session, outbound)))
    } catch (err) {
      failWith(err, 'internal', `results do not encode: ${errorMessage(err)}`)
      return
    }
    session.sendRoot(chunks, outbound)
  }

  const begin = (header: Header, fn: ServedFunction | undefined): void => {
    if (session.finished) return
    if (fn == null) {
      const message = `no function '${header.name}' on instance '${header.instance}'`
      failWith(new RemoteError('no-such-function', message), 'no-such-function', message)
      return
    }
    session.expectRoot(fn.params, params => { void call(header, fn, params) })
  }

  session.onHeader = (header) => {
    session.onHeader = null
    let found: ServedFunction | undefined | Promise<ServedFunction | undefined>
    try {
      found = handlers.lookup(header.instance, header.name)
    } catch (err) {
      failWith(err, errorCode(err) ?? 'internal')
      return
    }
    if (!(found instanceof Promise)) {
      begin(header, found)
      return
    }
    return found.then(fn => { begin(header, fn) }, (err: unknown) => { failWith(err, errorCode(err) ?? 'internal') })
  }

  session.start()
  await session.done
  const err = session.error
  if (err != null && opts.onError != null) {
    try {
      opts.onError(err)
    } catch {}
  }
}
