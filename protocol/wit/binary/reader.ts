// A bounds-checked cursor over component bytes: LEB128 integers, names and length-prefixed sub-readers.

import { ComponentDecodeError } from './errors.ts'

const utf8 = new TextDecoder('utf-8', { fatal: true })

export class Reader {
  readonly bytes: Uint8Array
  pos: number
  readonly end: number

  constructor (bytes: Uint8Array, pos = 0, end = bytes.length) {
    this.bytes = bytes
    this.pos = pos
    this.end = end
  }

  get remaining (): number {
    return this.end - this.pos
  }

  fail (reason: string, at = this.pos): never {
    throw new ComponentDecodeError('invalid-component', reason, at)
  }

  u8 (): number {
    if (this.pos >= this.end) this.fail('unexpected end of input')
    return this.bytes[this.pos++]
  }

  peek (): number {
    if (this.pos >= this.end) this.fail('unexpected end of input')
    return this.bytes[this.pos]
  }

  /** Unsigned LEB128 of at most 5 bytes whose value fits in 32 bits. */
  u32 (): number {
    const start = this.pos
    let value = 0
    for (let i = 0; i < 5; i++) {
      const b = this.u8()
      if (i === 4 && (b & 0xf0) !== 0) this.fail('LEB128 integer does not fit in 32 bits', start)
      value += (b & 0x7f) * 2 ** (7 * i)
      if ((b & 0x80) === 0) return value
    }
    return this.fail('LEB128 integer does not fit in 32 bits', start)
  }

  /** A non-negative signed LEB128 (s33) index of at most 5 bytes that fits in 32 bits. */
  s33Index (): number {
    const start = this.pos
    let value = 0
    for (let i = 0; i < 5; i++) {
      const b = this.u8()
      if (i === 4 && (b & 0xf0) !== 0) this.fail('type index does not fit in 32 bits', start)
      value += (b & 0x7f) * 2 ** (7 * i)
      if ((b & 0x80) === 0) {
        if (i < 4 && (b & 0x40) !== 0) this.fail(`unknown type opcode 0x${this.bytes[start].toString(16)}`, start)
        return value
      }
    }
    return this.fail('type index does not fit in 32 bits', start)
  }

  /** A vector length: every element takes at least one byte, so more than the bytes left is malformed. */
  count (what: string): number {
    const at = this.pos
    const n = this.u32()
    if (n > this.remaining) this.fail(`${what} count ${n} exceeds the ${this.remaining} bytes left`, at)
    return n
  }

  /** A length-prefixed UTF-8 string. */
  name (): string {
    const at = this.pos
    const len = this.u32()
    if (len > this.remaining) this.fail(`name of ${len} bytes exceeds the ${this.remaining} bytes left`, at)
    const bytes = this.bytes.subarray(this.pos, this.pos + len)
    this.pos += len
    try {
      return utf8.decode(bytes)
    } catch {
      return this.fail('name is not valid UTF-8', at)
    }
  }

  /** A reader over the next `len` bytes, which this reader skips. */
  sub (len: number): Reader {
    if (len > this.remaining) this.fail(`section of ${len} bytes exceeds the ${this.remaining} bytes left`)
    const r = new Reader(this.bytes, this.pos, this.pos + len)
    this.pos += len
    return r
  }

  /** Fails unless every byte was consumed. */
  done (what: string): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} bytes left over at the end of ${what}`)
  }
}
