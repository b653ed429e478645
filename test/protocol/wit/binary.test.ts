// decodeComponentWit reads a component's complete WIT from its binary, agrees with the WIT sources, and fails cleanly on bad bytes.
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { componentWit } from '@bytecodealliance/jco-transpile/wasm-tools'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../../examples/build.ts'
import { ComponentDecodeError, decodeComponentWit } from '../../../protocol/wit/binary.ts'
import { parseWit, printFunc, printInterface, printWit, printWorld } from '../../../protocol/wit/index.ts'
import type { Func, Interface, Resource, Wit } from '../../../protocol/wit/index.ts'
import { dumpFunc, referenceFiles } from './helpers.ts'

const COLD_BUILD_MS = 15 * 60_000

const exampleNames = ['hello', 'hello-quickjs', 'upper', 'upper-quickjs', 'shout', 'types', 'types-quickjs', 'counter', 'counter-quickjs', 'sandbox-probe', 'sandbox-fetch', 'arith', 'host-ifaces', 'http-client']

/** The interface each example exports, as declared in wit/examples. */
const exportedInterface: Record<string, string | undefined> = {
  upper: 'local:demo/upper',
  'upper-quickjs': 'local:demo/upper',
  shout: 'local:demo/shout',
  types: 'wasmesh:examples/types',
  'types-quickjs': 'wasmesh:examples/types',
  counter: 'wasmesh:examples/counter',
  'counter-quickjs': 'wasmesh:examples/counter',
  'sandbox-probe': 'wasmesh:examples/probe',
  'sandbox-fetch': 'wasmesh:examples/probe-http',
  arith: 'wasmesh:examples/arith',
  'host-ifaces': 'wasmesh:examples/host-probe',
  'http-client': 'wasmesh:examples/http-client'
}

const bytes: Record<string, Uint8Array> = {}
let sources: Wit

function witDir (rel: string): Record<string, string> {
  const dir = new URL(rel, import.meta.url)
  const out: Record<string, string> = {}
  for (const f of readdirSync(fileURLToPath(dir)).sort()) {
    if (f.endsWith('.wit')) out[`${rel}${f}`] = readFileSync(new URL(f, dir), 'utf8')
  }
  return out
}

/** wit/examples with every package it refers to (WASI comes with jco, as examples/build.ts stages it). */
function exampleSources (): Wit {
  const files = { ...witDir('../../../wit/examples/') }
  for (const dep of ['wasi-keyvalue-0.2.0-draft', 'wasi-logging-0.1.0-draft', 'wasi-config-0.2.0-draft', 'wasmcloud-bus-1.0.0', 'wasmcloud-secrets-0.1.0-draft', 'wasmcloud-messaging-0.2.0']) {
    Object.assign(files, witDir(`../../../wit/deps/${dep}/`))
  }
  const wasi = new URL('../../../node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12/', import.meta.url)
  for (const pkg of readdirSync(fileURLToPath(wasi)).sort()) Object.assign(files, witDir(`../../../node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12/${pkg}/`))
  return parseWit(files)
}

/** Printed WIT without doc comments: a binary carries no docs. */
function withoutDocs (text: string): string {
  return text.split('\n').filter(l => !l.trimStart().startsWith('///')).join('\n')
}

function importExportLines (text: string): string[] {
  return text.split('\n').map(l => l.trim()).filter(l => l.startsWith('import ') || l.startsWith('export '))
}

function decodeError (f: () => unknown): ComponentDecodeError | undefined {
  try {
    f()
    return undefined
  } catch (e) {
    if (e instanceof ComponentDecodeError) return e
    throw e
  }
}

beforeAll(async () => {
  const paths = await ensureExamples({ names: exampleNames })
  for (const name of exampleNames) bytes[name] = new Uint8Array(readFileSync(paths[name]))
  sources = exampleSources()
}, COLD_BUILD_MS)

describe('the example components', () => {
  it.each(exampleNames)('%s: prints complete WIT that parses again to the same text', name => {
    const text = printWit(decodeComponentWit(bytes[name]))
    expect(text.startsWith('package root:component;\n\nworld root {\n')).toBe(true)
    const again = parseWit({ 'decoded.wit': text })
    expect(printWit(again)).toBe(text)
  })

  it.each(exampleNames)('%s: the root world imports and exports what componentWit prints, in the same order', async name => {
    const wit = decodeComponentWit(bytes[name])
    const world = wit.findWorld('root:component/root')
    expect(world).toBeDefined()
    const expected = importExportLines(await componentWit(bytes[name]))
    expect(importExportLines(printWorld(world as NonNullable<typeof world>))).toEqual(expected)
  })

  it.each(Object.entries(exportedInterface))('%s: the exported interface %s is the one in wit/', (name, id) => {
    const decoded = decodeComponentWit(bytes[name]).findInterface(id as string)
    const source = sources.findInterface(id as string)
    expect(decoded).toBeDefined()
    expect(source).toBeDefined()
    expect(printInterface(decoded as Interface)).toBe(withoutDocs(printInterface(source as Interface)))
  })

  it('finds functions exactly as a model parsed from the WIT sources does', () => {
    for (const [name, iface, func] of [['upper', 'local:demo/upper', 'to-upper'], ['upper', 'local:demo/host', 'log'], ['types', 'wasmesh:examples/types', 'echo-record'], ['types-quickjs', 'wasmesh:examples/types', 'echo-variant'], ['arith', 'wasmesh:examples/arith', 'add64']] as const) {
      const decoded = decodeComponentWit(bytes[name]).findFunction(iface, func)
      const source = sources.findFunction(iface, func)
      expect(decoded).toBeDefined()
      expect({ ...(dumpFunc(decoded as Func) as object), docs: undefined }).toEqual({ ...(dumpFunc(source as Func) as object), docs: undefined })
    }
  })

  it('gives a world-level export function its signature', () => {
    const wit = decodeComponentWit(bytes.hello)
    const f = wit.findFunction('root:component/root', 'hello-world')
    expect(f).toMatchObject({ name: 'hello-world', kind: 'freestanding', async: false, params: [], results: [{ kind: 'string' }] })
  })

  it.each(['counter', 'counter-quickjs'])('%s: wasi:keyvalue/store has the resource bucket of the reference WIT', name => {
    const wit = decodeComponentWit(bytes[name])
    const reference = parseWit(referenceFiles('wasi-keyvalue-0.2.0-draft'))
    const store = wit.findInterface('wasi:keyvalue/store@0.2.0-draft')
    const refStore = reference.findInterface('wasi:keyvalue/store@0.2.0-draft')
    const bucket = store?.types.get('bucket') as Resource
    const refBucket = refStore?.types.get('bucket') as Resource
    expect(bucket.kind).toBe('resource')
    expect(bucket.owner).toBe('wasi:keyvalue/store@0.2.0-draft')
    const sigs = (r: Resource): Record<string, string> => Object.fromEntries([...r.functions].map(([k, f]) => [k, printFunc(f)]))
    expect(sigs(bucket)).toEqual(sigs(refBucket))
    for (const [key, f] of bucket.functions) {
      expect(store?.functions.get(key)).toBe(f)
      expect(f.params[0]).toEqual({ name: 'self', type: { kind: 'borrow', resource: bucket } })
    }
    // `open` returns an own handle pointing at the very same Resource object.
    const open = wit.findFunction('wasi:keyvalue/store@0.2.0-draft', 'open') as Func
    const ok = open.results[0]
    expect(ok.kind === 'result' && ok.ok?.kind === 'own' && ok.ok.resource).toBe(bucket)
    // atomics `use`s bucket and error from store.
    const atomics = wit.findInterface('wasi:keyvalue/atomics@0.2.0-draft') as Interface
    expect(atomics.types.get('bucket')).toBe(bucket)
    expect(atomics.uses?.get('error')).toEqual({ from: 'wasi:keyvalue/store@0.2.0-draft', name: 'error' })
    for (const t of ['error', 'key-response']) {
      expect(printInterface({ ...(store as Interface), types: new Map([[t, store?.types.get(t) as Resource]]), functions: new Map() }))
        .toBe(withoutDocs(printInterface({ ...(refStore as Interface), types: new Map([[t, refStore?.types.get(t) as Resource]]), functions: new Map(), uses: new Map() })))
    }
  })
})

// A tiny component encoder for hand-made binaries.
function leb (n: number): number[] {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return out
}
function str (s: string): number[] {
  const b = [...new TextEncoder().encode(s)]
  return [...leb(b.length), ...b]
}
function vec (items: number[][]): number[] {
  return [...leb(items.length), ...items.flat()]
}
function section (id: number, body: number[]): number[] {
  return [id, ...leb(body.length), ...body]
}
const preamble = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]
function component (...sections: number[][]): Uint8Array {
  return new Uint8Array([...preamble, ...sections.flat()])
}
const exportDecl = (name: string, desc: number[]): number[] => [0x04, 0x00, ...str(name), ...desc]
const typeDecl = (t: number[]): number[] => [0x01, ...t]
const funcType = (params: Array<[string, number[]]>, result?: number[], async = false): number[] =>
  [async ? 0x43 : 0x40, ...vec(params.map(([n, t]) => [...str(n), ...t])), ...(result === undefined ? [0x01, 0x00] : [0x00, ...result])]

/** A component importing `test:pkg/things@1.0.0` with a resource, async, fixed-size list, future, stream and error-context. */
function thingsComponent (): Uint8Array {
  const inst = [0x42, ...vec([
    exportDecl('thing', [0x03, 0x01]), //                          0: resource thing
    typeDecl([0x69, 0x00]), //                                      1: own<thing>
    typeDecl([0x68, 0x00]), //                                      2: borrow<thing>
    typeDecl([0x67, 0x7d, 0x04]), //                                3: list<u8, 4>
    typeDecl([0x65, 0x01, 0x73]), //                                4: future<string>
    typeDecl([0x66, 0x00]), //                                      5: stream
    typeDecl([0x6d, ...vec([str('low'), str('high')])]), //         6: enum
    exportDecl('level', [0x03, 0x00, 0x06]), //                     7: level
    typeDecl(funcType([['seed', [0x03]]], [0x01])), //              8
    exportDecl('[constructor]thing', [0x01, 0x08]),
    typeDecl(funcType([['self', [0x02]], ['at', [0x07]]], [0x04], true)), // 9
    exportDecl('[method]thing.watch', [0x01, 0x09]),
    typeDecl(funcType([], [0x05])), //                              10
    exportDecl('[static]thing.events', [0x01, 0x0a]),
    typeDecl(funcType([['e', [0x64]]])), //                         11
    exportDecl('report', [0x01, 0x0b])
  ])]
  return component(
    section(7, vec([inst])),
    section(10, vec([[0x00, ...str('test:pkg/things@1.0.0'), 0x05, 0x00]]))
  )
}

const thingsWit = `package test:pkg@1.0.0;

interface things {
  resource thing {
    constructor(seed: list<u8, 4>);
    watch: async func(at: level) -> future<string>;
    events: static func() -> stream;
  }
  enum level {
    low,
    high,
  }
  report: func(e: error-context);
}
`

describe('hand-made components', () => {
  it('decodes resources, async functions, fixed-size lists, futures, streams and error-context like the parser', () => {
    const wit = decodeComponentWit(thingsComponent())
    const decoded = wit.findInterface('test:pkg/things@1.0.0') as Interface
    const source = parseWit({ 'things.wit': thingsWit }).findInterface('test:pkg/things@1.0.0') as Interface
    expect(printInterface(decoded)).toBe(printInterface(source))
    const thing = decoded.types.get('thing') as Resource
    expect([...thing.functions.keys()]).toEqual(['[constructor]thing', '[method]thing.watch', '[static]thing.events'])
    for (const key of thing.functions.keys()) {
      expect(dumpFunc(wit.findFunction('test:pkg/things', key) as Func)).toEqual(dumpFunc(source.functions.get(key) as Func))
    }
    const ctor = thing.functions.get('[constructor]thing') as Func
    expect(ctor.results[0]).toEqual({ kind: 'own', resource: thing })
    expect(wit.findFunction('test:pkg/things', 'thing.watch')?.async).toBe(true)
    expect(printWit(parseWit({ 'x.wit': printWit(wit) }))).toBe(printWit(wit))
  })

  it('names the error of each kind of bad input', () => {
    const cases: Array<[Uint8Array, string, RegExp]> = [
      [new Uint8Array([]), 'invalid-component', /too short/],
      [new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]), 'invalid-component', /core WebAssembly module/],
      [new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00]), 'invalid-component', /bad magic/],
      [new Uint8Array([...preamble.slice(0, 4), 0x0c, 0x00, 0x01, 0x00]), 'unsupported-component', /version/],
      [component(section(13, [])), 'invalid-component', /unknown section id 13/],
      [component([7, 0x85, 0x80, 0x80, 0x80, 0x10]), 'invalid-component', /LEB128/],
      [component(section(7, [0x01, 0x70, 0x05])), 'invalid-component', /type index 5 is out of range/],
      [component(section(7, [0x01, 0x72, 0x00])), 'invalid-component', /no record fields/],
      [component(section(7, vec([[0x72, ...vec([[...str('a b'), 0x7f]])]]))), 'invalid-component', /not a valid label/],
      [component(section(7, [0xff, 0xff, 0xff, 0xff, 0x0f])), 'invalid-component', /exceeds the .* bytes left/],
      [component(section(7, [0x01, 0x70, 0x7f, 0x00])), 'invalid-component', /left over/],
      [component(section(7, vec([[0x63, 0x73, 0x73]]))), 'unsupported-component', /map/]
    ]
    for (const [input, code, message] of cases) {
      const e = decodeError(() => decodeComponentWit(input))
      expect(e, `${message}`).toBeInstanceOf(ComponentDecodeError)
      expect(e?.code).toBe(code)
      expect(e?.message).toMatch(message)
    }
  })

  it('enforces maxTypes, maxDepth and maxTypeSize', () => {
    expect(decodeError(() => decodeComponentWit(bytes['types-quickjs'], { maxTypes: 50 }))?.code).toBe('limit-exceeded')
    const nested = component(section(7, vec([[0x70, 0x7f], ...Array.from({ length: 10 }, (_, i) => [0x70, i])])))
    expect(decodeError(() => decodeComponentWit(nested, { maxDepth: 8 }))?.code).toBe('limit-exceeded')
    expect(decodeComponentWit(nested, { maxDepth: 12 }).packages).toHaveLength(1)
    // Each tuple doubles the size of the one before: shared in memory, exponential written out.
    const doubling = component(section(7, vec([[0x70, 0x7f], ...Array.from({ length: 30 }, (_, i) => [0x6f, 0x02, i, i])])))
    expect(decodeError(() => decodeComponentWit(doubling, { maxDepth: 64 }))?.message).toMatch(/maxTypeSize/)
  })
})

/** The component without its core modules (sections 1, also inside nested components): just the type information. */
function stripCoreModules (input: Uint8Array): Uint8Array {
  const out: number[] = [...input.subarray(0, 8)]
  let pos = 8
  while (pos < input.length) {
    const id = input[pos++]
    let size = 0
    let shift = 0
    for (;;) {
      const b = input[pos++]
      size += (b & 0x7f) * 2 ** shift
      shift += 7
      if ((b & 0x80) === 0) break
    }
    const body = input.subarray(pos, pos + size)
    pos += size
    if (id === 1) continue
    const kept = id === 4 ? [...stripCoreModules(body)] : [...body]
    out.push(...section(id, kept))
  }
  return new Uint8Array(out)
}

describe('hostile input', () => {
  it('stripping core modules keeps the WIT the same (the decoder never looks inside them)', () => {
    for (const name of ['types-quickjs', 'counter']) {
      expect(printWit(decodeComponentWit(stripCoreModules(bytes[name])))).toBe(printWit(decodeComponentWit(bytes[name])))
    }
  })

  it.each([['arith', 1], ['upper', 13]] as const)('%s: truncated at every %i-th offset, decodes a prefix of sections or fails with a ComponentDecodeError', (name, stride) => {
    const full = stripCoreModules(bytes[name])
    let failures = 0
    let tried = 0
    for (let end = 0; end < full.length; end += stride) {
      tried++
      const e = decodeError(() => printWit(decodeComponentWit(full.subarray(0, end))))
      if (e !== undefined) {
        expect(e.code).toBe('invalid-component')
        failures++
      }
    }
    expect(failures).toBeGreaterThan(tried * 0.9)
    expect(decodeError(() => decodeComponentWit(full.subarray(0, full.length - 1)))?.code).toBe('invalid-component')
  })

  it.each(['arith', 'types-quickjs', 'counter'])('%s: random byte changes decode or fail with a ComponentDecodeError, never anything else', name => {
    const base = stripCoreModules(bytes[name])
    let failures = 0
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      flips => {
        const input = base.slice()
        for (const [at, value] of flips) input[at] = value
        const e = decodeError(() => printWit(decodeComponentWit(input)))
        if (e !== undefined) failures++
      }
    ), { seed: 20240601, numRuns: name === 'arith' ? 1000 : 300 })
    expect(failures).toBeGreaterThan(0)
  })
})
