// The Postgres provider's value mapping without a server: hashable-f64 both ways, float text, PostgreSQL's literal forms, parameters and result text.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { floatText, fromHashable, parseFloatText, toHashable } from '../../../../node/providers/postgres/floats.ts'
import {
  formatArray, formatBits, formatHstore, formatRange, formatTsVector, parseArray, parseBits, parseBytea,
  parseHstore, parseRange, parseTsVector
} from '../../../../node/providers/postgres/literals.ts'
import { OID, ParamError, fromText, toParam } from '../../../../node/providers/postgres/values.ts'

const same = (a: number, b: number): boolean => Object.is(a, b)

describe('hashable-f64', () => {
  it('is Rust num integer_decode, bit for bit', () => {
    // Values from num's docs and IEEE 754: value = sign * mantissa * 2^exponent.
    expect(toHashable(1)).toEqual([2n ** 52n, -52, 1])
    expect(toHashable(0.1)).toEqual([0x1999999999999an, -56, 1])
    expect(toHashable(-2.5)).toEqual([0x14000000000000n, -51, -1])
    expect(toHashable(0)).toEqual([0n, -1075, 1])
    expect(toHashable(-0)).toEqual([0n, -1075, -1])
    expect(toHashable(5e-324)).toEqual([2n, -1075, 1])
    expect(toHashable(Number.MAX_VALUE)).toEqual([2n ** 53n - 1n, 971, 1])
    expect(toHashable(Infinity)).toEqual([2n ** 52n, 972, 1])
    expect(toHashable(-Infinity)).toEqual([2n ** 52n, 972, -1])
    expect(toHashable(NaN)).toEqual([0x18000000000000n, 972, 1])
    expect(toHashable(1, 32)).toEqual([2n ** 23n, -23, 1])
    expect(toHashable(Math.fround(0.1), 32)).toEqual([13421773n, -27, 1])
    expect(toHashable(Infinity, 32)).toEqual([2n ** 23n, 105, 1])
    expect(toHashable(2 ** -149, 32)).toEqual([2n, -150, 1])
  })

  it('round-trips every f64, including -0, NaN, the infinities and subnormals', () => {
    fc.assert(fc.property(fc.double(), x => same(fromHashable(toHashable(x)), x)), { numRuns: 20_000 })
    for (const x of [0, -0, NaN, Infinity, -Infinity, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, Number.MAX_VALUE, -Number.MIN_VALUE]) {
      expect(same(fromHashable(toHashable(x)), x)).toBe(true)
    }
  })

  it('round-trips every f32', () => {
    fc.assert(fc.property(fc.float(), x => same(fromHashable(toHashable(x, 32), 32), x)), { numRuns: 20_000 })
    for (const x of [NaN, Infinity, -Infinity, 2 ** -149, -(2 ** -149), 3.4028234663852886e38]) {
      expect(same(fromHashable(toHashable(x, 32), 32), x)).toBe(true)
    }
  })

  it('rounds a triple that is no float once, to nearest even', () => {
    // 2^53 + 1 is between two doubles: ties go to the even one.
    expect(fromHashable([2n ** 53n + 1n, 0, 1])).toBe(2 ** 53)
    expect(fromHashable([2n ** 53n + 3n, 0, 1])).toBe(2 ** 53 + 4)
    // Half the smallest subnormal ties to even (zero); three quarters of it rounds up to it.
    expect(fromHashable([1n, -1075, 1])).toBe(0)
    expect(fromHashable([3n, -1076, 1])).toBe(5e-324)
    expect(fromHashable([3n, -1076, -1])).toBe(-5e-324)
    expect(fromHashable([1n, 1024, 1])).toBe(Infinity)
    expect(fromHashable([1n, 128, 1], 32)).toBe(Infinity)
    // An f64-decoded triple read as an f32 rounds to the nearest f32.
    expect(fromHashable(toHashable(0.1), 32)).toBe(Math.fround(0.1))
  })
})

describe('float text', () => {
  it('writes the shortest text that reads back exactly, keeping -0', () => {
    expect(floatText(-0)).toBe('-0')
    expect(floatText(NaN)).toBe('NaN')
    expect(floatText(-Infinity)).toBe('-Infinity')
    fc.assert(fc.property(fc.double(), x => same(parseFloatText(floatText(x), 64), x)), { numRuns: 5_000 })
  })

  it('reads float4 text to the nearest f32 without double rounding', () => {
    // Just above the midpoint of 1 and the next f32: as a double it rounds onto the midpoint, whose tie goes to 1.
    const text = '1.0000000596046447753906251'
    expect(Math.fround(Number(text))).toBe(1)
    expect(parseFloatText(text, 32)).toBe(1 + 2 ** -23)
    expect(parseFloatText('3.4028235e+38', 32)).toBe(3.4028234663852886e38)
    expect(parseFloatText('1e-45', 32)).toBe(2 ** -149)
    expect(parseFloatText('-0', 32)).toBe(-0)
    fc.assert(fc.property(fc.float({ noNaN: true }), x => same(parseFloatText(Object.is(x, -0) ? '-0' : x.toPrecision(9), 32), x)), { numRuns: 5_000 })
  })
})

describe('literals', () => {
  it('reads array literals with quotes, escapes, NULL, dimensions and the box delimiter', () => {
    expect(parseArray('{1,2,3}')).toEqual(['1', '2', '3'])
    expect(parseArray('{"a b","c\\"d","e\\\\f",NULL,"NULL"}')).toEqual(['a b', 'c"d', 'e\\f', null, 'NULL'])
    expect(parseArray('{{1,2},{3,4}}')).toEqual([['1', '2'], ['3', '4']])
    expect(parseArray('[0:1]={7,8}')).toEqual(['7', '8'])
    expect(parseArray('{(1,2),(0,0);(3,3),(1,1)}', ';')).toEqual(['(1,2),(0,0)', '(3,3),(1,1)'])
    expect(parseArray('{}')).toEqual([])
    expect(() => parseArray('{1,2')).toThrow(/malformed/)
  })

  it('writes array literals that read back as written', () => {
    fc.assert(fc.property(fc.array(fc.string()), items => {
      expect(parseArray(formatArray(items))).toEqual(items)
    }))
  })

  it('reads and writes hstore, tsvector, ranges, bits and bytea', () => {
    const pairs: Array<[string, string | undefined]> = [['a', '1'], ['b c', undefined], ['q"uote', 'back\\slash']]
    expect(parseHstore(formatHstore(pairs))).toEqual(pairs)
    expect(parseHstore('"a"=>"1", "b"=>NULL')).toEqual([['a', '1'], ['b', undefined]])
    expect(parseTsVector("'a':1A,3 'it''s' 'z':2")).toEqual([
      { position: 1, weight: 'A', data: 'a' }, { position: 3, weight: 'D', data: 'a' },
      { position: undefined, weight: undefined, data: "it's" }, { position: 2, weight: 'D', data: 'z' }
    ])
    expect(formatTsVector([{ position: 1, weight: 'B', data: "it's" }, { position: undefined, weight: undefined, data: 'x' }])).toBe("'it''s':1B 'x'")
    expect(parseRange('[2024-01-01,2024-02-01)')).toEqual({ lower: '2024-01-01', upper: '2024-02-01', lowerInclusive: true, upperInclusive: false })
    expect(parseRange('(,"0001-01-01 BC"]')).toEqual({ lower: undefined, upper: '0001-01-01 BC', lowerInclusive: false, upperInclusive: true })
    expect(parseRange('empty')).toBeUndefined()
    expect(parseRange(formatRange({ lower: 'a"b', upper: undefined, lowerInclusive: true, upperInclusive: false }))).toEqual({ lower: 'a"b', upper: undefined, lowerInclusive: true, upperInclusive: false })
    expect(parseBits('1010000011')).toEqual([10, Uint8Array.of(0b10100000, 0b11000000)])
    expect(formatBits(10, Uint8Array.of(0b10100000, 0b11000000))).toBe('1010000011')
    expect(() => formatBits(17, Uint8Array.of(1, 2))).toThrow(/at least 3 bytes/)
    expect(parseBytea('\\x00ff10')).toEqual(Uint8Array.of(0, 255, 16))
    expect(parseBytea('a\\\\b\\000')).toEqual(Uint8Array.of(97, 92, 98, 0))
  })
})

describe('parameters', () => {
  it('writes each case as text PostgreSQL parses, bytea as bytes, null as NULL', () => {
    expect(toParam({ tag: 'null' }, 0)).toBeNull()
    expect(toParam({ tag: 'int8', val: -9223372036854775808n }, 0)).toBe('-9223372036854775808')
    expect(toParam({ tag: 'float8', val: toHashable(-0) }, 0)).toBe('-0')
    expect(toParam({ tag: 'real', val: toHashable(Math.fround(0.1), 32) }, 0)).toBe(String(Math.fround(0.1)))
    expect(toParam({ tag: 'bytea', val: Uint8Array.of(1, 2) }, 0)).toEqual(Buffer.from([1, 2]))
    expect(toParam({ tag: 'int8-array', val: BigInt64Array.of(1n, -2n) }, 0)).toBe('{"1","-2"}')
    expect(toParam({ tag: 'box-array', val: [[[toHashable(0), toHashable(0)], [toHashable(1), toHashable(1)]]] }, 0)).toBe('{"(0,0),(1,1)"}')
    expect(toParam({ tag: 'timestamp-tz', val: { timestamp: { date: { tag: 'ymd', val: [0, 1, 2] }, time: { hour: 3, min: 4, sec: 5, micro: 6 } }, offset: { tag: 'western-hemisphere-secs', val: 16200 } } }, 0))
      .toBe('0001-01-02 03:04:05.000006-04:30:00 BC')
    expect(toParam({ tag: 'interval', val: { start: { tag: 'negative-infinity' }, startInclusive: false, end: { tag: 'ymd', val: [2024, 1, 1] }, endInclusive: false } }, 0)).toBe('(,"2024-01-01")')
    expect(toParam({ tag: 'macaddr', val: { bytes: [8, 0, 0x2b, 1, 2, 3] } }, 0)).toBe('08:00:2b:01:02:03')
    expect(toParam({ tag: 'pg-lsn', val: 0x16b3748n }, 0)).toBe('0/16B3748')
    expect(toParam({ tag: 'bit', val: [3, Uint8Array.of(0b10100000)] }, 0)).toBe('101')
    expect(toParam({ tag: 'varbit', val: [undefined, Uint8Array.of(0xf0)] }, 0)).toBe('11110000')
    expect(toParam({ tag: 'hstore', val: [['k', 'v'], ['n', undefined]] }, 0)).toBe('"k"=>"v", "n"=>NULL')
  })

  it('refuses what is not the case it claims, as invalid params naming it', () => {
    expect(() => toParam({ tag: 'int4', val: 'seven' }, 2)).toThrow(ParamError)
    expect(() => toParam({ tag: 'int4', val: 'seven' }, 2)).toThrow(/params\[2\] \(int4\)/)
    expect(() => toParam({ tag: 'bool', val: 1 }, 0)).toThrow(ParamError)
    expect(() => toParam({ tag: 'varchar', val: [undefined, Uint8Array.of(0xff)] }, 0)).toThrow(/not UTF-8/)
    expect(() => toParam({ tag: 'bit', val: [9, Uint8Array.of(1)] }, 0)).toThrow(ParamError)
    expect(() => toParam({ tag: 'date', val: { tag: 'ymd', val: [2024, 13, 1] } }, 0)).toThrow(/month/)
    expect(() => toParam({ tag: 'no-such-case' }, 0)).toThrow(/not a pg-value case/)
  })
})

describe('result text', () => {
  it('maps text by type OID to the contract case, exactly', () => {
    expect(fromText(OID.int8, '9223372036854775807')).toEqual({ tag: 'int8', val: 9223372036854775807n })
    expect(fromText(OID.float4, '0.1')).toEqual({ tag: 'float4', val: toHashable(Math.fround(0.1), 32) })
    expect(fromText(OID.numeric, '1.000000000000000000001')).toEqual({ tag: 'numeric', val: '1.000000000000000000001' })
    expect(fromText(OID.box, '(3,4),(1,2)')).toEqual({ tag: 'box', val: [[toHashable(1), toHashable(2)], [toHashable(3), toHashable(4)]] })
    expect(fromText(OID.timestamptz, '2024-01-02 03:04:05.5+05:30')).toEqual({
      tag: 'timestamp-tz', val: { timestamp: { date: { tag: 'ymd', val: [2024, 1, 2] }, time: { hour: 3, min: 4, sec: 5, micro: 500000 } }, offset: { tag: 'eastern-hemisphere-secs', val: 19800 } }
    })
    expect(fromText(OID.date, '0044-03-15 BC')).toEqual({ tag: 'date', val: { tag: 'ymd', val: [-43, 3, 15] } })
    expect(fromText(OID.money, '-$1,234.56')).toEqual({ tag: 'money', val: '-1234.56' })
    expect(fromText(OID.int4, null)).toEqual({ tag: 'null' })
  })

  it('gives what the contract cannot hold back as the server text', () => {
    expect(fromText(OID.int4Array, '{1,NULL}')).toEqual({ tag: 'text', val: '{1,NULL}' })
    expect(fromText(OID.int4Array, '{{1},{2}}')).toEqual({ tag: 'text', val: '{{1},{2}}' })
    expect(fromText(OID.daterange, 'empty')).toEqual({ tag: 'text', val: 'empty' })
    expect(fromText(1186, '1 day 02:00:00')).toEqual({ tag: 'text', val: '1 day 02:00:00' })
    expect(fromText(99999, '"a"=>"b"', new Map([[99999, 'hstore']]))).toEqual({ tag: 'hstore', val: [['a', 'b']] })
  })
})
