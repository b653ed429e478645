import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { decodeValue, decodeValues, decodeValuesPrefix, encodeValue, encodeValueChunks, encodeValues } from '../../protocol/value.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import { arbTypedValue } from '../support/arbitrary.ts'

function errorOf (fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

describe('value codec properties', () => {
  it('decodes every encoded value of a random type back to the same value', () => {
    fc.assert(fc.property(arbTypedValue(), ({ type, value }) => {
      const bytes = encodeValue(type, value)
      expect(decodeValue(type, bytes)).toEqual(value)
      expect(decodeValue(type, bytes, { copy: false })).toEqual(value)
    }), { numRuns: 500 })
  })

  it('round-trips params as a tuple of values', () => {
    fc.assert(fc.property(fc.array(arbTypedValue({ maxDepth: 3 }), { maxLength: 4 }), list => {
      const types = list.map(x => x.type)
      const values = list.map(x => x.value)
      const bytes = encodeValues(types, values)
      expect(decodeValues(types, bytes)).toEqual(values)
    }), { numRuns: 200 })
  })

  it('encodes the same bytes as chunks, large byte runs spliced in without a copy', () => {
    fc.assert(fc.property(fc.array(arbTypedValue({ maxDepth: 3 }), { maxLength: 4 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 12 }), (list, from, headroom) => {
      const types = list.map(x => x.type)
      const values = list.map(x => x.value)
      const whole = encodeValues(types, values)
      const chunks = encodeValueChunks(types, values, { spliceBytesFrom: from, headroomBytes: headroom })
      expect(chunks.length).toBeGreaterThan(0)
      expect(chunks[0].byteOffset).toBeGreaterThanOrEqual(headroom)
      expect(Buffer.concat(chunks).equals(Buffer.from(whole))).toBe(true)
    }), { numRuns: 300 })
  })

  it('decodes a prefix only once it is complete, and needBytes never overshoots', () => {
    fc.assert(fc.property(fc.array(arbTypedValue({ maxDepth: 3 }), { minLength: 1, maxLength: 3 }), list => {
      const types = list.map(x => x.type)
      const values = list.map(x => x.value)
      const bytes = encodeValues(types, values)
      for (let k = 0; k < bytes.length; k++) {
        const err = errorOf(() => decodeValuesPrefix(types, bytes.subarray(0, k), 0))
        expect(err).toBeInstanceOf(ProtocolError)
        const e = err as ProtocolError
        expect(e.code).toBe('truncated')
        expect(e.needBytes).toBeGreaterThan(k)
        expect(e.needBytes).toBeLessThanOrEqual(bytes.length)
      }
      // following the hints from nothing reaches the whole value
      let have = 0
      for (;;) {
        const err = errorOf(() => decodeValuesPrefix(types, bytes.subarray(0, have), 0))
        if (err === undefined) break
        have = (err as ProtocolError).needBytes as number
      }
      expect(have).toBe(bytes.length)
      const whole = decodeValuesPrefix(types, bytes, 0)
      expect(whole.end).toBe(bytes.length)
      expect(whole.values).toEqual(values)
    }), { numRuns: 200 })
  })

  it('decodes from an offset inside a larger buffer and reports where it ended', () => {
    fc.assert(fc.property(arbTypedValue({ maxDepth: 3 }), fc.uint8Array({ maxLength: 4 }), fc.uint8Array({ maxLength: 4 }), ({ type, value }, before, after) => {
      const bytes = encodeValue(type, value)
      const buf = new Uint8Array([...before, ...bytes, ...after])
      const { values, end } = decodeValuesPrefix([type], buf, before.length)
      expect(values).toEqual([value])
      expect(end).toBe(before.length + bytes.length)
    }), { numRuns: 200 })
  })

  it('fails on arbitrary bytes only with a ProtocolError', () => {
    fc.assert(fc.property(arbTypedValue({ maxDepth: 3 }), fc.uint8Array({ maxLength: 64 }), ({ type }, junk) => {
      const err = errorOf(() => decodeValue(type, junk, { limits: { maxListLength: 1024 } }))
      if (err !== undefined) expect(err).toBeInstanceOf(ProtocolError)
    }), { numRuns: 1000 })
  })

  it('fails on a corrupted encoding only with a ProtocolError', () => {
    fc.assert(fc.property(arbTypedValue({ maxDepth: 3 }), fc.nat(), fc.integer({ min: 0, max: 255 }), ({ type, value }, at, byte) => {
      const bytes = encodeValue(type, value).slice()
      if (bytes.length === 0) return
      bytes[at % bytes.length] = byte
      const err = errorOf(() => decodeValue(type, bytes, { limits: { maxListLength: 4096 } }))
      if (err !== undefined) expect(err).toBeInstanceOf(ProtocolError)
    }), { numRuns: 1000 })
  })
})
