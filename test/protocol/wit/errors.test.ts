import { describe, expect, it } from 'vitest'
import { parseWit, WitResolveError, WitSyntaxError } from '../../../protocol/wit/index.ts'
import { locOf } from './helpers.ts'

/** Parses `text` as `file` and returns the error it must throw. */
function errorOf (text: string, file = 'bad.wit', others: Record<string, string> = {}): WitSyntaxError | WitResolveError {
  try {
    parseWit({ ...others, [file]: text })
  } catch (err) {
    if (err instanceof WitSyntaxError || err instanceof WitResolveError) return err
    throw err
  }
  throw new Error('expected parseWit to fail')
}

/** Asserts the error's code and that it points at the `nth` occurrence of `needle`. */
function expectAt (err: WitSyntaxError | WitResolveError, code: 'wit-syntax' | 'wit-resolve', text: string, needle: string, nth = 0, file = 'bad.wit'): void {
  expect(err.code).toBe(code)
  expect(err.file).toBe(file)
  const { line, column } = locOf(text, needle, nth)
  expect({ line: err.line, column: err.column }).toEqual({ line, column })
  expect(err.message.startsWith(`${file}:${line}:${column}: `)).toBe(true)
}

const pkg = 'package test:e;\n'

describe('WIT syntax errors', () => {
  it('are WitSyntaxError with name, code, file, line and column, and say what was expected', () => {
    const text = `${pkg}interface i {\n  f: func()\n  g: func();\n}`
    const err = errorOf(text)
    expect(err).toBeInstanceOf(WitSyntaxError)
    expect(err).toBeInstanceOf(Error)
    expect(err.name).toBe('WitSyntaxError')
    expectAt(err, 'wit-syntax', text, 'g:')
    expect(err.message).toContain('expected `;`, found identifier `g`')
  })

  const cases: Array<[string, string, string, number?]> = [
    ['a bad identifier (mixed case in one word)', `${pkg}interface i { myFunc: func(); }`, 'myFunc'],
    ['a bad identifier (leading digit word)', `${pkg}interface i { f: func(-x: u8); }`, '-x'],
    ['an unterminated block comment', `${pkg}/* open /* nested */ still open\ninterface i {}`, '/* open'],
    ['a character WIT does not allow', `${pkg}interface i { f: func() -> u8 $ }`, '$'],
    ['a version without patch', 'package test:e@1.0;\ninterface i {}', ';'],
    ['a version with a leading zero', 'package test:e@01.0.0;\ninterface i {}', '01.0.0'],
    ['an unknown attribute', `${pkg}@stable(version = 1.0.0)\ninterface i {}`, 'stable'],
    ['a keyword as a name without %', `${pkg}interface i { record list { a: u8 } }`, 'list {'],
    ['a missing type', `${pkg}interface i { f: func(a: ); }`, ')'],
    ['an unclosed package block', 'package test:e { interface i {}', 'interface i {}', 0],
    ['a fixed-size list of 0', `${pkg}interface i { type t = list<u8, 0>; }`, '0>'],
    ['end of file inside an interface', `${pkg}interface i { f: func();`, '']
  ]
  it('refuses types nested deeper than maxTypeDepth instead of overflowing the stack', () => {
    const deep = `${pkg}interface i { type t = ${'list<'.repeat(5000)}u8${'>'.repeat(5000)}; }`
    const err = errorOf(deep)
    expect(err.code).toBe('wit-syntax')
    expect(err.message).toContain('maxTypeDepth (100)')
    expect(() => parseWit({ 'x.wit': `${pkg}interface i { type t = list<list<list<u8>>>; }` }, { maxTypeDepth: 3 })).toThrow(WitSyntaxError)
    expect(parseWit({ 'x.wit': `${pkg}interface i { type t = list<list<u8>>; }` }, { maxTypeDepth: 3 }).findInterface('test:e/i')).toBeDefined()
  })

  for (const [what, text, needle, nth] of cases) {
    it(`reports ${what}`, () => {
      const err = errorOf(text)
      expect(err).toBeInstanceOf(WitSyntaxError)
      if (needle === '') {
        expect(err.code).toBe('wit-syntax')
        expect(err.message).toContain('end of file')
        expect(err.line).toBe(2)
      } else if (what === 'an unclosed package block') {
        expect(err.code).toBe('wit-syntax')
        expect(err.message).toContain('expected `}` closing the package block')
      } else {
        expectAt(err, 'wit-syntax', text, needle, nth ?? 0)
      }
    })
  }
})

describe('WIT resolve errors', () => {
  const cases: Array<[string, string, string, string, number?]> = [
    ['an unknown type', `${pkg}interface i { f: func(a: nope); }`, 'nope', 'unknown type `nope`'],
    ['an unknown type in a use', `${pkg}interface a { type x = u8; }\ninterface b { use a.{y}; }`, 'y}', 'unknown type `y`'],
    ['an unknown interface', `${pkg}interface a { use nope.{x}; }`, 'nope', 'unknown interface `nope`'],
    ['an unknown package', `${pkg}world w { import other:pkg/iface; }`, 'other', 'unknown package `other:pkg`'],
    ['an unknown package version', `${pkg}interface a {}\nworld w { import test:e/a@9.9.9; }`, 'test:e/a@', 'unknown package version `test:e@9.9.9`'],
    ['an unknown world in include', `${pkg}world w { include nope; }`, 'nope', 'unknown world `nope`'],
    ['an interface where a world is expected', `${pkg}interface a {}\nworld w { include a; }`, 'a;', 'is a interface'],
    ['a type alias cycle', `${pkg}interface i {\n  type a = b;\n  type b = a;\n}`, 'a;', 'refers to itself (a -> b -> a)'],
    ['a record containing itself', `${pkg}interface i {\n  record node { next: option<node> }\n}`, 'node>', 'refers to itself'],
    ['a duplicate type', `${pkg}interface i {\n  type a = u8;\n  record a { x: u8 }\n}`, 'a {', 'duplicate name `a`'],
    ['a duplicate function', `${pkg}interface i {\n  f: func();\n  f: func(x: u8);\n}`, 'f: func(x', 'duplicate name `f`'],
    ['a type and a function of one name', `${pkg}interface i {\n  type f = u8;\n  f: func();\n}`, 'f:', 'duplicate name `f`'],
    ['a duplicate field', `${pkg}interface i { record r { a: u8, a: u16 } }`, 'a: u16', 'duplicate field `a`'],
    ['a duplicate case', `${pkg}interface i { variant v { a, b(u8), a } }`, 'a }', 'duplicate case `a`'],
    ['a duplicate enum case', `${pkg}interface i { enum e { x, x } }`, 'x }', 'duplicate case `x`'],
    ['a duplicate flag', `${pkg}interface i { flags f { r, w, r } }`, 'r }', 'duplicate flag `r`'],
    ['a duplicate parameter', `${pkg}interface i { f: func(a: u8, a: u8); }`, 'a: u8)', 'duplicate parameter `a`'],
    ['a duplicate method', `${pkg}interface i { resource r { m: func(); m: static func(); } }`, 'm: static', 'duplicate function `m`'],
    ['a duplicate interface', `${pkg}interface i {}\ninterface i {}`, 'i {}', 'duplicate interface name `i`', 1],
    ['a duplicate interface across files', 'interface i {}', 'i {}', 'duplicate interface name `i`'],
    ['an empty variant', `${pkg}interface i { variant v {} }`, 'v {', 'variant `v` has no cases'],
    ['an empty enum', `${pkg}interface i { enum e {} }`, 'e {', 'enum `e` has no cases'],
    ['empty flags', `${pkg}interface i { flags f {} }`, 'f {', 'flags `f` has no flags'],
    ['an empty record', `${pkg}interface i { record r {} }`, 'r {', 'record `r` has no fields'],
    ['an empty tuple', `${pkg}interface i { type t = tuple<>; }`, 'tuple', 'rejects empty tuples'],
    ['borrow of a non-resource', `${pkg}interface i { record r { a: u8 } f: func(x: borrow<r>); }`, 'r>', '`borrow<r>` needs a resource, but `r` is record `r`'],
    ['a constructor returning something else', `${pkg}interface i { resource r { constructor() -> u8; } }`, 'u8', 'may only return `result<r, E>`'],
    ['interfaces using each other', `${pkg}interface a { use b.{y}; type x = u8; }\ninterface b { use a.{x}; type y = u8; }`, 'a.{x}', 'cycle through `use`'],
    ['a duplicate import', `${pkg}world w {\n  import f: func();\n  import f: func(x: u8);\n}`, 'f: func(x', 'duplicate import `f`'],
    ['a duplicate export of an interface', `${pkg}interface a {}\nworld w { export a; export a; }`, 'a;', 'duplicate export `test:e/a`', 1],
    ['a rename of an unknown include item', `${pkg}world base { import f: func(); }\nworld w { include base with { g as h } }`, 'g as', 'no import or export named `g`'],
    ['an include that brings a clash', `${pkg}world base { import f: func(); }\nworld w { import f: func(); include base; }`, 'base;', 'second import named `f`']
  ]
  for (const [what, text, needle, message, nth] of cases) {
    it(`reports ${what}`, () => {
      const others: Record<string, string> = what.includes('across files') ? { 'first.wit': `${pkg}interface i {}` } : {}
      const err = errorOf(what.includes('across files') ? `${pkg}${text}` : text, 'bad.wit', others)
      expect(err).toBeInstanceOf(WitResolveError)
      expect(err.name).toBe('WitResolveError')
      expect(err.message).toContain(message)
      expectAt(err, 'wit-resolve', what.includes('across files') ? `${pkg}${text}` : text, needle, nth ?? 0)
    })
  }

  it('reports a file without a package header when the package cannot be told', () => {
    const err = errorOf('interface i {}', 'c/x.wit', { 'a/a.wit': 'package test:a;', 'b/b.wit': 'package test:b;' })
    expect(err.code).toBe('wit-resolve')
    expect({ file: err.file, line: err.line, column: err.column }).toEqual({ file: 'c/x.wit', line: 1, column: 1 })
    expect(err.message).toContain('ambiguous')
    // In a folder with one package it joins that package.
    expect(parseWit({ 'a/a.wit': 'package test:a;', 'a/x.wit': 'interface i {}', 'b/b.wit': 'package test:b;' }).findInterface('test:a/i')).toBeDefined()
  })

  it('reports an unversioned reference to a package present in several versions', () => {
    const text = 'package test:app;\nworld w { import test:lib/i; }'
    const err = errorOf(text, 'bad.wit', { 'l1.wit': 'package test:lib@1.0.0; interface i {}', 'l2.wit': 'package test:lib@2.0.0; interface i {}' })
    expectAt(err, 'wit-resolve', text, 'test:lib')
    expect(err.message).toContain('several versions (1.0.0, 2.0.0)')
  })
})
