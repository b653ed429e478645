// LEB128 integers and the growable byte writer / bounded byte reader shared by the value and frame codecs.

import { ProtocolError } from './errors.ts'

const TWO_32 = 4294967296

/** The number of bytes `n` (an unsigned integer below 2^53) takes as unsigned LEB128. */
export function lebSize (n: number): number {
  let size = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    size++
  }
  return size
}

/**
 * A byte buffer that doubles as it fills. Writes never allocate except when
 * the buffer grows, so encoding a whole value costs one buffer.
 */
export class ByteWriter {
  buf: Uint8Array
  /** Made on the first float written: most values have none, and a DataView per writer shows in profiles. */
  #view: DataView | undefined
  pos: number
  /** Growing past this many bytes fails with `limit-exceeded`. */
  maxBytes: number

  constructor (initialBytes = 256, maxBytes = Number.MAX_SAFE_INTEGER) {
    this.maxBytes = maxBytes
    this.buf = new Uint8Array(Math.max(0, Math.min(initialBytes, maxBytes)))
    this.pos = 0
  }

  /** A DataView of the current buffer. */
  get view (): DataView {
    if (this.#view === undefined || this.#view.buffer !== this.buf.buffer) this.#view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength)
    return this.#view
  }

  /** Makes room for `n` more bytes. */
  ensure (n: number): void {
    if (this.pos + n > this.buf.length) this.grow(this.pos + n)
  }

  private grow (needed: number): void {
    if (needed > this.maxBytes) {
      throw new ProtocolError('limit-exceeded', `encoded value exceeds maxValueBytes (${this.maxBytes})`)
    }
    const size = Math.min(Math.max(needed, this.buf.length * 2, 64), this.maxBytes)
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }

  u8 (b: number): void {
    if (this.pos >= this.buf.length) this.grow(this.pos + 1)
    this.buf[this.pos++] = b
  }

  bytes (src: Uint8Array): void {
    this.ensure(src.length)
    this.buf.set(src, this.pos)
    this.pos += src.length
  }

  /** Unsigned LEB128 of an integer in [0, 2^53). */
  u32 (v: number): void {
    if (v < 0x80) {
      this.u8(v)
      return
    }
    this.ensure(8)
    const b = this.buf
    let p = this.pos
    if (v <= 0xffffffff) {
      while (v >= 0x80) {
        b[p++] = (v & 0x7f) | 0x80
        v >>>= 7
      }
    } else {
      while (v >= 0x80) {
        b[p++] = (v % 128) | 0x80
        v = Math.floor(v / 128)
      }
    }
    b[p++] = v
    this.pos = p
  }

  /** Signed LEB128 of an integer in [-2^31, 2^31). */
  s32 (v: number): void {
    this.ensure(5)
    const b = this.buf
    let p = this.pos
    for (;;) {
      const byte = v & 0x7f
      v >>= 7
      if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
        b[p++] = byte
        break
      }
      b[p++] = byte | 0x80
    }
    this.pos = p
  }

  /** Unsigned LEB128 of a bigint in [0, 2^64). */
  u64 (v: bigint): void {
    if (v < 0x100000000n) {
      this.u32(Number(v))
      return
    }
    let lo = Number(v & 0xffffffffn)
    let hi = Number(v >> 32n)
    this.ensure(10)
    const b = this.buf
    let p = this.pos
    for (;;) {
      const byte = lo & 0x7f
      lo = ((lo >>> 7) | (hi << 25)) >>> 0
      hi = hi >>> 7
      if (hi === 0 && lo === 0) {
        b[p++] = byte
        break
      }
      b[p++] = byte | 0x80
    }
    this.pos = p
  }

  /** Signed LEB128 of a bigint in [-2^63, 2^63). */
  s64 (v: bigint): void {
    if (v >= -0x80000000n && v < 0x80000000n) {
      this.s32(Number(v))
      return
    }
    const u = BigInt.asUintN(64, v)
    let lo = Number(u & 0xffffffffn)
    let hi = Number(u >> 32n) | 0
    this.ensure(10)
    const b = this.buf
    let p = this.pos
    for (;;) {
      const byte = lo & 0x7f
      lo = ((lo >>> 7) | (hi << 25)) >>> 0
      hi = hi >> 7
      if ((hi === 0 && lo === 0 && (byte & 0x40) === 0) || (hi === -1 && lo === 0xffffffff && (byte & 0x40) !== 0)) {
        b[p++] = byte
        break
      }
      b[p++] = byte | 0x80
    }
    this.pos = p
  }

  f32 (v: number): void {
    this.ensure(4)
    this.view.setFloat32(this.pos, v, true)
    this.pos += 4
  }

  f64 (v: number): void {
    this.ensure(8)
    this.view.setFloat64(this.pos, v, true)
    this.pos += 8
  }

  /** The bytes written so far (a view of the internal buffer: do not keep writing after taking it). */
  finish (): Uint8Array {
    return this.buf.subarray(0, this.pos)
  }
}

/**
 * A cursor over received bytes. Every read checks the input first: running
 * past the end throws `truncated` with `needBytes` (the least total input
 * length that could succeed), running past `limit` throws `limit-exceeded`.
 */
export class ByteReader {
  bytes: Uint8Array
  pos: number
  end: number
  /** Reading past this absolute offset fails with `limit-exceeded` instead of `truncated`. */
  limit: number
  limitName: string
  /** min(end, limit): reads stop here. */
  protected stop: number
  private dv: DataView | undefined

  constructor (bytes: Uint8Array, offset = 0, end = bytes.length) {
    this.bytes = bytes
    this.pos = offset
    this.end = end
    this.limit = Number.POSITIVE_INFINITY
    this.limitName = 'maxValueBytes'
    this.stop = end
  }

  /** Sets the absolute offset past which reads fail with `limit-exceeded`. */
  setLimit (limit: number, name = this.limitName): void {
    this.limit = limit
    this.limitName = name
    this.stop = Math.min(this.end, limit)
  }

  get remaining (): number {
    return this.end - this.pos
  }

  /** Fails unless `n` more bytes are available. */
  need (n: number): void {
    if (this.pos + n > this.stop) this.short(n)
  }

  short (n: number): never {
    const needBytes = this.pos + n
    if (needBytes > this.limit) {
      throw new ProtocolError('limit-exceeded', `value needs ${needBytes - this.pos} more bytes, over ${this.limitName}`)
    }
    throw new ProtocolError('truncated', `input ended: ${needBytes - this.end} more bytes needed`, undefined, { needBytes })
  }

  u8 (): number {
    if (this.pos >= this.stop) this.short(1)
    return this.bytes[this.pos++]
  }

  /** `n` bytes as a view into the input. */
  view (n: number): Uint8Array {
    this.need(n)
    const start = this.pos
    this.pos += n
    return this.bytes.subarray(start, start + n)
  }

  /** `n` bytes copied out of the input. */
  copy (n: number): Uint8Array {
    this.need(n)
    const start = this.pos
    this.pos += n
    return this.bytes.slice(start, start + n)
  }

  private uleb (maxBytes: number, lastMax: number, what: string): number {
    let result = 0
    let mul = 1
    for (let i = 0; ; i++) {
      const byte = this.u8()
      if (i === maxBytes - 1) {
        if (byte > lastMax) throw this.bad(byte & 0x80 ? `${what}: longer than ${maxBytes} bytes` : `${what}: value out of range`)
        return result + byte * mul
      }
      result += (byte & 0x7f) * mul
      if ((byte & 0x80) === 0) return result
      mul *= 128
    }
  }

  private sleb (maxBytes: number, min: number, max: number, what: string): number {
    let result = 0
    let mul = 1
    for (let i = 0; ; i++) {
      const byte = this.u8()
      result += (byte & 0x7f) * mul
      mul *= 128
      if ((byte & 0x80) === 0) {
        if (byte & 0x40) result -= mul
        if (result < min || result > max) throw this.bad(`${what}: value out of range`)
        return result
      }
      if (i === maxBytes - 1) throw this.bad(`${what}: longer than ${maxBytes} bytes`)
    }
  }

  private bad (message: string): ProtocolError {
    return new ProtocolError('invalid-leb128', message)
  }

  /** Unsigned LEB128 u32: at most 5 bytes, no bits beyond 32. */
  u32 (): number {
    if (this.pos < this.stop) {
      const b = this.bytes[this.pos]
      if (b < 0x80) {
        this.pos++
        return b
      }
    }
    return this.uleb(5, 0x0f, 'u32')
  }

  u16 (): number {
    return this.uleb(3, 0x03, 'u16')
  }

  s16 (): number {
    return this.sleb(3, -0x8000, 0x7fff, 's16')
  }

  s32 (): number {
    if (this.pos < this.stop) {
      const b = this.bytes[this.pos]
      if (b < 0x40) {
        this.pos++
        return b
      }
    }
    return this.sleb(5, -0x80000000, 0x7fffffff, 's32')
  }

  u64 (): bigint {
    if (this.pos < this.stop) {
      const b = this.bytes[this.pos]
      if (b < 0x80) {
        this.pos++
        return BigInt(b)
      }
    }
    return this.leb64(false)
  }

  s64 (): bigint {
    return this.leb64(true)
  }

  private leb64 (signed: boolean): bigint {
    let lo = 0
    let hi = 0
    let shift = 0
    for (let i = 0; ; i++) {
      const byte = this.u8()
      const x = byte & 0x7f
      if (i === 9) {
        if (byte & 0x80) throw this.bad(`${signed ? 's64' : 'u64'}: longer than 10 bytes`)
        if (signed ? x !== 0 && x !== 0x7f : x > 1) throw this.bad(`${signed ? 's64' : 'u64'}: value out of range`)
        hi |= x << 31
        break
      }
      if (shift < 32) {
        lo |= x << shift
        if (shift > 25) hi |= x >>> (32 - shift)
      } else {
        hi |= x << (shift - 32)
      }
      shift += 7
      if ((byte & 0x80) === 0) {
        if (signed && (x & 0x40) !== 0) {
          if (shift < 32) {
            lo |= -1 << shift
            hi = -1
          } else {
            hi |= -1 << (shift - 32)
          }
        }
        break
      }
    }
    lo >>>= 0
    if (signed) {
      if (hi === 0 && lo < 0x80000000) return BigInt(lo)
      if (hi === -1 && lo >= 0x80000000) return BigInt(lo - TWO_32)
      return (BigInt(hi) << 32n) | BigInt(lo)
    }
    if (hi === 0) return BigInt(lo)
    return (BigInt(hi >>> 0) << 32n) | BigInt(lo)
  }

  private dataView (): DataView {
    if (this.dv === undefined) {
      const b = this.bytes
      this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
    }
    return this.dv
  }

  f32 (): number {
    this.need(4)
    const v = this.dataView().getFloat32(this.pos, true)
    this.pos += 4
    return v
  }

  f64 (): number {
    this.need(8)
    const v = this.dataView().getFloat64(this.pos, true)
    this.pos += 8
    return v
  }
}
