// wRPC framed-stream codec: version byte, header {instance, name}, frames {path: list<u32>, data: list<u8>}.

import { ProtocolError } from './errors.ts'
import { defaultSessionLimits } from './limits.ts'
import type { SessionLimits } from './limits.ts'

/** The only framed-stream version wRPC defines. */
export const FRAME_VERSION = 0x00

/** The path element that marks an error frame (`[4294967295]`): outside any function's index space. */
export const ERROR_PATH_INDEX = 0xffff_ffff

export interface Header {
  readonly instance: string
  readonly name: string
}

export interface Frame {
  readonly path: readonly number[]
  /** A view of the received bytes where the frame sat in one chunk; never mutate it. */
  readonly data: Uint8Array
}

export type FrameItem =
  | { readonly type: 'header', readonly version: number, readonly header: Header }
  | { readonly type: 'frame', readonly path: readonly number[], readonly data: Uint8Array }

export type FrameLimits = Pick<SessionLimits, 'maxFrameBytes' | 'maxPathDepth' | 'maxHeaderBytes'>

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

function u32Size (n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x20_0000 ? 3 : n < 0x1000_0000 ? 4 : 5
}

function writeU32 (target: Uint8Array, offset: number, n: number): number {
  while (n >= 0x80) {
    target[offset++] = (n & 0x7f) | 0x80
    n >>>= 7
  }
  target[offset++] = n
  return offset
}

function checkPath (path: readonly number[]): void {
  for (const p of path) {
    if (!Number.isInteger(p) || p < 0 || p > 0xffff_ffff) {
      throw new ProtocolError('invalid-frame', `frame path element is not a u32: ${String(p)}`)
    }
  }
}

/** Bytes that `writeFrame` produces for this frame. */
export function frameSize (path: readonly number[], dataLength: number): number {
  let n = u32Size(path.length) + u32Size(dataLength) + dataLength
  for (const p of path) n += u32Size(p)
  return n
}

/** Writes one frame into `target` at `offset`; returns the offset after it. `target` must have `frameSize` bytes free. */
export function writeFrame (target: Uint8Array, offset: number, path: readonly number[], data: Uint8Array): number {
  offset = writeU32(target, offset, path.length)
  for (const p of path) offset = writeU32(target, offset, p)
  offset = writeU32(target, offset, data.length)
  target.set(data, offset)
  return offset + data.length
}

export function encodeFrame (path: readonly number[], data: Uint8Array): Uint8Array {
  checkPath(path)
  if (data.length > 0xffff_ffff) throw new ProtocolError('limit-exceeded', 'frame data longer than a u32 length')
  const out = new Uint8Array(frameSize(path, data.length))
  writeFrame(out, 0, path, data)
  return out
}

/** The header record alone (two component-model strings), without the version byte. */
/** Encoded headers by instance and name: a caller repeats the same few, and encoding them shows in profiles. */
const headers = new Map<string, Map<string, Uint8Array>>()
const maxCachedHeaders = 1024
let cachedHeaders = 0

/** The encoded header record; the bytes returned must not be changed (they may be shared). */
export function encodeHeader (header: Header): Uint8Array {
  let byName = headers.get(header.instance)
  let bytes = byName?.get(header.name)
  if (bytes !== undefined) return bytes
  bytes = encodeHeaderRecord(header)
  if (cachedHeaders >= maxCachedHeaders) {
    headers.clear()
    cachedHeaders = 0
    byName = undefined
  }
  if (byName === undefined) headers.set(header.instance, byName = new Map())
  byName.set(header.name, bytes)
  cachedHeaders++
  return bytes
}

function encodeHeaderRecord (header: Header): Uint8Array {
  const instance = utf8Encoder.encode(header.instance)
  const name = utf8Encoder.encode(header.name)
  const out = new Uint8Array(u32Size(instance.length) + instance.length + u32Size(name.length) + name.length)
  let o = writeU32(out, 0, instance.length)
  out.set(instance, o)
  o = writeU32(out, o + instance.length, name.length)
  out.set(name, o)
  return out
}

/**
 * The opening of an invocation in one buffer: version byte, header, and the root frame
 * (path `[]`) carrying `rootData`, so that a small call is a single write.
 */
export function encodeOpening (header: Header, rootData: Uint8Array): Uint8Array {
  const head = encodeHeader(header)
  const out = new Uint8Array(1 + head.length + frameSize([], rootData.length))
  out[0] = FRAME_VERSION
  out.set(head, 1)
  writeFrame(out, 1 + head.length, [], rootData)
  return out
}

/** Bytes to leave free before a root frame's data for `prependRootHead`: version and header (an opening), path, length. */
export function rootHeadroom (header?: Uint8Array): number {
  return (header === undefined ? 0 : 1 + header.length) + 1 + 5
}

/**
 * The root frame (path `[]`) carrying `data` (of `dataLength` bytes in all, when more chunks
 * follow it), after the version byte and `header` (the encoded header record, for an opening), as one view: written in place in front of `data` when its
 * buffer has the room (`encodeValues` with `headroomBytes: rootHeadroom(header)`), so the values
 * are not copied again; otherwise into a new buffer.
 */
export function prependRootHead (data: Uint8Array, header?: Uint8Array, dataLength = data.length): Uint8Array {
  if (dataLength > 0xffff_ffff) throw new ProtocolError('limit-exceeded', 'frame data longer than a u32 length')
  const headLength = (header === undefined ? 0 : 1 + header.length) + 1 + u32Size(dataLength)
  const inPlace = data.byteOffset >= headLength
  const out = inPlace
    ? new Uint8Array(data.buffer, data.byteOffset - headLength, headLength + data.length)
    : new Uint8Array(headLength + data.length)
  let o = 0
  if (header !== undefined) {
    out[o++] = FRAME_VERSION
    out.set(header, o)
    o += header.length
  }
  out[o++] = 0
  o = writeU32(out, o, dataLength)
  if (!inPlace) out.set(data, o)
  return out
}

/**
 * The root frame over data in several chunks (`encodeValueChunks`): the head goes in front of the
 * first chunk as `prependRootHead` writes it, with the length of them all; the rest follow as they are.
 */
export function rootFrameChunks (chunks: readonly Uint8Array[], header?: Uint8Array): Uint8Array[] {
  let total = 0
  for (const c of chunks) total += c.length
  return [prependRootHead(chunks[0], header, total), ...chunks.slice(1)]
}

/** The data of an error frame: UTF-8 JSON `{code, message}`. */
export function encodeErrorFrame (code: string, message: string): Uint8Array {
  return encodeFrame([ERROR_PATH_INDEX], utf8Encoder.encode(JSON.stringify({ code, message })))
}

export function isErrorPath (path: readonly number[]): boolean {
  return path.length === 1 && path[0] === ERROR_PATH_INDEX
}

/** Signals that the buffered bytes end inside an item; parsing resumes when more arrive. */
const NEED_MORE = -1

export interface FrameDecoderOptions {
  /** Expect the version byte and header first (the server side); results carry no header. */
  readonly header?: boolean
  readonly limits?: Partial<FrameLimits>
}

/**
 * Incremental decoder of a framed stream. Feed it chunks as they arrive (split anywhere) with
 * `push`, then take items with `next` until it returns `undefined`. Chunks are referenced, not
 * copied: a frame inside one chunk comes out as a view of it.
 */
export class FrameDecoder {
  readonly #limits: FrameLimits
  #expectHeader: boolean
  readonly #chunks: Uint8Array[] = []
  /** Index of the chunk being read and the offset inside it. */
  #ci = 0
  #co = 0
  /** Unconsumed bytes across all chunks. */
  #available = 0
  /** A frame whose path and length are parsed, waiting for its data. */
  #pendingPath: number[] | null = null
  #pendingLength = 0
  #failed: ProtocolError | null = null

  constructor (opts: FrameDecoderOptions = {}) {
    this.#expectHeader = opts.header ?? false
    this.#limits = { ...pickFrameLimits(defaultSessionLimits), ...opts.limits }
  }

  /** Bytes received but not yet returned as items. */
  get bufferedBytes (): number {
    return this.#available
  }

  push (chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#available += chunk.length
  }

  /** The next complete item, or `undefined` until more bytes arrive. Throws `ProtocolError` on bad input, and again on every later call. */
  next (): FrameItem | undefined {
    if (this.#failed != null) throw this.#failed
    try {
      return this.#expectHeader ? this.#nextHeader() : this.#nextFrame()
    } catch (err) {
      this.#failed = err instanceof ProtocolError ? err : new ProtocolError('invalid-frame', String(err))
      throw this.#failed
    }
  }

  /** Drops every buffered chunk (the session is over); `next` throws `closed` afterwards. */
  clear (): void {
    this.#chunks.length = 0
    this.#ci = 0
    this.#co = 0
    this.#available = 0
    this.#pendingPath = null
    this.#failed ??= new ProtocolError('closed', 'the decoder was cleared')
  }

  /** Call once the peer closed: throws `truncated` if the stream ended inside the header or a frame. */
  finish (): void {
    if (this.#failed != null) throw this.#failed
    if (this.#expectHeader) throw new ProtocolError('truncated', 'stream closed before the wRPC header was complete')
    if (this.#pendingPath != null || this.#available > 0) {
      throw new ProtocolError('truncated', 'stream closed inside a frame')
    }
  }

  #nextHeader (): FrameItem | undefined {
    if (this.#available === 0) return undefined
    const ci = this.#ci
    const co = this.#co
    const available = this.#available
    const version = this.#byte()
    if (version !== FRAME_VERSION) {
      throw new ProtocolError('invalid-version', `unsupported wRPC version byte 0x${version.toString(16).padStart(2, '0')}`)
    }
    const budget = this.#limits.maxHeaderBytes
    const instance = this.#string(budget, 'instance')
    const name = instance == null ? undefined : this.#string(budget - instance.length, 'name')
    if (instance == null || name == null) {
      this.#ci = ci
      this.#co = co
      this.#available = available
      return undefined
    }
    this.#expectHeader = false
    this.#compact()
    return { type: 'header', version, header: { instance: decodeUtf8(instance.bytes), name: decodeUtf8(name.bytes) } }
  }

  /** A length-prefixed string of at most `budget` bytes, or undefined if its bytes have not all arrived. */
  #string (budget: number, what: string): { bytes: Uint8Array, length: number } | undefined {
    const n = this.#u32()
    if (n === NEED_MORE) return undefined
    if (n > budget) throw new ProtocolError('limit-exceeded', `wRPC header ${what} exceeds maxHeaderBytes (${this.#limits.maxHeaderBytes})`)
    if (this.#available < n) return undefined
    return { bytes: this.#take(n), length: n }
  }

  #nextFrame (): FrameItem | undefined {
    if (this.#pendingPath == null) {
      if (this.#available === 0) return undefined
      const ci = this.#ci
      const co = this.#co
      const available = this.#available
      const path = this.#path()
      const length = path == null ? NEED_MORE : this.#u32()
      if (path == null || length === NEED_MORE) {
        this.#ci = ci
        this.#co = co
        this.#available = available
        return undefined
      }
      if (length > this.#limits.maxFrameBytes) {
        throw new ProtocolError('limit-exceeded', `frame of ${length} bytes exceeds maxFrameBytes (${this.#limits.maxFrameBytes})`)
      }
      this.#pendingPath = path
      this.#pendingLength = length
    }
    if (this.#available < this.#pendingLength) return undefined
    const path = this.#pendingPath
    const data = this.#take(this.#pendingLength)
    this.#pendingPath = null
    this.#compact()
    return { type: 'frame', path, data }
  }

  #path (): number[] | undefined {
    const depth = this.#u32()
    if (depth === NEED_MORE) return undefined
    if (depth > this.#limits.maxPathDepth) {
      throw new ProtocolError('limit-exceeded', `frame path of depth ${depth} exceeds maxPathDepth (${this.#limits.maxPathDepth})`)
    }
    const path: number[] = []
    for (let i = 0; i < depth; i++) {
      const p = this.#u32()
      if (p === NEED_MORE) return undefined
      path.push(p)
    }
    return path
  }

  #byte (): number {
    let chunk = this.#chunks[this.#ci]
    while (this.#co >= chunk.length) {
      chunk = this.#chunks[++this.#ci]
      this.#co = 0
    }
    this.#available--
    return chunk[this.#co++]
  }

  /** An unsigned LEB128 u32 (at most 5 bytes), or NEED_MORE. */
  #u32 (): number {
    let result = 0
    for (let i = 0; i < 5; i++) {
      if (this.#available === 0) return NEED_MORE
      const b = this.#byte()
      if (i === 4 && b > 0x0f) throw new ProtocolError('invalid-leb128', 'LEB128 value overflows a u32')
      result += (b & 0x7f) * 2 ** (7 * i)
      if ((b & 0x80) === 0) return result
    }
    throw new ProtocolError('invalid-leb128', 'LEB128 value overflows a u32')
  }

  /** The next `n` bytes (all present): a view when they sit in one chunk, else one copy. */
  #take (n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0)
    let chunk = this.#chunks[this.#ci]
    while (this.#co >= chunk.length) {
      chunk = this.#chunks[++this.#ci]
      this.#co = 0
    }
    this.#available -= n
    if (chunk.length - this.#co >= n) {
      const view = chunk.subarray(this.#co, this.#co + n)
      this.#co += n
      return view
    }
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      chunk = this.#chunks[this.#ci]
      const m = Math.min(chunk.length - this.#co, n - filled)
      out.set(chunk.subarray(this.#co, this.#co + m), filled)
      filled += m
      this.#co += m
      if (this.#co >= chunk.length && filled < n) {
        this.#ci++
        this.#co = 0
      }
    }
    return out
  }

  /** Drops fully consumed chunks so that they can be collected. */
  #compact (): void {
    if (this.#ci > 0) {
      this.#chunks.splice(0, this.#ci)
      this.#ci = 0
    }
    if (this.#chunks.length > 0 && this.#co >= this.#chunks[0].length) {
      this.#chunks.shift()
      this.#co = 0
    }
  }
}

function pickFrameLimits (l: SessionLimits): FrameLimits {
  return { maxFrameBytes: l.maxFrameBytes, maxPathDepth: l.maxPathDepth, maxHeaderBytes: l.maxHeaderBytes }
}

function decodeUtf8 (bytes: Uint8Array): string {
  try {
    return utf8Decoder.decode(bytes)
  } catch {
    throw new ProtocolError('invalid-utf8', 'wRPC header is not valid UTF-8')
  }
}
