import { concat } from '../support/bytes.ts'
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  encodeFrame, encodeHeader, encodeOpening, encodeErrorFrame, FrameDecoder, ERROR_PATH_INDEX, isErrorPath
} from '../../protocol/frame.ts'
import type { FrameItem } from '../../protocol/frame.ts'
import { ProtocolError } from '../../protocol/errors.ts'

const utf8 = new TextEncoder()

function drain (dec: FrameDecoder): FrameItem[] {
  const items: FrameItem[] = []
  for (let item = dec.next(); item != null; item = dec.next()) items.push(item)
  return items
}

function decodeAll (bytes: Uint8Array, splits: number[], header = false): FrameItem[] {
  const dec = new FrameDecoder({ header })
  const items: FrameItem[] = []
  let start = 0
  for (const s of [...splits].sort((a, b) => a - b)) {
    dec.push(bytes.subarray(start, s))
    items.push(...drain(dec))
    start = s
  }
  dec.push(bytes.subarray(start))
  items.push(...drain(dec))
  dec.finish()
  return items
}

function codeOf (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError)
    return (err as ProtocolError).code
  }
  return undefined
}

describe('wRPC frame encoding (vectors from the wRPC codec tests)', () => {
  const unicode = utf8.encode('\x7fƒ𐍈Ő')

  it('encodes {path: [0, 1, 2], data: "test"}', () => {
    expect([...encodeFrame([0, 1, 2], utf8.encode('test'))]).toEqual([0x03, 0x00, 0x01, 0x02, 0x04, 0x74, 0x65, 0x73, 0x74])
  })

  it('encodes the empty frame as 00 00', () => {
    expect([...encodeFrame([], new Uint8Array(0))]).toEqual([0x00, 0x00])
  })

  it('encodes path [0x42] with 9 data bytes', () => {
    expect(unicode.length).toBe(9)
    const frame = encodeFrame([0x42], unicode)
    expect([...frame.subarray(0, 3)]).toEqual([0x01, 0x42, 0x09])
    expect(frame.subarray(3)).toEqual(unicode)
  })

  it('decodes the three frames back from one buffer', () => {
    const bytes = concat(encodeFrame([0, 1, 2], utf8.encode('test')), encodeFrame([], new Uint8Array(0)), encodeFrame([0x42], unicode))
    const items = decodeAll(bytes, [])
    expect(items).toEqual([
      { type: 'frame', path: [0, 1, 2], data: utf8.encode('test') },
      { type: 'frame', path: [], data: new Uint8Array(0) },
      { type: 'frame', path: [0x42], data: unicode }
    ])
  })

  it('encodes multi-byte LEB128 path elements and lengths', () => {
    const data = new Uint8Array(300).fill(7)
    const frame = encodeFrame([128, ERROR_PATH_INDEX], data)
    expect([...frame.subarray(0, 10)]).toEqual([0x02, 0x80, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xac, 0x02])
    expect(decodeAll(frame, [])).toEqual([{ type: 'frame', path: [128, ERROR_PATH_INDEX], data }])
  })

  it('rejects a path element that is not a u32', () => {
    expect(codeOf(() => encodeFrame([-1], new Uint8Array(0)))).toBe('invalid-frame')
    expect(codeOf(() => encodeFrame([2 ** 32], new Uint8Array(0)))).toBe('invalid-frame')
    expect(codeOf(() => encodeFrame([1.5], new Uint8Array(0)))).toBe('invalid-frame')
  })

  it('encodes the header as two component-model strings and the opening as version + header + root frame', () => {
    expect([...encodeHeader({ instance: 'a:b/c', name: 'f' })]).toEqual([5, ...utf8.encode('a:b/c'), 1, ...utf8.encode('f')])
    const opening = encodeOpening({ instance: 'a:b/c', name: 'f' }, Uint8Array.of(42))
    expect([...opening]).toEqual([0x00, 5, ...utf8.encode('a:b/c'), 1, ...utf8.encode('f'), 0x00, 0x01, 42])
    expect(decodeAll(opening, [], true)).toEqual([
      { type: 'header', version: 0, header: { instance: 'a:b/c', name: 'f' } },
      { type: 'frame', path: [], data: Uint8Array.of(42) }
    ])
  })

  it('encodes an error frame on the reserved path with a JSON body', () => {
    const [item] = decodeAll(encodeErrorFrame('overloaded', 'busy'), [])
    expect(item.type === 'frame' && isErrorPath(item.path)).toBe(true)
    if (item.type !== 'frame') return
    expect(JSON.parse(new TextDecoder().decode(item.data))).toEqual({ code: 'overloaded', message: 'busy' })
  })
})

describe('FrameDecoder', () => {
  const frameArb = fc.record({
    path: fc.array(fc.oneof(fc.nat({ max: 300 }), fc.constant(ERROR_PATH_INDEX), fc.nat()), { maxLength: 6 }),
    data: fc.uint8Array({ maxLength: 400 })
  })

  it('decodes the same frames however the stream is split', () => {
    fc.assert(fc.property(
      fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), fc.array(frameArb, { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (instance, name, frames, rawSplits) => {
        const bytes = concat(Uint8Array.of(0), encodeHeader({ instance, name }), ...frames.map(f => encodeFrame(f.path, f.data)))
        const splits = rawSplits.map(s => s % (bytes.length + 1))
        const items = decodeAll(bytes, splits, true)
        expect(items).toEqual([
          { type: 'header', version: 0, header: { instance, name } },
          ...frames.map(f => ({ type: 'frame', path: f.path, data: f.data }))
        ])
      }
    ))
  })

  it('decodes byte-at-a-time feeding', () => {
    const frames = [encodeFrame([1, 2], utf8.encode('hello')), encodeFrame([], utf8.encode('x'))]
    const bytes = concat(...frames)
    const items = decodeAll(bytes, Array.from({ length: bytes.length }, (_, i) => i))
    expect(items).toEqual([
      { type: 'frame', path: [1, 2], data: utf8.encode('hello') },
      { type: 'frame', path: [], data: utf8.encode('x') }
    ])
  })

  it('hands out views of the pushed chunk, not copies, when a frame sits in one chunk', () => {
    const bytes = encodeFrame([0], utf8.encode('abc'))
    const dec = new FrameDecoder()
    dec.push(bytes)
    const item = dec.next()
    expect(item?.type).toBe('frame')
    if (item?.type !== 'frame') return
    expect(item.data.buffer).toBe(bytes.buffer)
  })

  it('rejects a bad version byte', () => {
    const dec = new FrameDecoder({ header: true })
    dec.push(Uint8Array.of(0x01, 0, 0))
    expect(codeOf(() => dec.next())).toBe('invalid-version')
    expect(codeOf(() => dec.next())).toBe('invalid-version')
  })

  it('rejects a header that is not UTF-8', () => {
    const dec = new FrameDecoder({ header: true })
    dec.push(Uint8Array.of(0x00, 2, 0xc3, 0x28, 1, 0x66))
    expect(codeOf(() => dec.next())).toBe('invalid-utf8')
  })

  it('rejects a header longer than maxHeaderBytes before its bytes arrive', () => {
    const dec = new FrameDecoder({ header: true, limits: { maxHeaderBytes: 10 } })
    dec.push(Uint8Array.of(0x00, 0x05, 0x61, 0x61, 0x61, 0x61, 0x61, 0x06))
    expect(codeOf(() => dec.next())).toBe('limit-exceeded')
    const huge = new FrameDecoder({ header: true })
    huge.push(Uint8Array.of(0x00, 0xff, 0xff, 0xff, 0xff, 0x0f))
    expect(codeOf(() => huge.next())).toBe('limit-exceeded')
  })

  it('rejects a frame larger than maxFrameBytes from its declared length alone', () => {
    const dec = new FrameDecoder({ limits: { maxFrameBytes: 16 } })
    dec.push(Uint8Array.of(0x00, 0x11))
    expect(codeOf(() => dec.next())).toBe('limit-exceeded')
    const huge = new FrameDecoder()
    huge.push(Uint8Array.of(0x00, 0xff, 0xff, 0xff, 0xff, 0x0f))
    expect(codeOf(() => huge.next())).toBe('limit-exceeded')
  })

  it('rejects a path deeper than maxPathDepth (32 by default)', () => {
    const dec = new FrameDecoder()
    dec.push(Uint8Array.of(33))
    expect(codeOf(() => dec.next())).toBe('limit-exceeded')
    const ok = new FrameDecoder()
    ok.push(encodeFrame(new Array(32).fill(1), new Uint8Array(0)))
    expect(ok.next()).toMatchObject({ type: 'frame' })
  })

  it('rejects an overlong LEB128 integer', () => {
    const dec = new FrameDecoder()
    dec.push(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x00))
    expect(codeOf(() => dec.next())).toBe('invalid-leb128')
  })

  it('accepts a non-minimal LEB128 of at most five bytes', () => {
    const dec = new FrameDecoder()
    dec.push(Uint8Array.of(0x81, 0x00, 0x05, 0x81, 0x00, 0x61))
    expect(dec.next()).toEqual({ type: 'frame', path: [5], data: utf8.encode('a') })
  })

  it('reports truncation when the stream closes inside a frame or the header', () => {
    const dec = new FrameDecoder()
    dec.push(Uint8Array.of(0x01, 0x02, 0x05, 0x61))
    expect(dec.next()).toBeUndefined()
    expect(codeOf(() => dec.finish())).toBe('truncated')
    const headerless = new FrameDecoder({ header: true })
    headerless.push(Uint8Array.of(0x00, 0x03, 0x61))
    expect(headerless.next()).toBeUndefined()
    expect(codeOf(() => headerless.finish())).toBe('truncated')
    const clean = new FrameDecoder()
    clean.push(encodeFrame([], Uint8Array.of(1)))
    expect(clean.next()).toMatchObject({ type: 'frame' })
    expect(() => clean.finish()).not.toThrow()
  })

  it('never throws anything but ProtocolError on garbage', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, header) => {
      const dec = new FrameDecoder({ header, limits: { maxFrameBytes: 64 } })
      dec.push(bytes)
      try {
        drain(dec)
        dec.finish()
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError)
      }
    }))
  })
})
