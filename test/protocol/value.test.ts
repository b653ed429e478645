import { describe, it, expect } from 'vitest'
import {
  decodeValue, decodeValues, decodeValuesPrefix, encodeValue, encodeValueChunks, encodeValues, ValueReader, ValueWriter
} from '../../protocol/value.ts'
import type { DecodeOptions, EncodeOptions } from '../../protocol/value.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import type { FutureType, StreamType, Type } from '../../protocol/wit/model.ts'

const hex = (b: Uint8Array): string => Array.from(b, x => x.toString(16).padStart(2, '0')).join(' ')
const bytes = (...xs: number[]): Uint8Array => new Uint8Array(xs)

function errorOf (fn: () => unknown): ProtocolError {
  try {
    fn()
  } catch (err) {
    if (err instanceof ProtocolError) return err
    throw new Error(`expected a ProtocolError, got ${String(err)}`)
  }
  throw new Error('expected a ProtocolError, nothing was thrown')
}

const u8: Type = { kind: 'u8' }
const u32: Type = { kind: 'u32' }
const str: Type = { kind: 'string' }
const listOf = (element: Type, length?: number): Type => length === undefined ? { kind: 'list', element } : { kind: 'list', element, length }
const resource = { kind: 'resource' as const, name: 'file', owner: 'test:x/y', functions: new Map() }
const roundTrip = (type: Type, value: unknown, opts?: DecodeOptions): unknown => decodeValue(type, encodeValue(type, value), opts)

describe('encodeValue: exact bytes', () => {
  it('matches the component-model encoding for known cases', () => {
    expect(hex(encodeValue(u32, 624485))).toBe('e5 8e 26')
    expect(hex(encodeValue({ kind: 's32' }, -123456))).toBe('c0 bb 78')
    expect(hex(encodeValue(str, 'hi'))).toBe('02 68 69')
    expect(hex(encodeValue({ kind: 'char' }, '😀'))).toBe('f0 9f 98 80')
    const nine: Type = { kind: 'flags', flags: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] }
    expect(hex(encodeValue(nine, { a: true, i: true }))).toBe('01 01')
    expect(hex(encodeValue({ kind: 'bool' }, true))).toBe('01')
    expect(hex(encodeValue({ kind: 's8' }, -1))).toBe('ff')
    expect(hex(encodeValue({ kind: 'f32' }, 1))).toBe('00 00 80 3f')
    expect(hex(encodeValue({ kind: 'f64' }, -2))).toBe('00 00 00 00 00 00 00 c0')
    expect(hex(encodeValue({ kind: 'u64' }, 2n ** 64n - 1n))).toBe('ff ff ff ff ff ff ff ff ff 01')
    expect(hex(encodeValue({ kind: 's64' }, -(2n ** 63n)))).toBe('80 80 80 80 80 80 80 80 80 7f')
    expect(hex(encodeValue(listOf(u8), new Uint8Array([1, 2, 3])))).toBe('03 01 02 03')
    expect(hex(encodeValue(listOf(u32, 2), [1, 300]))).toBe('01 ac 02')
    expect(hex(encodeValue({ kind: 'tuple', elements: [u8, str] }, [7, 'a']))).toBe('07 01 61')
    expect(hex(encodeValue({ kind: 'option', some: u8 }, 5))).toBe('01 05')
    expect(hex(encodeValue({ kind: 'result', ok: null, err: str }, { tag: 'err', val: 'x' }))).toBe('01 01 78')
    expect(hex(encodeValue({ kind: 'enum', cases: ['a', 'b', 'c'] }, 'c'))).toBe('02')
    expect(hex(encodeValue({ kind: 'own', resource }, bytes(0xaa, 0xbb)))).toBe('02 aa bb')
  })

  it('writes one byte for flags with no flags, as wRPC does', () => {
    expect(hex(encodeValue({ kind: 'flags', flags: [] }, {}))).toBe('00')
    expect(errorOf(() => decodeValue({ kind: 'flags', flags: [] }, bytes(1))).code).toBe('invalid-flags')
  })
})

describe('scalars', () => {
  it('round-trips the edges of every integer type', () => {
    const edges: Array<[Type['kind'], unknown[]]> = [
      ['u8', [0, 255]], ['s8', [-128, 127]], ['u16', [0, 65535]], ['s16', [-32768, 32767]],
      ['u32', [0, 2 ** 32 - 1]], ['s32', [-(2 ** 31), 2 ** 31 - 1]],
      ['u64', [0n, 2n ** 64n - 1n, 2n ** 53n + 1n]], ['s64', [-(2n ** 63n), 2n ** 63n - 1n, -1n, 0n]]
    ]
    for (const [kind, values] of edges) {
      for (const v of values) expect(roundTrip({ kind } as Type, v)).toBe(v)
    }
  })

  it('accepts safe-integer numbers for 64-bit types and decodes them as bigint', () => {
    expect(roundTrip({ kind: 'u64' }, 2 ** 40)).toBe(2n ** 40n)
    expect(roundTrip({ kind: 's64' }, -(2 ** 40))).toBe(-(2n ** 40n))
  })

  it('keeps NaN, -0 and infinities of floats', () => {
    expect(roundTrip({ kind: 'f64' }, Number.NaN)).toBeNaN()
    expect(Object.is(roundTrip({ kind: 'f64' }, -0), -0)).toBe(true)
    expect(Object.is(roundTrip({ kind: 'f32' }, -0), -0)).toBe(true)
    expect(roundTrip({ kind: 'f32' }, Number.NaN)).toBeNaN()
    expect(roundTrip({ kind: 'f32' }, -Infinity)).toBe(-Infinity)
    expect(roundTrip({ kind: 'f32' }, 0.1)).toBe(Math.fround(0.1))
  })

  it('rejects out-of-range, non-integer and wrongly typed numbers', () => {
    expect(errorOf(() => encodeValue(u8, 256)).code).toBe('value-range')
    expect(errorOf(() => encodeValue(u8, -1)).code).toBe('value-range')
    expect(errorOf(() => encodeValue(u8, 1.5)).code).toBe('value-range')
    expect(errorOf(() => encodeValue(u32, Number.NaN)).code).toBe('value-range')
    expect(errorOf(() => encodeValue(u32, 2 ** 32)).code).toBe('value-range')
    expect(errorOf(() => encodeValue({ kind: 's16' }, 40000)).code).toBe('value-range')
    expect(errorOf(() => encodeValue({ kind: 's32' }, Infinity)).code).toBe('value-range')
    expect(errorOf(() => encodeValue({ kind: 'u64' }, -1n)).code).toBe('value-range')
    expect(errorOf(() => encodeValue({ kind: 'u64' }, 2n ** 64n)).code).toBe('value-range')
    expect(errorOf(() => encodeValue({ kind: 's64' }, 2 ** 60)).code).toBe('value-range')
    expect(errorOf(() => encodeValue(u8, '1')).code).toBe('value-type')
    expect(errorOf(() => encodeValue(u32, 1n)).code).toBe('value-type')
    expect(errorOf(() => encodeValue({ kind: 'bool' }, 1)).code).toBe('value-type')
    expect(errorOf(() => encodeValue({ kind: 'f64' }, '1')).code).toBe('value-type')
  })

  it('rejects a bool byte other than 0 or 1', () => {
    expect(errorOf(() => decodeValue({ kind: 'bool' }, bytes(2))).code).toBe('value-range')
  })

  it('encodes a char as exactly one scalar value', () => {
    for (const c of ['a', 'é', '€', '😀', '\u0000']) expect(roundTrip({ kind: 'char' }, c)).toBe(c)
    expect(errorOf(() => encodeValue({ kind: 'char' }, 'ab')).code).toBe('value-range')
    expect(errorOf(() => encodeValue({ kind: 'char' }, '')).code).toBe('value-range')
    expect(errorOf(() => encodeValue({ kind: 'char' }, '\ud800')).code).toBe('invalid-utf8')
    expect(errorOf(() => encodeValue({ kind: 'char' }, 1)).code).toBe('value-type')
  })

  it('rejects a char that is not well-formed UTF-8', () => {
    for (const b of [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xff], [0xe2, 0x28, 0xa1]]) {
      expect(errorOf(() => decodeValue({ kind: 'char' }, new Uint8Array(b))).code).toBe('invalid-utf8')
    }
    expect(errorOf(() => decodeValue({ kind: 'char' }, bytes(0xf0, 0x9f))).code).toBe('truncated')
  })

  it('round-trips strings short and long, keeping a leading BOM', () => {
    for (const s of ['', 'hi', '\ufeffbom', 'ünïcode 😀', 'x'.repeat(42), 'é'.repeat(43), '😀'.repeat(100), 'a'.repeat(70000)]) {
      expect(roundTrip(str, s)).toBe(s)
    }
  })

  it('rejects lone surrogates when encoding and invalid UTF-8 when decoding', () => {
    expect(errorOf(() => encodeValue(str, 'a\ud800b')).code).toBe('invalid-utf8')
    expect(errorOf(() => encodeValue(str, `${'x'.repeat(50)}\udc00`)).code).toBe('invalid-utf8')
    expect(errorOf(() => decodeValue(str, bytes(2, 0xc3, 0x28))).code).toBe('invalid-utf8')
    expect(errorOf(() => decodeValue(str, new Uint8Array([20, ...new Array<number>(19).fill(0x61), 0xff]))).code).toBe('invalid-utf8')
  })
})

describe('lists', () => {
  it('decodes list<u8> as a copy by default and as a view with copy: false', () => {
    const input = encodeValue(listOf(u8), new Uint8Array([9, 8, 7]))
    const copied = decodeValue(listOf(u8), input) as Uint8Array
    const viewed = decodeValue(listOf(u8), input, { copy: false }) as Uint8Array
    expect(copied).toEqual(new Uint8Array([9, 8, 7]))
    expect(viewed).toEqual(new Uint8Array([9, 8, 7]))
    expect(viewed.buffer).toBe(input.buffer)
    expect(copied.buffer).not.toBe(input.buffer)
  })

  it('decodes numeric lists as typed arrays and accepts arrays or typed arrays', () => {
    const cases: Array<[Type['kind'], unknown[], new (a: never[]) => unknown]> = [
      ['s8', [-1, 2], Int8Array], ['u16', [1, 65535], Uint16Array], ['s16', [-5, 5], Int16Array],
      ['u32', [0, 2 ** 32 - 1], Uint32Array], ['s32', [-(2 ** 31), 7], Int32Array],
      ['u64', [1n, 2n ** 64n - 1n], BigUint64Array], ['s64', [-1n, 2n ** 40n], BigInt64Array],
      ['f32', [0.5, -2], Float32Array], ['f64', [0.1, Number.NaN], Float64Array]
    ]
    for (const [kind, values, Ctor] of cases) {
      const type = listOf({ kind } as Type)
      const typed = new Ctor(values as never[])
      expect(roundTrip(type, values)).toEqual(typed)
      expect(roundTrip(type, typed)).toEqual(typed)
      expect(hex(encodeValue(type, typed))).toBe(hex(encodeValue(type, values)))
    }
  })

  it('decodes other lists as arrays and checks every element', () => {
    expect(roundTrip(listOf(str), ['a', 'b'])).toEqual(['a', 'b'])
    expect(roundTrip(listOf({ kind: 'bool' }), [true, false])).toEqual([true, false])
    const err = errorOf(() => encodeValue(listOf(u32), [1, 2, -3]))
    expect(err.code).toBe('value-range')
    expect(err.path).toBe('value[2]')
    expect(errorOf(() => encodeValue(listOf(u8), 'abc')).code).toBe('value-type')
    expect(errorOf(() => encodeValue(listOf(u8), new Uint16Array(2))).code).toBe('value-type')
  })

  it('writes fixed-size lists without a count and insists on the length', () => {
    const t = listOf(str, 2)
    expect(hex(encodeValue(t, ['a', 'b']))).toBe('01 61 01 62')
    expect(roundTrip(t, ['a', 'b'])).toEqual(['a', 'b'])
    expect(roundTrip(listOf(u8, 3), [1, 2, 3])).toEqual(new Uint8Array([1, 2, 3]))
    expect(errorOf(() => encodeValue(t, ['a'])).code).toBe('value-type')
  })
})

describe('records, tuples, variants, enums, options, results, flags', () => {
  const person: Type = {
    kind: 'record',
    name: 'person',
    fields: [
      { name: 'first-name', type: str },
      { name: 'get-HTTP-body', type: u8 },
      { name: 'nick', type: { kind: 'option', some: str } },
      { name: 'to-string', type: { kind: 'option', some: u8 } }
    ]
  }

  it('names record fields as jco does (lowerCamelCase, test/protocol/jco-names.test.ts)', () => {
    const v = { firstName: 'Ann', getHttpBody: 1, nick: 'a', toString: 3 }
    expect(roundTrip(person, v)).toEqual(v)
  })

  it('treats a missing option field as none, even when its name is an Object.prototype member', () => {
    expect(roundTrip(person, { firstName: 'Ann', getHttpBody: 1 })).toEqual({ firstName: 'Ann', getHttpBody: 1, nick: undefined, toString: undefined })
  })

  it('rejects unknown and missing fields with the path', () => {
    const unknown = errorOf(() => encodeValue(listOf(person), [{ firstName: 'a', getHttpBody: 1 }, { firstName: 'b', getHttpBody: 2, age: 3 }]))
    expect(unknown.code).toBe('value-type')
    expect(unknown.path).toBe('value[1]')
    expect(unknown.message).toMatch(/unknown field "age"/)
    const missing = errorOf(() => encodeValue(person, { getHttpBody: 1 }))
    expect(missing.code).toBe('value-type')
    expect(missing.path).toBe('value.firstName')
    expect(errorOf(() => encodeValue(person, null)).code).toBe('value-type')
    expect(errorOf(() => encodeValue(person, [])).code).toBe('value-type')
  })

  it('gives error paths like params[1].items[3].name', () => {
    const item: Type = { kind: 'record', fields: [{ name: 'name', type: str }] }
    const order: Type = { kind: 'record', fields: [{ name: 'items', type: listOf(item) }] }
    const items = [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 7 }]
    const err = errorOf(() => encodeValues([u8, order], [1, { items }], { root: 'params' }))
    expect(err.path).toBe('params[1].items[3].name')
    expect(err.message).toMatch(/at params\[1\]\.items\[3\]\.name$/)
    const good = encodeValues([u8, order], [1, { items: [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }] }])
    const bad = good.slice()
    bad[bad.length - 1] = 0xff
    const derr = errorOf(() => decodeValues([u8, order], bad, { root: 'params' }))
    expect(derr.code).toBe('invalid-utf8')
    expect(derr.path).toBe('params[1].items[3].name')
  })

  it('encodes tuples as arrays of the exact length', () => {
    const t: Type = { kind: 'tuple', elements: [u8, str] }
    expect(roundTrip(t, [1, 'x'])).toEqual([1, 'x'])
    expect(roundTrip({ kind: 'tuple', elements: [] }, [])).toEqual([])
    expect(errorOf(() => encodeValue(t, [1])).code).toBe('value-type')
  })

  it('encodes variants as { tag, val } with kebab-case tags', () => {
    const shape: Type = { kind: 'variant', name: 'shape', cases: [{ name: 'none-yet', type: null }, { name: 'circle', type: { kind: 'f64' } }] }
    expect(roundTrip(shape, { tag: 'circle', val: 2 })).toEqual({ tag: 'circle', val: 2 })
    expect(roundTrip(shape, { tag: 'none-yet' })).toEqual({ tag: 'none-yet' })
    expect(errorOf(() => encodeValue(shape, { tag: 'square', val: 1 })).code).toBe('value-type')
    const inner = errorOf(() => encodeValue(shape, { tag: 'circle', val: 'big' }))
    expect(inner.path).toBe('value.val')
    expect(errorOf(() => decodeValue(shape, bytes(2))).code).toBe('unknown-discriminant')
  })

  it('encodes enums as case-name strings', () => {
    const color: Type = { kind: 'enum', cases: ['red', 'dark-green'] }
    expect(roundTrip(color, 'dark-green')).toBe('dark-green')
    expect(errorOf(() => encodeValue(color, 'blue')).code).toBe('value-type')
    expect(errorOf(() => decodeValue(color, bytes(2))).code).toBe('unknown-discriminant')
  })

  it('follows jco for options: undefined for none, tagged when the payload could be undefined', () => {
    const opt: Type = { kind: 'option', some: u8 }
    expect(roundTrip(opt, undefined)).toBeUndefined()
    expect(roundTrip(opt, null)).toBeUndefined()
    expect(roundTrip(opt, 3)).toBe(3)
    const opt2: Type = { kind: 'option', some: opt }
    expect(roundTrip(opt2, { tag: 'none' })).toEqual({ tag: 'none' })
    expect(roundTrip(opt2, { tag: 'some', val: undefined })).toEqual({ tag: 'some', val: undefined })
    expect(roundTrip(opt2, { tag: 'some', val: 4 })).toEqual({ tag: 'some', val: 4 })
    expect(hex(encodeValue(opt2, { tag: 'some', val: undefined }))).toBe('01 00')
    expect(errorOf(() => encodeValue(opt2, 4)).code).toBe('value-type')
    // as jco: option<option<option<T>>> is nullable again at the top
    const opt3: Type = { kind: 'option', some: opt2 }
    expect(roundTrip(opt3, undefined)).toBeUndefined()
    expect(roundTrip(opt3, { tag: 'some', val: 1 })).toEqual({ tag: 'some', val: 1 })
    expect(errorOf(() => decodeValue(opt, bytes(2))).code).toBe('unknown-discriminant')
  })

  it('encodes results as { tag: ok | err, val }', () => {
    const r: Type = { kind: 'result', ok: u8, err: str }
    expect(roundTrip(r, { tag: 'ok', val: 1 })).toEqual({ tag: 'ok', val: 1 })
    expect(roundTrip(r, { tag: 'err', val: 'no' })).toEqual({ tag: 'err', val: 'no' })
    expect(roundTrip({ kind: 'result', ok: null, err: null }, { tag: 'err' })).toEqual({ tag: 'err', val: undefined })
    expect(errorOf(() => encodeValue(r, { tag: 'maybe' })).code).toBe('value-type')
    expect(errorOf(() => decodeValue(r, bytes(2))).code).toBe('unknown-discriminant')
  })

  it('encodes flags as an object of booleans keyed by camelCase names', () => {
    const f: Type = { kind: 'flags', flags: ['read', 'write-all', 'exec'] }
    expect(roundTrip(f, { writeAll: true })).toEqual({ read: false, writeAll: true, exec: false })
    expect(hex(encodeValue(f, { read: true, exec: true }))).toBe('05')
    expect(errorOf(() => encodeValue(f, { delete: true })).code).toBe('invalid-flags')
    expect(errorOf(() => encodeValue(f, { read: 1 })).code).toBe('value-type')
    expect(errorOf(() => decodeValue(f, bytes(0x08))).code).toBe('invalid-flags')
    const nine: Type = { kind: 'flags', flags: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] }
    expect(decodeValue(nine, bytes(1, 1))).toMatchObject({ a: true, b: false, i: true })
    expect(errorOf(() => decodeValue(nine, bytes(0, 2))).code).toBe('invalid-flags')
  })

  it('carries handles as opaque bytes', () => {
    const h: Type = { kind: 'borrow', resource }
    expect(roundTrip(h, bytes(1, 2, 3))).toEqual(bytes(1, 2, 3))
    expect(errorOf(() => encodeValue(h, 5)).code).toBe('value-type')
  })

  it('rejects error-context, which wRPC cannot carry', () => {
    expect(errorOf(() => encodeValue({ kind: 'error-context' }, {})).code).toBe('unsupported-type')
    expect(errorOf(() => decodeValue({ kind: 'error-context' }, bytes(0))).code).toBe('unsupported-type')
    expect(roundTrip({ kind: 'option', some: { kind: 'error-context' } }, undefined)).toBeUndefined()
  })
})

describe('futures and streams', () => {
  const fut: FutureType = { kind: 'future', element: u32 }
  const strm: StreamType = { kind: 'stream', element: u8 }

  it('sends ready values inline: a future as 1 + value, a stream as a non-empty list', () => {
    expect(hex(encodeValue(fut, 300))).toBe('01 ac 02')
    expect(decodeValue(fut, bytes(1, 5))).toBe(5)
    expect(hex(encodeValue(strm, new Uint8Array([4, 5])))).toBe('02 04 05')
    expect(decodeValue(strm, bytes(2, 4, 5))).toEqual(new Uint8Array([4, 5]))
    expect(hex(encodeValue({ kind: 'future', element: null }, undefined))).toBe('01')
    expect(decodeValue({ kind: 'stream', element: null }, bytes(2))).toEqual([undefined, undefined])
  })

  it('marks pending values with 0 and reports their wRPC index path', () => {
    const calls: Array<[readonly number[], string, unknown]> = []
    const onAsync: EncodeOptions['onAsync'] = (index, type, value) => { calls.push([index, type.kind, value]) }
    const p = Promise.resolve(1)
    const it = { async * [Symbol.asyncIterator] () { yield new Uint8Array([1]) } }
    const rec: Type = { kind: 'record', fields: [{ name: 'a', type: u8 }, { name: 'b', type: strm }] }
    const params: Type[] = [
      u8,
      rec,
      listOf(fut),
      { kind: 'option', some: fut },
      { kind: 'variant', cases: [{ name: 'x', type: { kind: 'tuple', elements: [u8, fut] } }] }
    ]
    const out = encodeValues(params, [1, { a: 2, b: it }, [3, p], p, { tag: 'x', val: [9, p] }], { onAsync })
    expect(hex(out)).toBe('01 02 00 02 01 03 00 01 00 00 09 00')
    expect(calls).toEqual([
      [[1, 1], 'stream', it],
      [[2, 1], 'future', p],
      [[3], 'future', p],
      [[4, 1], 'future', p]
    ])
    const seen: Array<readonly number[]> = []
    const decoded = decodeValues(params, out, { onPending: (index, type) => { seen.push(index); return `pending ${type.kind}` } })
    expect(seen).toEqual([[1, 1], [2, 1], [3], [4, 1]])
    expect(decoded).toEqual([1, { a: 2, b: 'pending stream' }, [3, 'pending future'], 'pending future', { tag: 'x', val: [9, 'pending future'] }])
  })

  it('keeps the future path for values inside a ready future', () => {
    const nested: Type = { kind: 'future', element: { kind: 'tuple', elements: [u8, strm] } }
    const calls: Array<readonly number[]> = []
    encodeValues([u8, nested], [0, [1, { [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }) }) }]], {
      onAsync: index => { calls.push(index) }
    })
    expect(calls).toEqual([[1, 1]])
  })

  it('sends an empty stream as pending, since wRPC reads a zero count as pending', () => {
    const calls: unknown[] = []
    expect(hex(encodeValue(strm, new Uint8Array(0), { onAsync: (_i, _t, v) => { calls.push(v) } }))).toBe('00')
    expect(calls).toEqual([new Uint8Array(0)])
    expect(errorOf(() => encodeValue(strm, [])).code).toBe('async-unsupported')
  })

  it('fails with async-unsupported where no session can carry pending values', () => {
    expect(errorOf(() => encodeValue(fut, Promise.resolve(1))).code).toBe('async-unsupported')
    expect(errorOf(() => decodeValue(fut, bytes(0))).code).toBe('async-unsupported')
    expect(errorOf(() => decodeValue(strm, bytes(0))).code).toBe('async-unsupported')
    expect(errorOf(() => decodeValue(fut, bytes(2))).code).toBe('unknown-discriminant')
    expect(errorOf(() => encodeValue(strm, 5)).code).toBe('value-type')
  })

  it('reads pending stream chunks one at a time, numbering items across chunks', () => {
    const s: StreamType = { kind: 'stream', element: { kind: 'future', element: u8 } }
    const chunk = bytes(2, 1, 7, 0, 0)
    const seen: Array<readonly number[]> = []
    const r = new ValueReader(chunk, 0, { onPending: index => { seen.push(index); return 'p' } }, [0, 2])
    expect(r.readStreamChunk(s, 5)).toEqual([7, 'p'])
    expect(seen).toEqual([[0, 2, 6]])
    expect(r.readStreamChunk(s, 7)).toBeNull()
    expect(r.pos).toBe(chunk.length)
  })
})

describe('incremental decoding and limits', () => {
  it('rejects trailing bytes', () => {
    expect(errorOf(() => decodeValue(u8, bytes(1, 2))).code).toBe('trailing-bytes')
    expect(errorOf(() => decodeValues([u8], bytes(1, 2))).code).toBe('trailing-bytes')
  })

  it('reports truncated input with the total length that could succeed', () => {
    const err = errorOf(() => decodeValue(str, bytes(5, 0x61)))
    expect(err.code).toBe('truncated')
    expect(err.needBytes).toBe(6)
    const pre = errorOf(() => decodeValuesPrefix([u8, str], bytes(9, 9, 1, 3, 0x61), 2))
    expect(pre.code).toBe('truncated')
    expect(pre.needBytes).toBe(7)
    expect(decodeValuesPrefix([u8, str], bytes(9, 9, 1, 3, 0x61, 0x62, 0x63, 0xee), 2)).toEqual({ values: [1, 'abc'], end: 7 })
  })

  it('restores a reader after a truncated read so it can retry', () => {
    const r = new ValueReader(bytes(3, 0x61), 0)
    expect(errorOf(() => r.read(str)).code).toBe('truncated')
    expect(r.pos).toBe(0)
    const w = new ValueWriter()
    w.write(str, 'xyz')
    w.write(u8, 1)
    const r2 = new ValueReader(w.finish())
    expect(r2.read(str)).toBe('xyz')
    expect(r2.read(u8)).toBe(1)
  })

  it('fails at once, without allocating, on declared lengths larger than the input', () => {
    // 10 million u64s declared in 4 bytes
    const err = errorOf(() => decodeValue(listOf({ kind: 'u64' }), bytes(0x80, 0xad, 0xe2, 0x04)))
    expect(err.code).toBe('truncated')
    expect(err.needBytes).toBe(4 + 10_000_000)
    // records of at least 9 bytes each
    const rec: Type = { kind: 'record', fields: [{ name: 'x', type: { kind: 'f64' } }, { name: 'y', type: u8 }] }
    expect(errorOf(() => decodeValue(listOf(rec), bytes(0xe8, 0x07))).needBytes).toBe(2 + 9000)
    expect(errorOf(() => decodeValue(str, bytes(0xff, 0xff, 0xff, 0x07))).code).toBe('truncated')
  })

  it('bounds declared lengths by maxListLength, also for zero-size elements', () => {
    const huge = bytes(0xff, 0xff, 0xff, 0xff, 0x0f)
    for (const element of [{ kind: 'tuple', elements: [] }, { kind: 'record', fields: [] }, listOf(u8, 0)] as Type[]) {
      const err = errorOf(() => decodeValue(listOf(element), huge))
      expect(err.code).toBe('limit-exceeded')
    }
    expect(errorOf(() => decodeValue(listOf({ kind: 'tuple', elements: [] }), bytes(11), { limits: { maxListLength: 10 } })).code).toBe('limit-exceeded')
    expect(decodeValue(listOf({ kind: 'tuple', elements: [] }), bytes(10), { limits: { maxListLength: 10 } })).toHaveLength(10)
    expect(errorOf(() => decodeValue(str, bytes(11, ...new Array<number>(11).fill(0x61)), { limits: { maxListLength: 10 } })).code).toBe('limit-exceeded')
    expect(errorOf(() => encodeValue(listOf(u8), new Uint8Array(11), { limits: { maxListLength: 10 } })).code).toBe('limit-exceeded')
  })

  it('bounds the bytes of one value by maxValueBytes', () => {
    expect(errorOf(() => encodeValue(listOf(u8), new Uint8Array(100), { limits: { maxValueBytes: 50 } })).code).toBe('limit-exceeded')
    expect(errorOf(() => encodeValue(str, 'x'.repeat(100), { limits: { maxValueBytes: 50 } })).code).toBe('limit-exceeded')
    expect(encodeValue(str, 'x'.repeat(48), { limits: { maxValueBytes: 50 } })).toHaveLength(49)
    const encoded = encodeValue(listOf(u8), new Uint8Array(100))
    expect(errorOf(() => decodeValue(listOf(u8), encoded, { limits: { maxValueBytes: 50 } })).code).toBe('limit-exceeded')
    // a short input that declares more than the limit is refused, not waited for
    expect(errorOf(() => decodeValue(listOf(u8), bytes(100, 1), { limits: { maxValueBytes: 50 } })).code).toBe('limit-exceeded')
  })

  it('bounds the nesting depth of the type by maxDepth', () => {
    let deep: Type = u8
    for (let i = 0; i < 100; i++) deep = { kind: 'option', some: deep }
    expect(errorOf(() => decodeValue(deep, bytes(0))).code).toBe('limit-exceeded')
    expect(errorOf(() => encodeValue(deep, undefined)).code).toBe('limit-exceeded')
    let ok: Type = u8
    for (let i = 0; i < 9; i++) ok = listOf(ok)
    expect(decodeValue(ok, bytes(0), { limits: { maxDepth: 10 } })).toEqual([])
    expect(errorOf(() => decodeValue(ok, bytes(0), { limits: { maxDepth: 9 } })).code).toBe('limit-exceeded')
  })

  it('rejects over-long and overflowing LEB128', () => {
    const cases: Array<[Type, number[]]> = [
      [u32, [0x80, 0x80, 0x80, 0x80, 0x80, 0x00]],
      [u32, [0xff, 0xff, 0xff, 0xff, 0x1f]],
      [{ kind: 'u16' }, [0xff, 0xff, 0x07]],
      [{ kind: 's16' }, [0x80, 0x80, 0x02]],
      [{ kind: 's16' }, [0x80, 0x80, 0x7d]],
      [{ kind: 's32' }, [0xff, 0xff, 0xff, 0xff, 0x4f]],
      [{ kind: 's32' }, [0x80, 0x80, 0x80, 0x80, 0x80, 0x00]],
      [{ kind: 'u64' }, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]],
      [{ kind: 'u64' }, [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]],
      [{ kind: 's64' }, [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
      [listOf(u8), [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]]
    ]
    for (const [type, b] of cases) expect(errorOf(() => decodeValue(type, new Uint8Array(b))).code, `${type.kind} ${hex(new Uint8Array(b))}`).toBe('invalid-leb128')
    // padded but within the width is accepted, as in the core wasm spec
    expect(decodeValue(u32, bytes(0x85, 0x80, 0x80, 0x80, 0x00))).toBe(5)
    expect(decodeValue({ kind: 's32' }, bytes(0xff, 0xff, 0xff, 0xff, 0x7f))).toBe(-1)
    expect(decodeValue({ kind: 's16' }, bytes(0x80, 0x80, 0x7e))).toBe(-32768)
    expect(decodeValue({ kind: 's64' }, bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f))).toBe(-1n)
  })
})

describe('encodeValueChunks', () => {
  const bytes = { kind: 'list', element: { kind: 'u8' } } as const
  const record = { kind: 'tuple', elements: [{ kind: 'string' }, bytes, { kind: 'u32' }] } as const

  it('hands large byte lists over as the caller\'s own arrays, between the encoded rest', () => {
    const big = new Uint8Array(100_000).fill(9)
    const chunks = encodeValueChunks([record, bytes], [['name', big, 7], new Uint8Array([1, 2])], { spliceBytesFrom: 64 * 1024 })
    expect(chunks).toHaveLength(3)
    expect(chunks[1]).toBe(big)
    expect(decodeValues([record, bytes], new Uint8Array(Buffer.concat(chunks)))).toEqual([['name', big, 7], new Uint8Array([1, 2])])
  })

  it('counts spliced bytes against maxValueBytes', () => {
    const big = new Uint8Array(70_000)
    expect(() => encodeValueChunks([bytes, bytes], [big, big], { spliceBytesFrom: 1024, limits: { maxValueBytes: 100_000 } }))
      .toThrow(expect.objectContaining({ code: 'limit-exceeded' }))
    expect(encodeValueChunks([bytes], [big], { spliceBytesFrom: 1024, limits: { maxValueBytes: 100_000 } }).reduce((n, c) => n + c.length, 0)).toBe(70_003)
  })
})
