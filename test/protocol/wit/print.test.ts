import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { parseWit, printInterface, printType, printWit, printWorld } from '../../../protocol/wit/index.ts'
import type { Wit } from '../../../protocol/wit/index.ts'
import { dumpInterface, dumpWit, dumpWorld } from './helpers.ts'

function roundTrip (files: Record<string, string>): { wit: Wit, again: Wit, text: string } {
  const wit = parseWit(files)
  const text = printWit(wit)
  return { wit, again: parseWit({ 'printed.wit': text }), text }
}

const corpus: Record<string, Record<string, string>> = {
  'types and aliases': {
    't.wit': `
      package test:types@1.0.0;
      interface base { record id { v: u64 } type ids = list<id>; resource blob { size: func() -> u64; } }
      interface all {
        use base.{id, ids as id-list, blob};
        type bytes = list<u8>;
        type also-bytes = bytes;
        type pair = tuple<bytes, option<id>>;
        type unit = result;
        variant v { a, b(pair), c(list<u8, 16>) }
        enum %enum { %type, other }
        flags f { x, y }
        record %record { %list: id-list, e: %enum, fu: future<stream<u8>>, s: stream, r: result<_, v> }
        get: func(p: pair, b: borrow<blob>, o: blob, u: unit, ec: error-context) -> result<also-bytes, v>;
        go: async func() -> future;
      }
    `
  },
  resources: {
    'r.wit': `
      package test:res;
      interface files {
        variant error { not-found, io(string) }
        /// A file.
        resource file {
          constructor(path: string) -> result<file, error>;
          /// Reads.
          read: func(len: u32) -> result<list<u8>, error>;
          read-async: async func(len: u32) -> list<u8>;
          open: static func(path: string) -> file;
          open-async: static async func(path: string) -> file;
        }
        resource token;
        copy: func(src: borrow<file>, dst: file, t: token) -> result<_, error>;
      }
    `
  },
  worlds: {
    'w.wit': `
      package test:worlds@0.3.0;
      interface types { record req { path: string } resource conn { send: func(b: list<u8>); } type alias = list<req>; }
      interface handler { use types.{req}; handle: func(r: req) -> u16; }
      world base { import log: func(msg: string); export run: func(); }
      world server {
        include base with { log as emit }
        use types.{req, conn, alias as reqs};
        record opts { port: u16 }
        resource session { constructor(); close: func(); }
        import config: interface { use types.{req}; get: func(r: req) -> option<string>; }
        import make: func(o: opts, r: reqs, c: borrow<conn>) -> session;
        export handler;
        export stats: interface { count: func() -> u64; }
      }
    `
  }
}

describe('printing WIT', () => {
  for (const [name, files] of Object.entries(corpus)) {
    it(`round-trips ${name}`, () => {
      const { wit, again, text } = roundTrip(files)
      expect(dumpWit(again)).toEqual(dumpWit(wit))
      expect(printWit(again)).toBe(text)
    })
  }

  it('prints types in WIT syntax, named types by name', () => {
    const wit = parseWit(corpus['types and aliases'])
    const get = wit.findFunction('test:types/all', 'get')
    expect(get?.params.map(p => printType(p.type))).toEqual([
      'tuple<list<u8>, option<id>>', 'borrow<blob>', 'blob', 'result', 'error-context'
    ])
    const rec = wit.findInterface('test:types/all')?.types.get('record')
    expect(rec?.kind === 'record' && printType(rec)).toBe('%record')
  })

  it('prints one interface that re-parses to the same interface', () => {
    const wit = parseWit(corpus['types and aliases'])
    const all = wit.findInterface('test:types/all@1.0.0')
    const base = wit.findInterface('test:types/base@1.0.0')
    if (all === undefined || base === undefined) throw new Error('missing interface')
    const text = printInterface(all)
    expect(text).toContain('use base.{id, ids as id-list, blob};')
    expect(text).toContain('type also-bytes = bytes;')
    expect(text).toContain('get: func(p: pair, b: borrow<blob>, o: blob, u: unit, ec: error-context) -> result<bytes, v>;')
    const again = parseWit({ 'p.wit': `package test:types@1.0.0;\n${printInterface(base)}\n${text}` })
    expect(dumpInterface(again.findInterface('test:types/all@1.0.0')!)).toEqual(dumpInterface(all))
  })

  it('prints a world with includes flattened and implied imports written', () => {
    const wit = parseWit(corpus.worlds)
    const server = wit.findWorld('test:worlds/server')!
    const text = printWorld(server)
    expect(text).toContain('import emit: func(msg: string);')
    expect(text).toContain('use types.{req, conn, alias as reqs};')
    expect(text).toContain('import make: func(o: opts, r: reqs, c: borrow<conn>) -> session;')
    const again = parseWit({ 'w.wit': printWit(wit) })
    expect(dumpWorld(again.findWorld('test:worlds/server')!)).toEqual(dumpWorld(server))
  })

  it('round-trips generated types (property)', () => {
    const type: fc.Memo<string> = fc.memo(n => {
      const leaf = fc.constantFrom('bool', 'u8', 's64', 'f32', 'char', 'string', 'error-context', 'rec', 'var', 'en', 'fl', 'res', 'borrow<res>', 'alias')
      if (n <= 1) return leaf
      const inner = type(n - 1)
      return fc.oneof(
        leaf,
        inner.map(t => `list<${t}>`),
        fc.tuple(inner, fc.integer({ min: 1, max: 8 })).map(([t, k]) => `list<${t}, ${k}>`),
        inner.map(t => `option<${t}>`),
        fc.constant('result'),
        inner.map(t => `result<${t}>`),
        inner.map(t => `result<_, ${t}>`),
        fc.tuple(inner, inner).map(([a, b]) => `result<${a}, ${b}>`),
        fc.array(inner, { minLength: 1, maxLength: 3 }).map(ts => `tuple<${ts.join(', ')}>`),
        fc.constantFrom('future', 'stream'),
        inner.map(t => `future<${t}>`),
        inner.map(t => `stream<${t}>`)
      )
    })
    fc.assert(fc.property(fc.array(type(4), { minLength: 1, maxLength: 4 }), types => {
      const text = `package gen:types;
        interface i {
          record rec { a: u8 }
          variant var { a, b(string) }
          enum en { a, b }
          flags fl { a, b }
          resource res;
          type alias = option<rec>;
          f: func(${types.map((t, k) => `p${k}: ${t}`).join(', ')}) -> ${types[0]};
        }`
      const { wit, again } = roundTrip({ 'g.wit': text })
      expect(dumpWit(again)).toEqual(dumpWit(wit))
      const f = wit.findFunction('gen:types/i', 'f')
      // What printType prints parses back to the same type.
      const reparsed = parseWit({ 'h.wit': text.replace(/f: func\(.*\) -> .*;/, `f: func(${f?.params.map(p => `${p.name}: ${printType(p.type)}`).join(', ')});`) })
      expect(reparsed.findFunction('gen:types/i', 'f')?.params.map(p => printType(p.type))).toEqual(f?.params.map(p => printType(p.type)))
    }), { numRuns: 150 })
  })
})
