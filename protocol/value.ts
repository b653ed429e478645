// The component-model value encoding of wRPC, driven by the WIT type model, with JS values shaped the way jco shapes them.

import { ProtocolError } from './errors.ts'
import type { ProtocolErrorCode } from './errors.ts'
import { defaultValueLimits } from './limits.ts'
import type { ValueLimits } from './limits.ts'
import { ByteReader, ByteWriter, lebSize } from './leb128.ts'
import { toJsName } from './jco-names.ts'
import type {
  EnumType, FlagsType, FutureType, HandleType, ListType, OptionType, RecordType,
  ResultType, StreamType, TupleType, Type, VariantType
} from './wit/model.ts'

export interface EncodeOptions {
  limits?: Partial<ValueLimits>
  /**
   * Called for each future/stream value that is pending (a Promise / AsyncIterable, or an empty
   * stream, which wRPC can only send as pending); the codec writes the pending marker. Without it,
   * a pending value fails with `async-unsupported`. `index` is the wRPC index path of that value
   * (e.g. [0, 1] = 2nd field of the 1st param).
   */
  onAsync?: (index: readonly number[], type: FutureType | StreamType, value: unknown) => void
  /** Human name of the root, for error paths. Default 'value'. */
  root?: string
  /**
   * Bytes left free before the encoded values in the same buffer, so that a frame head can be
   * written in front of them without copying the values (see `prependRootHead` in frame.ts). The
   * result is a view that starts `headroomBytes` into its buffer. Default 0.
   */
  headroomBytes?: number
  /**
   * Byte runs (`list<u8>`, `list<s8>`, little-endian float lists) of at least this many bytes are
   * not copied into the output: `encodeValueChunks` returns them as chunks of their own, views of
   * the caller's arrays, which must then stay unchanged until the chunks are sent. Default: never.
   */
  spliceBytesFrom?: number
}

export interface DecodeOptions {
  limits?: Partial<ValueLimits>
  /**
   * Returns the JS placeholder (a Promise for futures, an AsyncIterable for streams) for a value
   * marked pending. Without it, pending fails with `async-unsupported`. It may be called during a
   * decode attempt that then fails (e.g. `truncated`): drop what it made in that case.
   */
  onPending?: (index: readonly number[], type: FutureType | StreamType) => unknown
  /** Human name of the root, for error paths: 'params' gives `params[1].items[3].name`. Default 'value'. */
  root?: string
  /**
   * false: list<u8>, list<s8> and handles decode as views into the input (no copy). `'auto'`: as
   * views when they take at least half of the input's underlying buffer (a view then keeps at
   * most twice its own size alive), else as copies. Default true: always copies.
   */
  copy?: boolean | 'auto'
}

type Enc = (w: ValueWriter, v: unknown) => void
type Dec = (r: ValueReader) => unknown

/** Encodes/decodes the items of a list, fixed-size list or stream chunk (no count). */
interface ListBody {
  /** The item count of a JS list value, or -1 when it is not a list of this element type. */
  length: (v: unknown) => number
  enc: (w: ValueWriter, v: unknown, n: number) => void
  /** `first` numbers the items for index paths and error paths (stream chunks continue the count). */
  dec: (r: ValueReader, n: number, first: number) => unknown
}

interface Codec {
  readonly enc: Enc
  readonly dec: Dec
  /** The fewest bytes a value of this type occupies on the wire. */
  readonly minBytes: number
  /** Nesting depth of the type (a primitive is 1). */
  readonly depth: number
  /** Whether the type contains a future or stream, so index paths must be tracked. */
  readonly async: boolean
  /** Lists and streams: how to read/write their items, and the fewest bytes one item takes. */
  readonly body?: ListBody
  readonly itemMinBytes?: number
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const utf8Encoder = new TextEncoder()
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
const MAX_U64 = 0xffffffffffffffffn
const MIN_S64 = -0x8000000000000000n
const MAX_S64 = 0x7fffffffffffffffn

// ---------------------------------------------------------------- jco shapes

/** Lists of numbers as jco hands them over: the typed array of each element kind (decode gives these). */
export const typedListFrom: Partial<Record<Type['kind'], (a: unknown[]) => unknown>> = {
  u8: a => Uint8Array.from(a as number[]),
  s8: a => Int8Array.from(a as number[]),
  u16: a => Uint16Array.from(a as number[]),
  s16: a => Int16Array.from(a as number[]),
  u32: a => Uint32Array.from(a as number[]),
  s32: a => Int32Array.from(a as number[]),
  u64: a => BigUint64Array.from(a as bigint[]),
  s64: a => BigInt64Array.from(a as bigint[]),
  f32: a => Float32Array.from(a as number[]),
  f64: a => Float64Array.from(a as number[])
}

/**
 * Whether `option<T>` uses jco's tagged form `{ tag: 'some', val } | { tag: 'none' }` rather than
 * `T | undefined`: exactly when `T` could itself be `undefined`, i.e. when `T` is an option that is
 * not tagged (so `option<option<u32>>` is tagged outside, `option<option<option<u32>>>` is not).
 */
export function isTaggedOption (t: OptionType): boolean {
  return isNullable(t.some)
}

function isNullable (t: Type): boolean {
  return t.kind === 'option' && !isNullable(t.some)
}

// ---------------------------------------------------------------- errors

const SEGMENTS = Symbol('wasmesh.valuePath')
type Pathed = ProtocolError & { [SEGMENTS]?: string[] }

function fail (code: ProtocolErrorCode, message: string): never {
  throw new ProtocolError(code, message)
}

/** Records, while an error unwinds, the path segment of the value it passes through. */
function at (err: unknown, segment: string): unknown {
  if (err instanceof ProtocolError && err.path === undefined) {
    const e = err as Pathed
    const segs = e[SEGMENTS]
    if (segs === undefined) e[SEGMENTS] = [segment]
    else segs.push(segment)
  }
  return err
}

/** Turns an internal error into the public one: same code, path from `root`. */
function finish (err: unknown, root: string): unknown {
  if (!(err instanceof ProtocolError) || err.path !== undefined) return err
  const segs = (err as Pathed)[SEGMENTS]
  let path = root
  if (segs !== undefined) for (let i = segs.length - 1; i >= 0; i--) path += segs[i]
  const details = err.needBytes !== undefined ? { needBytes: err.needBytes } : undefined
  return new ProtocolError(err.code, err.message, path, details)
}

function describe (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return ArrayBuffer.isView(v) ? `a ${v.constructor.name}` : 'an object'
  if (typeof v === 'string') return v.length > 40 ? 'a string' : JSON.stringify(v)
  if (typeof v === 'bigint') return `${v}n`
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined) return String(v)
  return `a ${typeof v}`
}

function typeFail (expected: string, v: unknown): never {
  fail('value-type', `expected ${expected}, got ${describe(v)}`)
}

function fieldSegment (name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`
}

// ---------------------------------------------------------------- reader / writer

function limitsOf (partial: Partial<ValueLimits> | undefined): ValueLimits {
  return partial === undefined ? defaultValueLimits : { ...defaultValueLimits, ...partial }
}

function checkDepth (c: Codec, max: number): void {
  if (c.depth > max) fail('limit-exceeded', `type nesting depth ${c.depth} exceeds maxDepth (${max})`)
}

/**
 * Writes values into one growable buffer. The session uses it (or `encodeValues`) to encode a
 * future's value or a stream chunk with `index` set to the path of that future/stream.
 */
export class ValueWriter extends ByteWriter {
  /** The wRPC index path of the value being written (shared, mutated while writing). */
  readonly index: number[]
  readonly onAsync: EncodeOptions['onAsync']
  readonly maxListLength: number
  readonly maxDepth: number
  readonly root: string

  /** Bytes reserved before the values (`EncodeOptions.headroomBytes`). */
  readonly headroom: number
  /** `EncodeOptions.spliceBytesFrom`. */
  readonly spliceFrom: number
  /** Finished chunks before the run being written, when something was spliced. */
  #chunks: Uint8Array[] | undefined
  /** Where the run being written starts in `buf`. */
  #runStart: number

  constructor (opts: EncodeOptions = {}, index: readonly number[] = []) {
    const limits = limitsOf(opts.limits)
    const headroom = opts.headroomBytes ?? 0
    super(256 + headroom, limits.maxValueBytes + headroom)
    this.headroom = headroom
    this.spliceFrom = opts.spliceBytesFrom ?? Number.POSITIVE_INFINITY
    this.#runStart = headroom
    this.pos = headroom
    this.index = [...index]
    this.onAsync = opts.onAsync
    this.maxListLength = limits.maxListLength
    this.maxDepth = limits.maxDepth
    this.root = opts.root ?? 'value'
  }

  /** Appends one value; errors carry the path from `root`. */
  write (type: Type, value: unknown): void {
    const base = this.index.length
    try {
      const c = codecOf(type)
      checkDepth(c, this.maxDepth)
      c.enc(this, value)
    } catch (err) {
      this.index.length = base
      throw finish(err, this.root)
    }
  }

  /** Appends values as wRPC sends params/results: concatenated, value i at index path [...index, i]. */
  writeValues (types: readonly Type[], values: readonly unknown[]): void {
    const base = this.index.length
    let i = 0
    try {
      if (!Array.isArray(values) || values.length !== types.length) {
        fail('value-type', `expected ${types.length} values, got ${Array.isArray(values) ? values.length : describe(values)}`)
      }
      this.index.push(0)
      for (; i < types.length; i++) {
        this.index[base] = i
        const c = codecOf(types[i])
        checkDepth(c, this.maxDepth)
        try {
          c.enc(this, values[i])
        } catch (err) {
          throw at(err, `[${i}]`)
        }
      }
      this.index.length = base
    } catch (err) {
      this.index.length = base
      throw finish(err, this.root)
    }
  }

  /** A list's raw bytes: copied, or (from `spliceFrom` bytes on) spliced in as a chunk of its own. */
  payload (src: Uint8Array): void {
    if (src.length < this.spliceFrom) {
      this.bytes(src)
      return
    }
    if (this.pos + src.length > this.maxBytes) {
      throw new ProtocolError('limit-exceeded', `encoded value exceeds maxValueBytes (${this.maxBytes - this.headroom} bytes left)`)
    }
    (this.#chunks ??= []).push(this.buf.subarray(this.#runStart, this.pos), src)
    this.#runStart = this.pos
    // Spliced bytes count against the limit as if they had been written.
    this.maxBytes -= src.length
  }

  /** The values written (after the headroom), when nothing was spliced. */
  override finish (): Uint8Array {
    if (this.#chunks !== undefined) throw new Error('spliced bytes: use finishChunks()')
    return this.buf.subarray(this.headroom, this.pos)
  }

  /** The values written as chunks in order: the first starts after the headroom (and may be empty). */
  finishChunks (): Uint8Array[] {
    if (this.#chunks === undefined) return [this.buf.subarray(this.headroom, this.pos)]
    const chunks = [...this.#chunks, this.buf.subarray(this.#runStart, this.pos)]
    return chunks.filter((c, i) => i === 0 || c.length > 0)
  }
}

/**
 * Reads values from received bytes. `read` restores the position when it fails, so a caller that
 * buffers input can retry once `needBytes` bytes are there.
 */
export class ValueReader extends ByteReader {
  /** The wRPC index path of the value being read (shared, mutated while reading). */
  readonly index: number[]
  readonly onPending: DecodeOptions['onPending']
  readonly maxListLength: number
  readonly maxDepth: number
  readonly maxValueBytes: number
  readonly copyBytes: boolean
  /** With `copy: 'auto'`: byte runs at least this long are views. */
  readonly viewFromBytes: number
  readonly root: string

  constructor (bytes: Uint8Array, offset = 0, opts: DecodeOptions = {}, index: readonly number[] = []) {
    super(bytes, offset)
    const limits = limitsOf(opts.limits)
    this.index = [...index]
    this.onPending = opts.onPending
    this.maxListLength = limits.maxListLength
    this.maxDepth = limits.maxDepth
    this.maxValueBytes = limits.maxValueBytes
    this.copyBytes = opts.copy !== false
    this.viewFromBytes = opts.copy === false ? 0 : opts.copy === 'auto' ? Math.ceil(bytes.buffer.byteLength / 2) : Number.POSITIVE_INFINITY
    this.root = opts.root ?? 'value'
  }

  /** `n` raw bytes: a view or a copy, as the `copy` option says. */
  bytesOf (n: number): Uint8Array {
    return n >= this.viewFromBytes ? this.view(n) : this.copy(n)
  }

  private guard<T>(fn: () => T): T {
    const start = this.pos
    const base = this.index.length
    this.setLimit(start + this.maxValueBytes)
    try {
      return fn()
    } catch (err) {
      this.pos = start
      this.index.length = base
      throw finish(err, this.root)
    }
  }

  /** Reads one value at the current position. */
  read (type: Type): unknown {
    return this.guard(() => {
      const c = codecOf(type)
      checkDepth(c, this.maxDepth)
      return c.dec(this)
    })
  }

  /** Reads values sent as wRPC params/results: concatenated, value i at index path [...index, i]. */
  readValues (types: readonly Type[]): unknown[] {
    return this.guard(() => {
      const codecs = types.map(codecOf)
      for (const c of codecs) checkDepth(c, this.maxDepth)
      const base = this.index.length
      const out = new Array<unknown>(codecs.length)
      this.index.push(0)
      let i = 0
      try {
        for (; i < codecs.length; i++) {
          this.index[base] = i
          out[i] = codecs[i].dec(this)
        }
      } catch (err) {
        throw at(err, `[${i}]`)
      }
      this.index.length = base
      return out
    })
  }

  /**
   * Reads one chunk of a pending stream (a `list<T>`); returns null for the empty chunk that ends
   * the stream. Items are numbered from `firstIndex` (the count of items in earlier chunks) for
   * the index paths of async values inside them.
   */
  readStreamChunk (type: StreamType, firstIndex: number): unknown {
    return this.guard(() => {
      const c = codecOf(type)
      checkDepth(c, this.maxDepth)
      const n = this.u32()
      if (n === 0) return null
      return readItems(this, c.body as ListBody, c.itemMinBytes ?? 0, n, firstIndex)
    })
  }
}

// ---------------------------------------------------------------- public API

export function encodeValue (type: Type, value: unknown, opts?: EncodeOptions): Uint8Array {
  const w = new ValueWriter(opts)
  w.write(type, value)
  return w.finish()
}

/** Params/results as wRPC sends them: the values concatenated (a tuple), element i at index path [i]. */
export function encodeValues (types: readonly Type[], values: readonly unknown[], opts?: EncodeOptions): Uint8Array {
  const w = new ValueWriter({ ...opts, spliceBytesFrom: undefined })
  w.writeValues(types, values)
  return w.finish()
}

/**
 * `encodeValues` as chunks to be sent in order, large byte runs (`opts.spliceBytesFrom`) spliced in
 * as views of the values themselves instead of being copied: what a transport that writes chunks
 * one after another can send with one copy less.
 */
export function encodeValueChunks (types: readonly Type[], values: readonly unknown[], opts?: EncodeOptions): Uint8Array[] {
  const w = new ValueWriter(opts)
  w.writeValues(types, values)
  return w.finishChunks()
}

/** Decodes exactly one value: the whole input must be consumed, else `trailing-bytes`. */
export function decodeValue (type: Type, bytes: Uint8Array, opts?: DecodeOptions): unknown {
  const r = new ValueReader(bytes, 0, opts)
  const v = r.read(type)
  if (r.pos !== bytes.length) {
    throw new ProtocolError('trailing-bytes', `${bytes.length - r.pos} bytes left after the value`, r.root)
  }
  return v
}

export function decodeValues (types: readonly Type[], bytes: Uint8Array, opts?: DecodeOptions): unknown[] {
  const r = new ValueReader(bytes, 0, opts)
  const v = r.readValues(types)
  if (r.pos !== bytes.length) {
    throw new ProtocolError('trailing-bytes', `${bytes.length - r.pos} bytes left after the values`, r.root)
  }
  return v
}

/**
 * Incremental: decodes from `offset`; returns the values and bytes consumed, or throws
 * ProtocolError 'truncated' whose `needBytes` says the least total input length that could
 * succeed, so a session buffering frames can wait for that many bytes before trying again.
 */
export function decodeValuesPrefix (types: readonly Type[], bytes: Uint8Array, offset: number, opts?: DecodeOptions): { values: unknown[], end: number } {
  const r = new ValueReader(bytes, offset, opts)
  const values = r.readValues(types)
  return { values, end: r.pos }
}

// ---------------------------------------------------------------- codec construction

const cache = new WeakMap<Type, Codec>()

function codecOf (t: Type): Codec {
  let c = cache.get(t)
  if (c === undefined) {
    c = build(t)
    cache.set(t, c)
  }
  return c
}

function prim (enc: Enc, dec: Dec, minBytes = 1): Codec {
  return { enc, dec, minBytes, depth: 1, async: false }
}

function build (t: Type): Codec {
  switch (t.kind) {
    case 'bool': return prim((w, v) => {
      if (typeof v !== 'boolean') typeFail('a boolean', v)
      w.u8(v ? 1 : 0)
    }, r => {
      const b = r.u8()
      if (b > 1) fail('value-range', `bool byte must be 0 or 1, got ${b}`)
      return b === 1
    })
    case 'u8': return prim((w, v) => {
      if (typeof v !== 'number') typeFail('a number (u8)', v)
      if ((v & 0xff) !== v) fail('value-range', `${v} is not a u8`)
      w.u8(v)
    }, r => r.u8())
    case 's8': return prim((w, v) => {
      if (typeof v !== 'number') typeFail('a number (s8)', v)
      if (((v << 24) >> 24) !== v) fail('value-range', `${v} is not an s8`)
      w.u8(v & 0xff)
    }, r => (r.u8() << 24) >> 24)
    case 'u16': return prim((w, v) => {
      if (typeof v !== 'number') typeFail('a number (u16)', v)
      if ((v & 0xffff) !== v) fail('value-range', `${v} is not a u16`)
      w.u32(v)
    }, r => r.u16())
    case 's16': return prim((w, v) => {
      if (typeof v !== 'number') typeFail('a number (s16)', v)
      if (((v << 16) >> 16) !== v) fail('value-range', `${v} is not an s16`)
      w.s32(v)
    }, r => r.s16())
    case 'u32': return prim((w, v) => {
      if (typeof v !== 'number') typeFail('a number (u32)', v)
      if ((v >>> 0) !== v) fail('value-range', `${v} is not a u32`)
      w.u32(v)
    }, r => r.u32())
    case 's32': return prim((w, v) => {
      if (typeof v !== 'number') typeFail('a number (s32)', v)
      if ((v | 0) !== v) fail('value-range', `${v} is not an s32`)
      w.s32(v)
    }, r => r.s32())
    case 'u64': return prim((w, v) => { writeU64(w, v) }, r => r.u64())
    case 's64': return prim((w, v) => { writeS64(w, v) }, r => r.s64())
    case 'f32': return prim((w, v) => {
      if (typeof v !== 'number') typeFail('a number (f32)', v)
      w.f32(v)
    }, r => r.f32(), 4)
    case 'f64': return prim((w, v) => {
      if (typeof v !== 'number') typeFail('a number (f64)', v)
      w.f64(v)
    }, r => r.f64(), 8)
    case 'char': return prim(writeChar, readChar)
    case 'string': return prim((w, v) => {
      if (typeof v !== 'string') typeFail('a string', v)
      writeString(w, v)
    }, readString)
    case 'error-context': return prim(() => {
      fail('unsupported-type', 'error-context values have no wRPC encoding')
    }, () => fail('unsupported-type', 'error-context values have no wRPC encoding'))
    case 'list': return listCodec(t)
    case 'option': return optionCodec(t)
    case 'result': return resultCodec(t)
    case 'tuple': return tupleCodec(t)
    case 'record': return recordCodec(t)
    case 'variant': return variantCodec(t)
    case 'enum': return enumCodec(t)
    case 'flags': return flagsCodec(t)
    case 'own':
    case 'borrow': return handleCodec(t)
    case 'future': return futureCodec(t)
    case 'stream': return streamCodec(t)
    default: {
      const kind = (t as { kind?: unknown }).kind
      return fail('value-type', `unknown type kind ${String(kind)}`)
    }
  }
}

// ---------------------------------------------------------------- scalars

function writeU64 (w: ValueWriter, v: unknown): void {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) fail('value-range', `${v} is not a u64 (pass a bigint above 2^53)`)
    w.u32(v)
    return
  }
  if (typeof v !== 'bigint') typeFail('a bigint (u64)', v)
  if (v < 0n || v > MAX_U64) fail('value-range', `${v} is not a u64`)
  w.u64(v)
}

function writeS64 (w: ValueWriter, v: unknown): void {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) fail('value-range', `${v} is not an s64 (pass a bigint beyond 2^53)`)
    if ((v | 0) === v) w.s32(v)
    else w.s64(BigInt(v))
    return
  }
  if (typeof v !== 'bigint') typeFail('a bigint (s64)', v)
  if (v < MIN_S64 || v > MAX_S64) fail('value-range', `${v} is not an s64`)
  w.s64(v)
}

function writeChar (w: ValueWriter, v: unknown): void {
  if (typeof v !== 'string') typeFail('a one-character string (char)', v)
  let cp = -1
  if (v.length === 1) {
    const c = v.charCodeAt(0)
    if (c < 0xd800 || c > 0xdfff) cp = c
  } else if (v.length === 2) {
    const c = v.charCodeAt(0)
    const d = v.charCodeAt(1)
    if (c >= 0xd800 && c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000
  }
  if (cp < 0) {
    if (v.length > 0 && v.length <= 2 && !v.isWellFormed()) fail('invalid-utf8', 'char is a lone surrogate')
    fail('value-range', `char must be exactly one Unicode scalar value, got ${describe(v)}`)
  }
  w.ensure(4)
  const b = w.buf
  let p = w.pos
  if (cp < 0x80) b[p++] = cp
  else if (cp < 0x800) {
    b[p++] = 0xc0 | (cp >> 6)
    b[p++] = 0x80 | (cp & 0x3f)
  } else if (cp < 0x10000) {
    b[p++] = 0xe0 | (cp >> 12)
    b[p++] = 0x80 | ((cp >> 6) & 0x3f)
    b[p++] = 0x80 | (cp & 0x3f)
  } else {
    b[p++] = 0xf0 | (cp >> 18)
    b[p++] = 0x80 | ((cp >> 12) & 0x3f)
    b[p++] = 0x80 | ((cp >> 6) & 0x3f)
    b[p++] = 0x80 | (cp & 0x3f)
  }
  w.pos = p
}

function readChar (r: ValueReader): string {
  const b0 = r.u8()
  if (b0 < 0x80) return String.fromCharCode(b0)
  let n: number
  let cp: number
  let min: number
  if ((b0 & 0xe0) === 0xc0) {
    n = 1; cp = b0 & 0x1f; min = 0x80
  } else if ((b0 & 0xf0) === 0xe0) {
    n = 2; cp = b0 & 0x0f; min = 0x800
  } else if ((b0 & 0xf8) === 0xf0) {
    n = 3; cp = b0 & 0x07; min = 0x10000
  } else {
    return fail('invalid-utf8', `char starts with byte 0x${b0.toString(16)}`)
  }
  r.need(n)
  const b = r.bytes
  for (let i = 0; i < n; i++) {
    const x = b[r.pos++]
    if ((x & 0xc0) !== 0x80) fail('invalid-utf8', 'char has a bad continuation byte')
    cp = (cp << 6) | (x & 0x3f)
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail('invalid-utf8', 'char is not a Unicode scalar value')
  return String.fromCodePoint(cp)
}

/** Short strings are encoded inline; the length prefix of a string of at most 42 UTF-16 units fits one byte. */
const SHORT_STRING = 42

function writeString (w: ValueWriter, s: string): void {
  const len = s.length
  if (len <= SHORT_STRING) {
    w.ensure(1 + len * 3)
    const b = w.buf
    const start = w.pos + 1
    let p = start
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i)
      if (c < 0x80) b[p++] = c
      else if (c < 0x800) {
        b[p++] = 0xc0 | (c >> 6)
        b[p++] = 0x80 | (c & 0x3f)
      } else if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < len ? s.charCodeAt(i + 1) : 0
        if (c > 0xdbff || d < 0xdc00 || d > 0xdfff) fail('invalid-utf8', `string has a lone surrogate at index ${i}`)
        i++
        const cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000
        b[p++] = 0xf0 | (cp >> 18)
        b[p++] = 0x80 | ((cp >> 12) & 0x3f)
        b[p++] = 0x80 | ((cp >> 6) & 0x3f)
        b[p++] = 0x80 | (cp & 0x3f)
      } else {
        b[p++] = 0xe0 | (c >> 12)
        b[p++] = 0x80 | ((c >> 6) & 0x3f)
        b[p++] = 0x80 | (c & 0x3f)
      }
    }
    b[w.pos] = p - start
    w.pos = p
    return
  }
  if (!s.isWellFormed()) fail('invalid-utf8', 'string has a lone surrogate')
  let room = len * 3
  if (w.pos + room + 5 > w.maxBytes) room = utf8Length(s)
  const reserve = lebSize(room)
  w.ensure(reserve + room)
  const at0 = w.pos
  const { written } = utf8Encoder.encodeInto(s, w.buf.subarray(at0 + reserve, at0 + reserve + room))
  if (written > w.maxListLength) fail('limit-exceeded', `string of ${written} bytes exceeds maxListLength (${w.maxListLength})`)
  const size = lebSize(written)
  if (size < reserve) w.buf.copyWithin(at0 + size, at0 + reserve, at0 + reserve + written)
  w.u32(written)
  w.pos += written
}

function utf8Length (s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

function readString (r: ValueReader): string {
  const n = r.u32()
  if (n > r.maxListLength) fail('limit-exceeded', `string of ${n} bytes exceeds maxListLength (${r.maxListLength})`)
  r.need(n)
  const b = r.bytes
  const p = r.pos
  if (n <= 16) {
    let s = ''
    let i = 0
    for (; i < n; i++) {
      const c = b[p + i]
      if (c >= 0x80) break
      s += String.fromCharCode(c)
    }
    if (i === n) {
      r.pos = p + n
      return s
    }
  }
  let s: string
  try {
    s = utf8Decoder.decode(b.subarray(p, p + n))
  } catch {
    return fail('invalid-utf8', 'string is not valid UTF-8')
  }
  r.pos = p + n
  return s
}

// ---------------------------------------------------------------- lists

type TypedCtor =
  | Uint8ArrayConstructor | Int8ArrayConstructor | Uint16ArrayConstructor | Int16ArrayConstructor
  | Uint32ArrayConstructor | Int32ArrayConstructor | BigUint64ArrayConstructor | BigInt64ArrayConstructor
  | Float32ArrayConstructor | Float64ArrayConstructor

const TYPED: Partial<Record<Type['kind'], TypedCtor>> = {
  u8: Uint8Array,
  s8: Int8Array,
  u16: Uint16Array,
  s16: Int16Array,
  u32: Uint32Array,
  s32: Int32Array,
  u64: BigUint64Array,
  s64: BigInt64Array,
  f32: Float32Array,
  f64: Float64Array
}

function listCodec (t: ListType): Codec {
  const elem = codecOf(t.element)
  const body = listBody(t.element.kind, elem)
  const fixed = t.length
  const depth = elem.depth + 1
  if (fixed !== undefined) {
    return {
      depth,
      async: elem.async,
      minBytes: fixed * elem.minBytes,
      body,
      itemMinBytes: elem.minBytes,
      enc: (w, v) => {
        const n = body.length(v)
        if (n < 0) typeFail(`a list of ${fixed}`, v)
        if (n !== fixed) fail('value-type', `expected a list of exactly ${fixed} elements, got ${n}`)
        body.enc(w, v, n)
      },
      dec: r => {
        r.need(fixed * elem.minBytes)
        return body.dec(r, fixed, 0)
      }
    }
  }
  return {
    depth,
    async: elem.async,
    minBytes: 1,
    body,
    itemMinBytes: elem.minBytes,
    enc: (w, v) => {
      const n = body.length(v)
      if (n < 0) typeFail('a list', v)
      if (n > w.maxListLength) fail('limit-exceeded', `list of ${n} elements exceeds maxListLength (${w.maxListLength})`)
      w.u32(n)
      body.enc(w, v, n)
    },
    dec: r => readItems(r, body, elem.minBytes, r.u32(), 0)
  }
}

/** Reads `n` items after a declared count: bounded by maxListLength and by the bytes that remain, before allocating. */
function readItems (r: ValueReader, body: ListBody, itemMinBytes: number, n: number, first: number): unknown {
  if (n > r.maxListLength) fail('limit-exceeded', `list of ${n} elements exceeds maxListLength (${r.maxListLength})`)
  r.need(n * itemMinBytes)
  return body.dec(r, n, first)
}

function listBody (kind: Type['kind'], elem: Codec): ListBody {
  const Typed = TYPED[kind]
  return Typed !== undefined ? typedBody(kind, Typed, elem) : genericBody(elem)
}

function arrayLength (v: unknown): number {
  return Array.isArray(v) ? v.length : -1
}

function genericBody (elem: Codec): ListBody {
  const { enc, dec } = elem
  if (elem.async) {
    return {
      length: arrayLength,
      enc: (w, v, n) => {
        const a = v as unknown[]
        const base = w.index.length
        w.index.push(0)
        let i = 0
        try {
          for (; i < n; i++) {
            w.index[base] = i
            enc(w, a[i])
          }
        } catch (err) {
          throw at(err, `[${i}]`)
        }
        w.index.length = base
      },
      dec: (r, n, first) => {
        const out = new Array<unknown>(n)
        const base = r.index.length
        r.index.push(0)
        let i = 0
        try {
          for (; i < n; i++) {
            r.index[base] = first + i
            out[i] = dec(r)
          }
        } catch (err) {
          throw at(err, `[${first + i}]`)
        }
        r.index.length = base
        return out
      }
    }
  }
  return {
    length: arrayLength,
    enc: (w, v, n) => {
      const a = v as unknown[]
      let i = 0
      try {
        for (; i < n; i++) enc(w, a[i])
      } catch (err) {
        throw at(err, `[${i}]`)
      }
    },
    dec: (r, n, first) => {
      const out = new Array<unknown>(n)
      let i = 0
      try {
        for (; i < n; i++) out[i] = dec(r)
      } catch (err) {
        throw at(err, `[${first + i}]`)
      }
      return out
    }
  }
}

type Typed = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | BigUint64Array | BigInt64Array | Float32Array | Float64Array

function typedBody (kind: Type['kind'], Ctor: TypedCtor, elem: Codec): ListBody {
  const generic = genericBody(elem)
  const rawBytes = (v: Typed): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
  let encTyped: (w: ValueWriter, v: Typed, n: number) => void
  let decTyped: (r: ValueReader, n: number) => unknown
  switch (kind) {
    case 'u8':
      encTyped = (w, v) => { w.payload(v as Uint8Array) }
      decTyped = (r, n) => r.bytesOf(n)
      break
    case 's8':
      encTyped = (w, v) => { w.payload(rawBytes(v)) }
      decTyped = (r, n) => {
        const u = r.bytesOf(n)
        return new Int8Array(u.buffer, u.byteOffset, n)
      }
      break
    case 'f32':
    case 'f64': {
      const size = kind === 'f32' ? 4 : 8
      encTyped = littleEndian
        ? (w, v) => { w.payload(rawBytes(v)) }
        : (w, v, n) => { for (let i = 0; i < n; i++) size === 4 ? w.f32(v[i] as number) : w.f64(v[i] as number) }
      decTyped = (r, n) => {
        if (littleEndian) {
          const u = r.copy(n * size)
          return size === 4 ? new Float32Array(u.buffer, 0, n) : new Float64Array(u.buffer, 0, n)
        }
        const out = size === 4 ? new Float32Array(n) : new Float64Array(n)
        for (let i = 0; i < n; i++) out[i] = size === 4 ? r.f32() : r.f64()
        return out
      }
      break
    }
    case 'u16':
    case 'u32':
      encTyped = (w, v, n) => { for (let i = 0; i < n; i++) w.u32(v[i] as number) }
      decTyped = kind === 'u16'
        ? (r, n) => { const out = new Uint16Array(n); for (let i = 0; i < n; i++) out[i] = r.u16(); return out }
        : (r, n) => { const out = new Uint32Array(n); for (let i = 0; i < n; i++) out[i] = r.u32(); return out }
      break
    case 's16':
    case 's32':
      encTyped = (w, v, n) => { for (let i = 0; i < n; i++) w.s32(v[i] as number) }
      decTyped = kind === 's16'
        ? (r, n) => { const out = new Int16Array(n); for (let i = 0; i < n; i++) out[i] = r.s16(); return out }
        : (r, n) => { const out = new Int32Array(n); for (let i = 0; i < n; i++) out[i] = r.s32(); return out }
      break
    case 'u64':
      encTyped = (w, v, n) => { for (let i = 0; i < n; i++) w.u64(v[i] as bigint) }
      decTyped = (r, n) => { const out = new BigUint64Array(n); for (let i = 0; i < n; i++) out[i] = r.u64(); return out }
      break
    default:
      encTyped = (w, v, n) => { for (let i = 0; i < n; i++) w.s64(v[i] as bigint) }
      decTyped = (r, n) => { const out = new BigInt64Array(n); for (let i = 0; i < n; i++) out[i] = r.s64(); return out }
  }
  return {
    length: v => v instanceof Ctor ? (v as Typed).length : arrayLength(v),
    enc: (w, v, n) => {
      if (v instanceof Ctor) encTyped(w, v as Typed, n)
      else generic.enc(w, v, n)
    },
    dec: (r, n) => decTyped(r, n)
  }
}

// ---------------------------------------------------------------- option, result, variant, enum

function optionCodec (t: OptionType): Codec {
  const inner = codecOf(t.some)
  const tagged = isTaggedOption(t)
  const base = { depth: inner.depth + 1, async: inner.async, minBytes: 1 }
  if (!tagged) {
    return {
      ...base,
      enc: (w, v) => {
        if (v === undefined || v === null) {
          w.u8(0)
          return
        }
        w.u8(1)
        inner.enc(w, v)
      },
      dec: r => {
        const b = r.u8()
        if (b === 0) return undefined
        if (b !== 1) fail('unknown-discriminant', `option discriminant ${b}`)
        return inner.dec(r)
      }
    }
  }
  return {
    ...base,
    enc: (w, v) => {
      const tag = tagOf(v, "an option object { tag: 'some', val } or { tag: 'none' }")
      if (tag === 'none') {
        w.u8(0)
      } else if (tag === 'some') {
        w.u8(1)
        try {
          inner.enc(w, (v as { val?: unknown }).val)
        } catch (err) {
          throw at(err, '.val')
        }
      } else {
        fail('value-type', `option tag must be 'some' or 'none', got ${describe(tag)}`)
      }
    },
    dec: r => {
      const b = r.u8()
      if (b === 0) return { tag: 'none' }
      if (b !== 1) fail('unknown-discriminant', `option discriminant ${b}`)
      try {
        return { tag: 'some', val: inner.dec(r) }
      } catch (err) {
        throw at(err, '.val')
      }
    }
  }
}

function tagOf (v: unknown, expected: string): unknown {
  if (typeof v !== 'object' || v === null) typeFail(expected, v)
  return (v as { tag?: unknown }).tag
}

function resultCodec (t: ResultType): Codec {
  const ok = t.ok === null ? null : codecOf(t.ok)
  const err = t.err === null ? null : codecOf(t.err)
  const sides = [ok, err]
  return {
    depth: 1 + Math.max(ok?.depth ?? 0, err?.depth ?? 0),
    async: (ok?.async ?? false) || (err?.async ?? false),
    minBytes: 1 + Math.min(ok?.minBytes ?? 0, err?.minBytes ?? 0),
    enc: (w, v) => {
      const tag = tagOf(v, "a result object { tag: 'ok' | 'err', val }")
      const d = tag === 'ok' ? 0 : tag === 'err' ? 1 : fail('value-type', `result tag must be 'ok' or 'err', got ${describe(tag)}`)
      w.u8(d)
      const c = sides[d]
      if (c !== null) {
        try {
          c.enc(w, (v as { val?: unknown }).val)
        } catch (e) {
          throw at(e, '.val')
        }
      }
    },
    dec: r => {
      const d = r.u8()
      if (d > 1) fail('unknown-discriminant', `result discriminant ${d}`)
      const c = sides[d]
      let val: unknown
      if (c !== null) {
        try {
          val = c.dec(r)
        } catch (e) {
          throw at(e, '.val')
        }
      }
      return { tag: d === 0 ? 'ok' : 'err', val }
    }
  }
}

function variantCodec (t: VariantType): Codec {
  const cases = t.cases.map(c => ({ name: c.name, codec: c.type === null ? null : codecOf(c.type) }))
  const byName = new Map(cases.map((c, i) => [c.name, i]))
  let depth = 0
  let minPayload = cases.length === 0 ? 0 : Number.POSITIVE_INFINITY
  let async = false
  for (const c of cases) {
    depth = Math.max(depth, c.codec?.depth ?? 0)
    minPayload = Math.min(minPayload, c.codec?.minBytes ?? 0)
    async ||= c.codec?.async ?? false
  }
  const label = t.name !== undefined ? `variant ${t.name}` : 'variant'
  return {
    depth: depth + 1,
    async,
    minBytes: 1 + minPayload,
    enc: (w, v) => {
      const tag = tagOf(v, `a ${label} object { tag, val }`)
      const i = typeof tag === 'string' ? byName.get(tag) : undefined
      if (i === undefined) fail('value-type', `${describe(tag)} is not a case of ${label} (${cases.map(c => c.name).join(', ')})`)
      w.u32(i)
      const c = cases[i].codec
      if (c !== null) {
        try {
          c.enc(w, (v as { val?: unknown }).val)
        } catch (err) {
          throw at(err, '.val')
        }
      }
    },
    dec: r => {
      const i = r.u32()
      const k = cases[i]
      if (k === undefined) fail('unknown-discriminant', `${label} has no case ${i}`)
      if (k.codec === null) return { tag: k.name }
      try {
        return { tag: k.name, val: k.codec.dec(r) }
      } catch (err) {
        throw at(err, '.val')
      }
    }
  }
}

function enumCodec (t: EnumType): Codec {
  const cases = t.cases
  const byName = new Map(cases.map((c, i) => [c, i]))
  const label = t.name !== undefined ? `enum ${t.name}` : 'enum'
  return prim((w, v) => {
    if (typeof v !== 'string') typeFail(`a case name of ${label}`, v)
    const i = byName.get(v)
    if (i === undefined) fail('value-type', `${describe(v)} is not a case of ${label} (${cases.join(', ')})`)
    w.u32(i)
  }, r => {
    const i = r.u32()
    if (i >= cases.length) fail('unknown-discriminant', `${label} has no case ${i}`)
    return cases[i]
  })
}

// ---------------------------------------------------------------- tuple, record, flags

function tupleCodec (t: TupleType): Codec {
  const codecs = t.elements.map(codecOf)
  const n = codecs.length
  const async = codecs.some(c => c.async)
  return {
    depth: 1 + Math.max(0, ...codecs.map(c => c.depth)),
    async,
    minBytes: codecs.reduce((s, c) => s + c.minBytes, 0),
    enc: (w, v) => {
      if (!Array.isArray(v)) typeFail(`a tuple (array of ${n})`, v)
      if (v.length !== n) fail('value-type', `expected a tuple of ${n} elements, got ${v.length}`)
      const base = w.index.length
      if (async) w.index.push(0)
      let i = 0
      try {
        for (; i < n; i++) {
          if (async) w.index[base] = i
          codecs[i].enc(w, v[i])
        }
      } catch (err) {
        throw at(err, `[${i}]`)
      }
      if (async) w.index.length = base
    },
    dec: r => {
      const out = new Array<unknown>(n)
      const base = r.index.length
      if (async) r.index.push(0)
      let i = 0
      try {
        for (; i < n; i++) {
          if (async) r.index[base] = i
          out[i] = codecs[i].dec(r)
        }
      } catch (err) {
        throw at(err, `[${i}]`)
      }
      if (async) r.index.length = base
      return out
    }
  }
}

function recordCodec (t: RecordType): Codec {
  const n = t.fields.length
  const codecs = t.fields.map(f => codecOf(f.type))
  const keys = t.fields.map(f => toJsName(f.name))
  const segments = keys.map(fieldSegment)
  // a field named like an Object.prototype member (`to-string`) must not read the inherited one
  const inherited = keys.map(k => k in Object.prototype)
  const anyInherited = inherited.some(Boolean)
  const known = new Set(keys)
  const async = codecs.some(c => c.async)
  const label = t.name !== undefined ? `record ${t.name}` : 'record'
  return {
    depth: 1 + Math.max(0, ...codecs.map(c => c.depth)),
    async,
    minBytes: codecs.reduce((s, c) => s + c.minBytes, 0),
    enc: (w, v) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) typeFail(`an object (${label})`, v)
      const o = v as Record<string, unknown>
      const base = async ? w.index.length : 0
      if (async) w.index.push(0)
      let present = 0
      let i = 0
      try {
        for (; i < n; i++) {
          if (async) w.index[base] = i
          const x = anyInherited && inherited[i] && !Object.hasOwn(o, keys[i]) ? undefined : o[keys[i]]
          if (x !== undefined) present++
          codecs[i].enc(w, x)
        }
      } catch (err) {
        throw at(err, segments[i])
      }
      if (async) w.index.length = base
      // cheap check first: count keys; only when there are more than fields set, look for the stranger
      let count = 0
      for (const _ in o) count++
      if (count > present) {
        for (const k in o) {
          if (Object.hasOwn(o, k) && !known.has(k)) fail('value-type', `unknown field ${JSON.stringify(k)} for ${label} (fields: ${keys.join(', ')})`)
        }
      }
    },
    dec: r => {
      const out: Record<string, unknown> = {}
      const base = r.index.length
      if (async) r.index.push(0)
      let i = 0
      try {
        for (; i < n; i++) {
          if (async) r.index[base] = i
          out[keys[i]] = codecs[i].dec(r)
        }
      } catch (err) {
        throw at(err, segments[i])
      }
      if (async) r.index.length = base
      return out
    }
  }
}

/** wRPC writes ceil(n/8) bytes of flags, and one byte when there are none (its codec's smallest width). */
function flagsBytes (n: number): number {
  return n === 0 ? 1 : Math.ceil(n / 8)
}

function flagsCodec (t: FlagsType): Codec {
  const n = t.flags.length
  const keys = t.flags.map(toJsName)
  const bit = new Map(keys.map((k, i) => [k, i]))
  const size = flagsBytes(n)
  const label = t.name !== undefined ? `flags ${t.name}` : 'flags'
  const spare = n % 8 === 0 ? (n === 0 ? 0xff : 0) : (0xff << (n % 8)) & 0xff
  return prim((w, v) => {
    if (v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v))) typeFail(`an object of booleans (${label})`, v)
    w.ensure(size)
    const b = w.buf
    const p = w.pos
    b.fill(0, p, p + size)
    if (v != null) {
      const o = v as Record<string, unknown>
      for (const k in o) {
        if (!Object.hasOwn(o, k)) continue
        const i = bit.get(k)
        if (i === undefined) fail('invalid-flags', `unknown flag ${JSON.stringify(k)} for ${label} (flags: ${keys.join(', ')})`)
        const x = o[k]
        if (x === true) b[p + (i >> 3)] |= 1 << (i & 7)
        else if (x !== false && x !== undefined) fail('value-type', `flag ${k} must be a boolean, got ${describe(x)}`)
      }
    }
    w.pos = p + size
  }, r => {
    r.need(size)
    const b = r.bytes
    const p = r.pos
    if ((b[p + size - 1] & spare) !== 0) fail('invalid-flags', `bits set beyond the last flag of ${label}`)
    const out: Record<string, boolean> = {}
    for (let i = 0; i < n; i++) out[keys[i]] = ((b[p + (i >> 3)] >> (i & 7)) & 1) === 1
    r.pos = p + size
    return out
  }, size)
}

// ---------------------------------------------------------------- handles, futures, streams

function handleCodec (t: HandleType): Codec {
  return prim((w, v) => {
    if (!(v instanceof Uint8Array)) typeFail(`a Uint8Array handle (${t.kind}<${t.resource.name}>)`, v)
    w.u32(v.length)
    w.bytes(v)
  }, r => {
    const n = r.u32()
    if (n > r.maxListLength) fail('limit-exceeded', `handle of ${n} bytes exceeds maxListLength (${r.maxListLength})`)
    return r.bytesOf(n)
  })
}

function isThenable (v: unknown): boolean {
  return (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function'
}

function isAsyncIterable (v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
}

function pending (w: ValueWriter, t: FutureType | StreamType, v: unknown, why: string): void {
  if (w.onAsync === undefined) fail('async-unsupported', `${why}, which needs a session to send it`)
  w.u8(0)
  w.onAsync(w.index.slice(), t, v)
}

function received (r: ValueReader, t: FutureType | StreamType): unknown {
  if (r.onPending === undefined) fail('async-unsupported', `pending ${t.kind} where no session can receive it`)
  return r.onPending(r.index.slice(), t)
}

/** The element of a unit stream (`stream`) or value of a unit future: no bytes, `undefined` in JS. */
const unitCodec: Codec = prim(() => {}, () => undefined, 0)

function futureCodec (t: FutureType): Codec {
  const inner = t.element === null ? unitCodec : codecOf(t.element)
  return {
    depth: inner.depth + 1,
    async: true,
    minBytes: 1,
    enc: (w, v) => {
      if (isThenable(v)) {
        pending(w, t, v, 'a pending future (Promise)')
        return
      }
      w.u8(1)
      inner.enc(w, v)
    },
    dec: r => {
      const b = r.u8()
      if (b === 0) return received(r, t)
      if (b !== 1) fail('unknown-discriminant', `future discriminant ${b}`)
      return inner.dec(r)
    }
  }
}

function streamCodec (t: StreamType): Codec {
  const elem = t.element === null ? unitCodec : codecOf(t.element)
  const body = t.element === null
    ? unitBody()
    : listBody(t.element.kind, elem)
  return {
    depth: elem.depth + 1,
    async: true,
    minBytes: 1,
    body,
    itemMinBytes: elem.minBytes,
    enc: (w, v) => {
      const n = body.length(v)
      if (n < 0) {
        if (isAsyncIterable(v)) {
          pending(w, t, v, 'a pending stream (AsyncIterable)')
          return
        }
        typeFail('a list or an AsyncIterable of chunks (stream)', v)
      }
      // wRPC reads a zero count as "pending": an empty stream can only be sent as pending + end
      if (n === 0) {
        pending(w, t, v, 'an empty stream (wRPC sends it as pending, then an empty chunk)')
        return
      }
      if (n > w.maxListLength) fail('limit-exceeded', `stream of ${n} elements exceeds maxListLength (${w.maxListLength})`)
      w.u32(n)
      body.enc(w, v, n)
    },
    dec: r => {
      const n = r.u32()
      if (n === 0) return received(r, t)
      return readItems(r, body, elem.minBytes, n, 0)
    }
  }
}

function unitBody (): ListBody {
  return {
    length: arrayLength,
    enc: () => {},
    dec: (_r, n) => new Array<unknown>(n).fill(undefined)
  }
}
