// fast-check arbitraries of random WIT types with matching random JS values (in the shape decodeValue returns), for property tests and fuzzing.

import fc from 'fast-check'
import { isTaggedOption, typedListFrom } from '../../protocol/value.ts'
import { toJsName } from '../../protocol/jco-names.ts'
import type { Resource, Type } from '../../protocol/wit/model.ts'

export interface TypeArbitraryOptions {
  /** Deepest type nesting (a primitive is depth 1). Default 4. */
  maxDepth?: number
  /** Include future<T> and stream<T> (their values are always ready: a value, a non-empty list). Default true. */
  async?: boolean
  /** Include own/borrow handles. Default true. */
  handles?: boolean
  /** Most fields/cases/elements per composite type. Default 4. */
  maxWidth?: number
}

export interface TypedValue { readonly type: Type, readonly value: unknown }

const PRIMITIVES = ['bool', 's8', 'u8', 's16', 'u16', 's32', 'u32', 's64', 'u64', 'f32', 'f64', 'char', 'string'] as const

const resource: Resource = { kind: 'resource', name: 'blob', owner: 'test:arb/types', functions: new Map() }

const word = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-z][a-z0-9]{0,4}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Z][A-Z0-9]{0,3}$/) }
)

/** Kebab-case WIT labels, sometimes WAVE keywords or names of Object.prototype members. */
export const arbLabel: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.array(word, { minLength: 1, maxLength: 3 }).map(ws => ws.join('-')) },
  { weight: 1, arbitrary: fc.constantFrom('none', 'some', 'ok', 'err', 'true', 'false', 'nan', 'inf', 'to-string', 'constructor', 'value-of') }
)

function labels (min: number, max: number): fc.Arbitrary<string[]> {
  // distinct JS names too: `a-b` and `a-B` would both be `aB`
  return fc.uniqueArray(arbLabel, { minLength: min, maxLength: max, selector: toJsName })
}

/** Random fully resolved WIT types. */
export function arbType (opts: TypeArbitraryOptions = {}): fc.Arbitrary<Type> {
  const maxDepth = opts.maxDepth ?? 4
  const width = opts.maxWidth ?? 4
  const prim: fc.Arbitrary<Type> = fc.constantFrom(...PRIMITIVES).map(kind => ({ kind }))
  const leaves: Array<fc.WeightedArbitrary<Type>> = [
    { weight: 10, arbitrary: prim },
    { weight: 1, arbitrary: labels(1, 6).map(cases => ({ kind: 'enum', name: 'an-enum', cases })) },
    { weight: 1, arbitrary: labels(0, 12).map(flags => ({ kind: 'flags', name: 'some-flags', flags })) }
  ]
  if (opts.handles !== false) {
    leaves.push({ weight: 1, arbitrary: fc.constantFrom<'own' | 'borrow'>('own', 'borrow').map(kind => ({ kind, resource })) })
  }
  const leaf = fc.oneof(...leaves)
  const level = (depth: number): fc.Arbitrary<Type> => {
    if (depth <= 1) return leaf
    const sub = level(depth - 1)
    const composites: Array<fc.WeightedArbitrary<Type>> = [
      { weight: 6, arbitrary: leaf },
      { weight: 2, arbitrary: sub.map(element => ({ kind: 'list', element })) },
      { weight: 1, arbitrary: fc.tuple(sub, fc.integer({ min: 0, max: 3 })).map(([element, length]) => ({ kind: 'list', element, length })) },
      { weight: 2, arbitrary: sub.map(some => ({ kind: 'option', some })) },
      { weight: 1, arbitrary: fc.tuple(fc.option(sub, { nil: null }), fc.option(sub, { nil: null })).map(([ok, err]) => ({ kind: 'result', ok, err })) },
      { weight: 1, arbitrary: fc.array(sub, { maxLength: width }).map(elements => ({ kind: 'tuple', elements })) },
      {
        weight: 2,
        arbitrary: labels(0, width).chain(names => fc.tuple(...names.map(() => sub)).map(types => ({
          kind: 'record' as const, name: 'a-record', fields: names.map((name, i) => ({ name, type: types[i] }))
        })))
      },
      {
        weight: 1,
        arbitrary: labels(1, width).chain(names => fc.tuple(...names.map(() => fc.option(sub, { nil: null }))).map(types => ({
          kind: 'variant' as const, name: 'a-variant', cases: names.map((name, i) => ({ name, type: types[i] }))
        })))
      }
    ]
    if (opts.async !== false) {
      composites.push(
        { weight: 1, arbitrary: fc.option(sub, { nil: null }).map(element => ({ kind: 'future', element })) },
        { weight: 1, arbitrary: fc.option(sub, { nil: null }).map(element => ({ kind: 'stream', element })) }
      )
    }
    return fc.oneof(...composites)
  }
  return level(maxDepth)
}


const scalar = fc.integer({ min: 0, max: 0x10ffff }).filter(c => c < 0xd800 || c > 0xdfff).map(c => String.fromCodePoint(c))

function items (element: Type | null, min: number, max: number): fc.Arbitrary<unknown> {
  const arr = fc.array(element === null ? fc.constant(undefined) : arbValue(element), { minLength: min, maxLength: max })
  const typed = element === null ? undefined : typedListFrom[element.kind]
  return typed === undefined ? arr : arr.map(typed)
}

/** Random JS values of `type`, in the representation decodeValue and parseWave give. */
export function arbValue (type: Type): fc.Arbitrary<unknown> {
  const t = type
  switch (t.kind) {
    case 'bool': return fc.boolean()
    case 's8': return fc.integer({ min: -0x80, max: 0x7f })
    case 'u8': return fc.integer({ min: 0, max: 0xff })
    case 's16': return fc.integer({ min: -0x8000, max: 0x7fff })
    case 'u16': return fc.integer({ min: 0, max: 0xffff })
    case 's32': return fc.integer({ min: -0x80000000, max: 0x7fffffff })
    case 'u32': return fc.integer({ min: 0, max: 0xffffffff })
    case 's64': return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
    case 'u64': return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
    case 'f32': return fc.float()
    case 'f64': return fc.double()
    case 'char': return scalar
    case 'string': return fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ unit: 'binary', minLength: 40, maxLength: 90 }))
    case 'error-context': return fc.constant(undefined)
    case 'list': return t.length !== undefined ? items(t.element, t.length, t.length) : items(t.element, 0, 5)
    case 'option': {
      const inner = arbValue(t.some)
      return isTaggedOption(t)
        ? fc.oneof(fc.constant({ tag: 'none' }), inner.map(val => ({ tag: 'some', val })))
        : fc.option(inner, { nil: undefined })
    }
    case 'result': {
      const side = (tag: 'ok' | 'err', s: Type | null): fc.Arbitrary<unknown> =>
        s === null ? fc.constant({ tag, val: undefined }) : arbValue(s).map(val => ({ tag, val }))
      return fc.oneof(side('ok', t.ok), side('err', t.err))
    }
    case 'tuple': return t.elements.length === 0 ? fc.constant([]) : fc.tuple(...t.elements.map(arbValue))
    case 'record': {
      const model: Record<string, fc.Arbitrary<unknown>> = {}
      for (const f of t.fields) model[toJsName(f.name)] = arbValue(f.type)
      return fc.record(model)
    }
    case 'variant': return fc.oneof(...t.cases.map(c => {
      const payload = c.type
      return payload === null ? fc.constant({ tag: c.name }) : arbValue(payload).map(val => ({ tag: c.name, val }))
    }))
    case 'enum': return fc.constantFrom(...t.cases)
    case 'flags': {
      if (t.flags.length === 0) return fc.constant({})
      return fc.tuple(...t.flags.map(() => fc.boolean())).map(bits => {
        const o: Record<string, boolean> = {}
        t.flags.forEach((f, i) => { o[toJsName(f)] = bits[i] })
        return o
      })
    }
    case 'own':
    case 'borrow': return fc.uint8Array({ maxLength: 8 })
    case 'future': return t.element === null ? fc.constant(undefined) : arbValue(t.element)
    case 'stream': return items(t.element, 1, 4)
  }
}

/** A random type together with a random value of it. */
export function arbTypedValue (opts: TypeArbitraryOptions = {}): fc.Arbitrary<TypedValue> {
  return arbType(opts).chain(type => arbValue(type).map(value => ({ type, value })))
}
