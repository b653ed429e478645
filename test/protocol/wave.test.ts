import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { parseWave, printWave } from '../../protocol/wave.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import type { Type } from '../../protocol/wit/model.ts'
import { arbTypedValue } from '../support/arbitrary.ts'

function codeOf (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return err instanceof ProtocolError ? err.code : `not a ProtocolError: ${String(err)}`
  }
  return undefined
}

const u8: Type = { kind: 'u8' }
const str: Type = { kind: 'string' }
const resource = { kind: 'resource' as const, name: 'r', owner: 't:t/t', functions: new Map() }
const person: Type = {
  kind: 'record',
  name: 'person',
  fields: [
    { name: 'first-name', type: str },
    { name: 'age', type: { kind: 'option', some: u8 } }
  ]
}
const response: Type = {
  kind: 'variant',
  name: 'response',
  cases: [
    { name: 'empty', type: null },
    { name: 'body', type: { kind: 'list', element: u8 } },
    { name: 'err', type: str }
  ]
}
const perms: Type = { kind: 'flags', name: 'perms', flags: ['read', 'write', 'exec'] }

describe('printWave', () => {
  it('prints every kind of value', () => {
    expect(printWave({ kind: 'bool' }, true)).toBe('true')
    expect(printWave({ kind: 's32' }, -9)).toBe('-9')
    expect(printWave({ kind: 'u64' }, 2n ** 64n - 1n)).toBe('18446744073709551615')
    expect(printWave({ kind: 'f64' }, 3.14)).toBe('3.14')
    expect(printWave({ kind: 'f64' }, Number.NaN)).toBe('nan')
    expect(printWave({ kind: 'f64' }, -Infinity)).toBe('-inf')
    expect(printWave({ kind: 'f64' }, -0)).toBe('-0')
    expect(printWave({ kind: 'f32' }, Math.fround(0.1))).toBe('0.1')
    expect(printWave({ kind: 'char' }, '\'')).toBe("'\\''")
    expect(printWave({ kind: 'char' }, '☃')).toBe("'☃'")
    expect(printWave(str, 'abc\t"1"\n\u0001')).toBe('"abc\\t\\"1\\"\\n\\u{1}"')
    expect(printWave({ kind: 'tuple', elements: [str, u8] }, ['abc', 123])).toBe('("abc", 123)')
    expect(printWave({ kind: 'list', element: u8 }, new Uint8Array([1, 2, 3]))).toBe('[1, 2, 3]')
    expect(printWave(person, { firstName: 'Ann', age: 3 })).toBe('{first-name: "Ann", age: some(3)}')
    expect(printWave({ kind: 'record', fields: [] }, {})).toBe('{:}')
    expect(printWave(response, { tag: 'empty' })).toBe('empty')
    expect(printWave(response, { tag: 'body', val: new Uint8Array([79, 75]) })).toBe('body([79, 75])')
    expect(printWave(response, { tag: 'err', val: 'oops' })).toBe('%err("oops")')
    expect(printWave({ kind: 'enum', cases: ['ok', 'not-found'] }, 'ok')).toBe('%ok')
    expect(printWave({ kind: 'option', some: u8 }, undefined)).toBe('none')
    expect(printWave({ kind: 'result', ok: null, err: str }, { tag: 'ok' })).toBe('ok')
    expect(printWave({ kind: 'result', ok: u8, err: str }, { tag: 'err', val: 'x' })).toBe('err("x")')
    expect(printWave(perms, { read: true, exec: true })).toBe('{read, exec}')
    expect(printWave(perms, {})).toBe('{}')
    expect(printWave({ kind: 'own', resource }, new Uint8Array([0x0a, 0x1b]))).toBe('"h:0a1b"')
    expect(printWave({ kind: 'future', element: u8 }, 7)).toBe('7')
    expect(printWave({ kind: 'stream', element: u8 }, new Uint8Array([1]))).toBe('[1]')
  })

  it('rejects values that do not match the type, and pending async values', () => {
    expect(codeOf(() => printWave(u8, 300))).toBe('value-range')
    expect(codeOf(() => printWave(person, { firstName: 1 }))).toBe('value-type')
    expect(codeOf(() => printWave({ kind: 'future', element: u8 }, Promise.resolve(1)))).toBe('async-unsupported')
  })
})

describe('parseWave', () => {
  it('parses the forms of the wasm-wave README', () => {
    expect(parseWave({ kind: 'f64' }, '6.022e+23')).toBe(6.022e23)
    expect(parseWave({ kind: 'f64' }, 'nan')).toBeNaN()
    expect(parseWave({ kind: 'f64' }, '-inf')).toBe(-Infinity)
    expect(Object.is(parseWave({ kind: 'f64' }, '-0'), -0)).toBe(true)
    expect(parseWave({ kind: 'char' }, "'\\u{1F600}'")).toBe('😀')
    expect(parseWave({ kind: 'char' }, "'\\n'")).toBe('\n')
    expect(parseWave(str, '"abc\\t123"')).toBe('abc\t123')
    expect(parseWave({ kind: 'option', some: str }, '"flat some"')).toBe('flat some')
    expect(parseWave({ kind: 'option', some: str }, 'some("explicit some")')).toBe('explicit some')
    expect(parseWave({ kind: 'result', ok: str, err: str }, '"flat ok"')).toEqual({ tag: 'ok', val: 'flat ok' })
    expect(parseWave({ kind: 'result', ok: null, err: null }, 'err')).toEqual({ tag: 'err', val: undefined })
    expect(parseWave(response, 'body([79, 75])')).toEqual({ tag: 'body', val: new Uint8Array([79, 75]) })
    expect(parseWave(response, '%err("oops")')).toEqual({ tag: 'err', val: 'oops' })
    expect(parseWave(perms, '{write, read,}')).toEqual({ read: true, write: true, exec: false })
    expect(parseWave(person, '{first-name: "x"}')).toEqual({ firstName: 'x', age: undefined })
    expect(parseWave({ kind: 'record', fields: [{ name: 'optional', type: { kind: 'option', some: u8 } }] }, '{:}')).toEqual({ optional: undefined })
    expect(parseWave({ kind: 'list', element: { kind: 'char' } }, "['a', 'b', 'c']")).toEqual(['a', 'b', 'c'])
    expect(parseWave({ kind: 'tuple', elements: [u8, str] }, '(123, "abc",)')).toEqual([123, 'abc'])
    expect(parseWave({ kind: 'own', resource }, '"h:0a1b"')).toEqual(new Uint8Array([0x0a, 0x1b]))
  })

  it('parses multiline strings with the closing delimiter setting the indent', () => {
    expect(parseWave(str, '"""\nA single line\n"""')).toBe('A single line')
    expect(parseWave(str, '"""\n    Indentation determined\n      by ending delimiter\n  """')).toBe('  Indentation determined\n    by ending delimiter')
    expect(parseWave(str, '"""\r\n  Must escape carriage return at end of line: \\r\r\n  Must break up double quote triplets: ""\\""\r\n  """'))
      .toBe('Must escape carriage return at end of line: \r\nMust break up double quote triplets: """"')
  })

  it('skips whitespace and comments between tokens', () => {
    expect(parseWave({ kind: 'list', element: u8 }, ' [ 1 , // one\n 2 ] // done')).toEqual(new Uint8Array([1, 2]))
  })

  it('uses the jco shapes: camelCase fields, tagged nested options, bigints, typed arrays', () => {
    const nested: Type = { kind: 'option', some: { kind: 'option', some: u8 } }
    expect(parseWave(nested, 'some(none)')).toEqual({ tag: 'some', val: undefined })
    expect(parseWave(nested, 'none')).toEqual({ tag: 'none' })
    expect(parseWave({ kind: 's64' }, '-5')).toBe(-5n)
    expect(parseWave({ kind: 'list', element: { kind: 'f32' } }, '[0.5]')).toEqual(new Float32Array([0.5]))
  })

  it('fails with wave-syntax and the position', () => {
    const cases: Array<[Type, string]> = [
      [u8, '256'],
      [u8, '1.5'],
      [u8, '01'],
      [u8, 'x'],
      [{ kind: 'bool' }, 'yes'],
      [{ kind: 'char' }, "'ab'"],
      [{ kind: 'char' }, "''"],
      [{ kind: 'char' }, "'\\u{D800}'"],
      [str, '"abc'],
      [str, '"a\nb"'],
      [str, '"\\q"'],
      [response, 'err("x")'],
      [response, 'nope'],
      [response, 'empty(1)'],
      [person, '{age: 3}'],
      [person, '{first-name: "a", first-name: "b"}'],
      [person, '{first-name: "a", height: 3}'],
      [perms, '{read, read}'],
      [perms, '{delete}'],
      [{ kind: 'tuple', elements: [u8, u8] }, '(1)'],
      [{ kind: 'list', element: u8, length: 2 }, '[1]'],
      [{ kind: 'list', element: u8 }, '[1 2]'],
      [{ kind: 'option', some: { kind: 'option', some: u8 } }, '5'],
      [{ kind: 'f32' }, '1e39'],
      [{ kind: 'own', resource }, '"0a"'],
      [u8, '1 2']
    ]
    for (const [type, text] of cases) {
      let err: unknown
      try {
        parseWave(type, text)
      } catch (e) {
        err = e
      }
      expect(err, text).toBeInstanceOf(ProtocolError)
      expect((err as ProtocolError).code, text).toBe('wave-syntax')
      expect((err as ProtocolError).message, text).toMatch(/line \d+, column \d+/)
    }
  })

  it('names the column of the error', () => {
    expect(() => parseWave(person, '{first-name: "x",\n  agee: 4}')).toThrow(/agee is not a field of person .* \(line 2, column 3\)/)
  })

  it('re-parses what it prints to the same value (property)', () => {
    fc.assert(fc.property(arbTypedValue(), ({ type, value }) => {
      expect(parseWave(type, printWave(type, value))).toEqual(value)
    }), { numRuns: 500 })
  })
})
