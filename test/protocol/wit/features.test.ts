import { describe, expect, it } from 'vitest'
import { parseWit, printFunc, printType } from '../../../protocol/wit/index.ts'
import type { Type } from '../../../protocol/wit/index.ts'

const t = (type: Type | undefined): string => (type === undefined ? '(none)' : printType(type))

describe('WIT features', () => {
  it('parses every value type, aliases resolved away', () => {
    const wit = parseWit({
      'types.wit': `
        package test:types@1.2.3-rc.1+build.5;
        interface all {
          type t-bool = bool;
          type ints = tuple<s8, u8, s16, u16, s32, u32, s64, u64>;
          type floats = tuple<f32, f64, char, string>;
          type bytes = list<u8>;
          type vec3 = list<f32, 3>;
          type maybe = option<string>;
          type r0 = result;
          type r1 = result<u32>;
          type r2 = result<_, string>;
          type r3 = result<u32, string>;
          record point { x: s32, y: s32, }
          variant shape { none, circle(u32), poly(list<point>) }
          enum color { red, green, blue }
          flags perms { read, write, exec }
          type fut = future;
          type fut-t = future<u32>;
          type str = stream;
          type str-t = stream<list<u8>>;
          type ec = error-context;
          type again = point;
          type nested = option<maybe>;
          get: func(a: t-bool, b: ints, c: floats, d: bytes, e: vec3, f: maybe, g: r0, h: r1, i: r2, j: r3,
                    k: point, l: shape, m: color, n: perms, o: fut, p: fut-t, q: str, r: str-t, s: ec, u: again, v: nested);
        }
      `
    })
    const f = wit.findFunction('test:types/all@1.2.3-rc.1+build.5', 'get')
    expect(f?.params.map(p => t(p.type))).toEqual([
      'bool', 'tuple<s8, u8, s16, u16, s32, u32, s64, u64>', 'tuple<f32, f64, char, string>', 'list<u8>', 'list<f32, 3>',
      'option<string>', 'result', 'result<u32>', 'result<_, string>', 'result<u32, string>', 'point', 'shape', 'color', 'perms',
      'future', 'future<u32>', 'stream', 'stream<list<u8>>', 'error-context', 'point', 'option<option<string>>'
    ])
    expect(f?.params[4].type).toEqual({ kind: 'list', element: { kind: 'f32' }, length: 3 })
    expect(f?.params[6].type).toEqual({ kind: 'result', ok: null, err: null })
    const iface = wit.findInterface('test:types/all')
    expect(iface?.package).toEqual({ namespace: 'test', name: 'types', version: '1.2.3-rc.1+build.5' })
    // An alias of a named type is that type.
    expect(iface?.types.get('again')).toBe(iface?.types.get('point'))
    const point = iface?.types.get('point')
    expect(point).toMatchObject({ kind: 'record', name: 'point', owner: 'test:types/all@1.2.3-rc.1+build.5' })
    expect(iface?.types.get('shape')).toMatchObject({ kind: 'variant', cases: [{ name: 'none', type: null }, { name: 'circle', type: { kind: 'u32' } }, { name: 'poly' }] })
    expect(iface?.types.get('color')).toMatchObject({ kind: 'enum', cases: ['red', 'green', 'blue'] })
    expect(iface?.types.get('perms')).toMatchObject({ kind: 'flags', flags: ['read', 'write', 'exec'] })
  })

  it('names resource functions as the component model does', () => {
    const wit = parseWit({
      'r.wit': `
        package test:res;
        interface files {
          variant error { not-found, io(string) }
          resource file {
            constructor(path: string);
            read: func(len: u32) -> result<list<u8>, error>;
            read-async: async func(len: u32) -> list<u8>;
            open: static func(path: string) -> result<file, error>;
            open-async: static async func(path: string) -> file;
            dup: func() -> own<file>;
          }
          resource dir {
            constructor(path: string) -> result<dir, error>;
          }
          resource token;
          copy: func(src: borrow<file>, dst: file) -> result<_, error>;
          wait: async func(t: token);
        }
      `
    })
    const files = wit.findInterface('test:res/files')
    expect([...files?.functions.keys() ?? []]).toEqual([
      '[constructor]file', '[method]file.read', '[method]file.read-async', '[static]file.open', '[static]file.open-async',
      '[method]file.dup', '[constructor]dir', 'copy', 'wait'
    ])
    const file = files?.types.get('file')
    expect(file?.kind).toBe('resource')
    if (file?.kind !== 'resource') return
    expect([...file.functions.keys()]).toEqual([
      '[constructor]file', '[method]file.read', '[method]file.read-async', '[static]file.open', '[static]file.open-async', '[method]file.dup'
    ])
    // The same function objects appear in the resource and in the interface.
    expect(file.functions.get('[method]file.read')).toBe(files?.functions.get('[method]file.read'))

    const ctor = wit.findFunction('test:res/files', '[constructor]file')
    expect(ctor).toMatchObject({ kind: 'constructor', resource: 'file', async: false })
    expect(ctor?.results).toEqual([{ kind: 'own', resource: file }])
    const read = wit.findFunction('test:res/files', '[method]file.read')
    expect(read?.params[0]).toEqual({ name: 'self', type: { kind: 'borrow', resource: file } })
    expect(wit.findFunction('test:res/files', '[method]file.read-async')?.async).toBe(true)
    expect(wit.findFunction('test:res/files', '[static]file.open-async')).toMatchObject({ kind: 'static', async: true })
    expect(wit.findFunction('test:res/files', 'file.open')?.name).toBe('[static]file.open')
    expect(t(wit.findFunction('test:res/files', '[method]file.dup')?.results[0])).toBe('file')
    expect(t(wit.findFunction('test:res/files', '[constructor]dir')?.results[0])).toBe('result<dir, error>')
    expect(wit.findFunction('test:res/files', 'wait')?.async).toBe(true)
    expect(files?.types.get('token')).toMatchObject({ kind: 'resource', name: 'token' })

    expect(printFunc(read ?? ctor!)).toBe('read: func(len: u32) -> result<list<u8>, error>')
    expect(printFunc(ctor!)).toBe('constructor(path: string)')
    expect(printFunc(wit.findFunction('test:res/files', '[static]file.open-async')!)).toBe('open-async: static async func(path: string) -> file')
  })

  it('reads escaped identifiers, acronyms, comments, doc comments and gates', () => {
    const wit = parseWit({
      'x.wit': `
        // a line comment
        /* a block /* nested */ comment */
        package test:misc@0.1.0;

        /// The interface.
        /// Second line.
        interface %interface {
          /** A record
           * with a block doc. */
          record %record { %type: string, HTTP-status: u16, get-URL-v2: string }
          // not a doc comment
          /// Does things.
          @since(version = 0.1.0)
          %func: func(%list: %record) -> %record;
          @unstable(feature = fancy-things)
          fancy: func();
          @deprecated(version = 0.1.0)
          old: func();
        }
      `
    })
    const i = wit.findInterface('test:misc/interface')
    expect(i?.name).toBe('interface')
    expect(i?.docs).toBe('The interface.\nSecond line.')
    const rec = i?.types.get('record')
    expect(rec).toMatchObject({ kind: 'record', docs: 'A record\nwith a block doc.' })
    expect(rec?.kind === 'record' && rec.fields.map(f => f.name)).toEqual(['type', 'HTTP-status', 'get-URL-v2'])
    const f = i?.functions.get('func')
    expect(f?.docs).toBe('Does things.')
    expect(f?.params[0].name).toBe('list')
    // Items behind @unstable are kept.
    expect([...i?.functions.keys() ?? []]).toEqual(['func', 'fancy', 'old'])
    expect(printFunc(f!)).toBe('%func: func(%list: %record) -> %record')
  })

  it('joins the files of one package, with headers repeated or left out', () => {
    const wit = parseWit({
      'pkg/a.wit': 'package test:multi@2.0.0;\ninterface a { use b.{thing}; f: func(x: thing); }',
      'pkg/b.wit': 'interface b { record thing { v: u8 } }',
      'pkg/c.wit': 'package test:multi@2.0.0;\nworld w { import a; }'
    })
    expect(wit.packages).toHaveLength(1)
    expect([...wit.packages[0].interfaces.keys()]).toEqual(['a', 'b'])
    // Importing `a` imports what `a` uses, first.
    expect([...wit.findWorld('test:multi/w@2.0.0')?.imports.keys() ?? []]).toEqual(['test:multi/b@2.0.0', 'test:multi/a@2.0.0'])
  })

  it('uses types across packages, before they are defined, with renames and top-level `use`', () => {
    const wit = parseWit({
      'app.wit': `
        package test:app;
        use test:lib/types@1.0.0 as lib-types;
        use test:lib/base@1.0.0;
        interface api {
          use lib-types.{id as user-id, name};
          use base.{handle};
          use test:lib/types@1.0.0.{id};
          lookup: func(u: user-id, n: name, h: borrow<handle>) -> id;
        }
      `,
      'lib.wit': `
        package test:lib@1.0.0;
        interface base { resource handle; }
        interface types { type id = u64; record name { first: string, last: string } }
      `
    })
    const api = wit.findInterface('test:app/api')
    expect([...api?.types.keys() ?? []]).toEqual(['user-id', 'name', 'handle', 'id'])
    expect(api?.uses?.get('user-id')).toEqual({ from: 'test:lib/types@1.0.0', name: 'id' })
    const lookup = api?.functions.get('lookup')
    expect(lookup?.params.map(p => t(p.type))).toEqual(['u64', 'name', 'borrow<handle>'])
    expect(api?.types.get('name')).toBe(wit.findInterface('test:lib/types@1.0.0')?.types.get('name'))
  })

  it('resolves worlds: inline interfaces, functions, world types, use and include with renames', () => {
    const wit = parseWit({
      'w.wit': `
        package test:worlds@0.3.0;
        interface types { record req { path: string } resource conn { send: func(b: list<u8>); } }
        interface handler { use types.{req}; handle: func(r: req) -> u16; }
        world base {
          import log: func(msg: string);
          export run: func();
        }
        world server {
          include base with { log as emit, run as start }
          use types.{req, conn};
          record opts { port: u16 }
          resource session { constructor(); close: func(); }
          import config: interface {
            use types.{req};
            get: func(key: string) -> option<string>;
          }
          import make: func(o: opts, r: req, c: borrow<conn>) -> session;
          export handler;
          export stats: interface { count: func() -> u64; }
          export async-run: async func();
        }
      `
    })
    const w = wit.findWorld('test:worlds/server')
    expect(w?.id).toBe('test:worlds/server@0.3.0')
    const imports = [...w?.imports ?? []].map(([k, v]) => `${k}:${v.kind}`)
    expect(imports).toEqual([
      'test:worlds/types@0.3.0:interface', 'config:interface', 'make:function', 'req:type', 'conn:type', 'opts:type',
      'session:type', '[constructor]session:function', '[method]session.close:function', 'emit:function'
    ])
    const exports = [...w?.exports ?? []].map(([k, v]) => `${k}:${v.kind}`)
    expect(exports).toEqual(['test:worlds/handler@0.3.0:interface', 'stats:interface', 'async-run:function', 'start:function'])
    const config = w?.imports.get('config')
    expect(config?.kind === 'interface' && config.interface.id).toBe('test:worlds/server/config@0.3.0')
    expect(wit.findInterface('test:worlds/server/config')?.functions.has('get')).toBe(true)
    const opts = w?.imports.get('opts')
    expect(opts?.kind === 'type' && opts.type).toMatchObject({ kind: 'record', owner: 'test:worlds/server@0.3.0' })
    expect(wit.findFunction('test:worlds/server', 'make')?.params.map(p => t(p.type))).toEqual(['opts', 'req', 'borrow<conn>'])
    expect(wit.findFunction('test:worlds/server', 'start')?.name).toBe('start')
    expect(wit.findFunction('test:worlds/server', 'async-run')?.async).toBe(true)
    expect(wit.findFunction('test:worlds/server', 'emit')?.params.map(p => p.name)).toEqual(['msg'])
  })

  it('lets a world import and export the same name, as wasm-tools does', () => {
    const wit = parseWit({ 'w.wit': 'package test:both;\ninterface i { f: func(); }\nworld w { import i; export i; import f: func(); export f: func(x: u8); }' })
    const w = wit.findWorld('test:both/w')
    expect([...w?.imports.keys() ?? []]).toEqual(['test:both/i', 'f'])
    expect([...w?.exports.keys() ?? []]).toEqual(['test:both/i', 'f'])
    // World functions are looked up among the exports first.
    expect(wit.findFunction('test:both/w', 'f')?.params.map(p => p.name)).toEqual(['x'])
  })

  it('finds ids without a version only when one version is present', () => {
    const wit = parseWit({
      'a.wit': 'package test:v@1.0.0;\ninterface i { f: func(); }\nworld w { export i; }',
      'b.wit': 'package test:v@2.0.0;\ninterface i { f: func(); g: func(); }\nworld w { export i; }'
    })
    expect(wit.findInterface('test:v/i')).toBeUndefined()
    expect(wit.findWorld('test:v/w')).toBeUndefined()
    expect(wit.findInterface('test:v/i@2.0.0')?.functions.size).toBe(2)
    expect(wit.findFunction('test:v/i@1.0.0', 'g')).toBeUndefined()
    expect(wit.findFunction('test:v/i@2.0.0', 'g')?.name).toBe('g')
    expect(wit.findInterface('test:v/nope')).toBeUndefined()
    expect(wit.findFunction('test:v/nope', 'f')).toBeUndefined()
  })

  it('parses a 2,000-line WIT', () => {
    const lines = ['package test:big@1.0.0;', 'interface big {']
    for (let i = 0; i < 400; i++) {
      lines.push(`  /// Record ${i}.`, `  record rec${i} { a: u32, b: list<string>, c: option<rec${Math.max(0, i - 1)}> }`)
      lines.push(`  get${i}: func(x: rec${i}, y: tuple<u8, u16>) -> result<rec${i}, string>;`, '  // filler', '')
    }
    lines.push('}')
    const wit = parseWit({ 'big.wit': lines.join('\n').replace('option<rec0> }', 'option<u8> }') })
    expect(wit.findInterface('test:big/big')?.functions.size).toBe(400)
    expect(lines.length).toBeGreaterThanOrEqual(2000)
  })
})
