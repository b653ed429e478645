// WIT parser: one source text to its syntax tree (ast.ts), following the grammar wasm-tools accepts.

import { Source, tokenize, describeToken, identifierProblem } from './lexer.ts'
import type { Token, TokenKind } from './lexer.ts'
import type {
  CaseAst, DeclListAst, ExternAst, FieldAst, FileAst, FuncAst, GateAst, Ident, InterfaceAst,
  InterfaceItemAst, NameOnlyAst, PackageNameAst, ParamAst, ResourceFuncAst, TopUseAst, TypeAst,
  TypeDefAst, UseAst, UseNameAst, UsePathAst, WorldAst, WorldItemAst
} from './ast.ts'
import type { PrimitiveKind } from './model.ts'

const primitiveTokens: Readonly<Record<string, PrimitiveKind | undefined>> = {
  bool: 'bool',
  s8: 's8',
  u8: 'u8',
  s16: 's16',
  u16: 'u16',
  s32: 's32',
  u32: 'u32',
  s64: 's64',
  u64: 'u64',
  f32: 'f32',
  f64: 'f64',
  char: 'char',
  string: 'string',
  'error-context': 'error-context'
}

const wordKinds: ReadonlySet<TokenKind> = new Set<TokenKind>(['id', 'integer'])

/** Limits the parser enforces on what it reads. */
export interface WitLimits {
  /** The deepest nesting of type expressions (`list<option<...>>`); deeper input is refused, not a stack overflow. */
  readonly maxTypeDepth: number
}

export const defaultWitLimits: WitLimits = Object.freeze({ maxTypeDepth: 100 })

/** The largest length a fixed-size `list<T, N>` may declare (a u32 in the binary format). */
const maxFixedListLength = 0xffff_ffff

/** Why `text` is not a semantic version (semver.org 2.0.0), or undefined when it is one. */
export function semverProblem (text: string): string | undefined {
  const plus = text.indexOf('+')
  const core = plus >= 0 ? text.slice(0, plus) : text
  const build = plus >= 0 ? text.slice(plus + 1) : undefined
  const dash = core.indexOf('-')
  const release = dash >= 0 ? core.slice(0, dash) : core
  const pre = dash >= 0 ? core.slice(dash + 1) : undefined
  const nums = release.split('.')
  if (nums.length !== 3) return `version \`${text}\` must have the form MAJOR.MINOR.PATCH`
  for (const num of nums) {
    if (!/^[0-9]+$/.test(num)) return `version \`${text}\` must have the form MAJOR.MINOR.PATCH`
    if (num.length > 1 && num.startsWith('0')) return `version \`${text}\` has a number with a leading zero`
  }
  const idents = (part: string, numericNoLeadingZero: boolean, what: string): string | undefined => {
    for (const id of part.split('.')) {
      if (id === '') return `version \`${text}\` has an empty ${what} identifier`
      if (!/^[0-9A-Za-z-]+$/.test(id)) return `version \`${text}\` has an invalid ${what} identifier \`${id}\``
      if (numericNoLeadingZero && /^[0-9]+$/.test(id) && id.length > 1 && id.startsWith('0')) {
        return `version \`${text}\` has a numeric pre-release identifier with a leading zero`
      }
    }
    return undefined
  }
  if (pre !== undefined) { const p = idents(pre, true, 'pre-release'); if (p !== undefined) return p }
  if (build !== undefined) { const p = idents(build, false, 'build'); if (p !== undefined) return p }
  return undefined
}

class Parser {
  private readonly src: Source
  private readonly toks: Token[]
  private readonly limits: WitLimits
  private pos = 0
  private depth = 0

  constructor (src: Source, limits: WitLimits) {
    this.src = src
    this.limits = limits
    this.toks = tokenize(src)
  }

  private peek (k = 0): Token {
    return this.toks[Math.min(this.pos + k, this.toks.length - 1)]
  }

  private next (): Token {
    const t = this.toks[this.pos]
    if (this.pos < this.toks.length - 1) this.pos++
    return t
  }

  private is (kind: TokenKind): boolean {
    return this.peek().kind === kind
  }

  private eat (kind: TokenKind): boolean {
    if (this.peek().kind !== kind) return false
    this.next()
    return true
  }

  private fail (tok: Token, expected: string): never {
    throw this.src.syntaxError(tok.start, `expected ${expected}, found ${describeToken(this.src, tok)}`)
  }

  private expect (kind: TokenKind, what?: string): Token {
    const tok = this.peek()
    if (tok.kind !== kind) this.fail(tok, what ?? describeKind(kind))
    return this.next()
  }

  private text (tok: Token): string {
    return this.src.text.slice(tok.start, tok.end)
  }

  private id (what = 'an identifier'): Ident {
    const tok = this.peek()
    if (tok.kind !== 'id' && tok.kind !== 'explicit-id') this.fail(tok, what)
    this.next()
    const name = tok.kind === 'explicit-id' ? this.text(tok).slice(1) : this.text(tok)
    const problem = identifierProblem(name)
    if (problem !== undefined) throw this.src.syntaxError(tok.start, problem)
    return { name, at: tok.start }
  }

  /** Docs of the item starting at the current token, or (behind gates) at the first token after them. */
  private itemDocs (first: Token): string | undefined {
    return first.docs ?? (first === this.peek() ? undefined : this.peek().docs)
  }

  parseFile (): FileAst {
    const first = this.peek()
    let header: PackageNameAst | undefined
    let headerDocs: string | undefined
    if (first.kind === 'package') {
      const save = this.pos
      this.next()
      const name = this.packageName()
      if (this.eat(';')) {
        header = name
        headerDocs = first.docs
      } else {
        this.pos = save
      }
    }
    const nested: DeclListAst[] = []
    const top = this.declList(header, headerDocs, 'eof', nested)
    return { src: this.src, top, nested }
  }

  private declList (pkg: PackageNameAst | undefined, docs: string | undefined, end: 'eof' | '}', nested: DeclListAst[] | undefined): DeclListAst {
    const interfaces: InterfaceAst[] = []
    const worlds: WorldAst[] = []
    const uses: TopUseAst[] = []
    for (;;) {
      if (end === 'eof' ? this.is('eof') : this.eat('}')) break
      const first = this.peek()
      const gates = this.gates()
      const itemDocs = this.itemDocs(first)
      const tok = this.peek()
      switch (tok.kind) {
        case 'interface':
          interfaces.push(this.interface(itemDocs, gates))
          break
        case 'world':
          worlds.push(this.world(itemDocs, gates))
          break
        case 'use':
          uses.push(this.topUse(gates))
          break
        case 'package': {
          if (nested === undefined) throw this.src.syntaxError(tok.start, 'a `package { ... }` block cannot contain another package')
          if (gates.length > 0) throw this.src.syntaxError(gates[0].at, 'cannot place attributes on nested packages')
          this.next()
          const name = this.packageName()
          this.expect('{')
          nested.push(this.declList(name, itemDocs, '}', undefined))
          break
        }
        default:
          if (end === '}' && tok.kind === 'eof') this.fail(tok, '`}` closing the package block')
          this.fail(tok, '`world`, `interface`, `use` or `package`')
      }
    }
    return { src: this.src, ...(pkg !== undefined ? { package: pkg } : {}), interfaces, worlds, uses, ...(docs !== undefined ? { docs } : {}) }
  }

  private packageName (): PackageNameAst {
    const namespace = this.id('a package namespace')
    this.expect(':', '`:` between package namespace and name')
    const name = this.id('a package name')
    const version = this.optVersion()
    return { namespace, name, ...(version !== undefined ? { version } : {}), at: namespace.at }
  }

  private optVersion (): string | undefined {
    if (!this.eat('@')) return undefined
    return this.version()
  }

  /** `MAJOR.MINOR.PATCH[-pre][+build]`, written without spaces; validated as semver. */
  private version (): string {
    const start = this.expect('integer', 'a version number').start
    this.expect('.', '`.` in a version')
    this.expect('integer', 'a version number')
    this.expect('.', '`.` in a version')
    let end = this.expect('integer', 'a version number').end
    const extend = (prefix: '-' | '+'): void => {
      if (!this.is(prefix) || this.peek().start !== end) return
      end = this.next().end
      for (;;) {
        const t = this.peek()
        if (t.start !== end) break
        if (wordKinds.has(t.kind) || t.kind === '-' || isWordKeyword(t.kind)) {
          end = this.next().end
          continue
        }
        const after = this.peek(1)
        if (t.kind === '.' && after.start === t.end && (wordKinds.has(after.kind) || after.kind === '-' || isWordKeyword(after.kind))) {
          this.next()
          end = this.next().end
          continue
        }
        break
      }
    }
    extend('-')
    extend('+')
    const text = this.src.text.slice(start, end)
    const problem = semverProblem(text)
    if (problem !== undefined) throw this.src.syntaxError(start, problem)
    return text
  }

  private gates (): GateAst[] {
    const gates: GateAst[] = []
    while (this.is('@')) {
      const at = this.next().start
      const nameTok = this.peek()
      const name = this.id('an attribute name (`since`, `unstable` or `deprecated`)').name
      if (name !== 'since' && name !== 'unstable' && name !== 'deprecated') {
        throw this.src.syntaxError(nameTok.start, `unknown attribute \`@${name}\`: expected \`@since\`, \`@unstable\` or \`@deprecated\``)
      }
      this.expect('(')
      const key = name === 'unstable' ? 'feature' : 'version'
      const keyTok = this.peek()
      const got = this.id(`\`${key}\``).name
      if (got !== key) throw this.src.syntaxError(keyTok.start, `expected \`${key}\`, found \`${got}\``)
      this.expect('=')
      if (name === 'unstable') {
        gates.push({ kind: 'unstable', feature: this.id('a feature name').name, at })
      } else {
        gates.push({ kind: name, version: this.version(), at })
      }
      this.expect(')')
    }
    return gates
  }

  private topUse (gates: GateAst[]): TopUseAst {
    const at = this.expect('use').start
    const path = this.usePath()
    const as = this.eat('as') ? this.id() : undefined
    this.expect(';')
    return { path, ...(as !== undefined ? { as } : {}), gates, at }
  }

  private usePath (): UsePathAst {
    const first = this.id('an interface name or `namespace:package/interface`')
    if (!this.eat(':')) return { kind: 'local', name: first, at: first.at }
    const pkgName = this.id('a package name')
    this.expect('/', '`/` before the interface or world name')
    const name = this.id('an interface or world name')
    const version = this.optVersion()
    const pkg: PackageNameAst = { namespace: first, name: pkgName, ...(version !== undefined ? { version } : {}), at: first.at }
    return { kind: 'package', pkg, name, at: first.at }
  }

  private use (gates: GateAst[]): UseAst {
    const at = this.expect('use').start
    const path = this.usePath()
    this.expect('.', '`.{` after the interface in `use`')
    this.expect('{')
    const names: UseNameAst[] = []
    while (!this.eat('}')) {
      const name = this.id('a type name')
      const as = this.eat('as') ? this.id() : undefined
      names.push({ name, ...(as !== undefined ? { as } : {}) })
      if (!this.eat(',')) { this.expect('}', '`,` or `}`'); break }
    }
    this.expect(';')
    return { kind: 'use', path, names, gates, at }
  }

  /** Parses `open item (, item)* ,? close`, handing each item its doc comments. */
  private list<T> (open: TokenKind, close: TokenKind, item: (docs: string | undefined) => T): T[] {
    this.expect(open)
    return this.listTail(close, item)
  }

  private listTail<T> (close: TokenKind, item: (docs: string | undefined) => T): T[] {
    const out: T[] = []
    for (;;) {
      if (this.eat(close)) break
      out.push(item(this.peek().docs))
      if (!this.eat(',')) { this.expect(close, `\`,\` or \`${close}\``); break }
    }
    return out
  }

  private interface (docs: string | undefined, gates: GateAst[]): InterfaceAst {
    this.expect('interface')
    const name = this.id('an interface name')
    const items = this.interfaceItems()
    return { name, items, gates, ...(docs !== undefined ? { docs } : {}) }
  }

  private interfaceItems (): InterfaceItemAst[] {
    this.expect('{')
    const items: InterfaceItemAst[] = []
    for (;;) {
      if (this.eat('}')) break
      const first = this.peek()
      const gates = this.gates()
      const docs = this.itemDocs(first)
      const tok = this.peek()
      switch (tok.kind) {
        case 'type': case 'record': case 'variant': case 'enum': case 'flags': case 'resource':
          items.push({ kind: 'type', def: this.typeDef(docs, gates) })
          break
        case 'use':
          items.push(this.use(gates))
          break
        case 'id': case 'explicit-id': {
          const name = this.id()
          this.expect(':', '`:` after the function name')
          const func = this.func()
          this.expect(';')
          items.push({ kind: 'func', func: { name, func, gates, ...(docs !== undefined ? { docs } : {}) } })
          break
        }
        default:
          this.fail(tok, 'a type definition, `use`, a function or `}`')
      }
    }
    return items
  }

  private func (): FuncAst {
    const first = this.peek()
    const async = this.eat('async')
    const at = this.expect('func', '`func`').start
    const params = this.params()
    const result = this.eat('->') ? this.type() : null
    return { async, params, result, at: async ? first.start : at }
  }

  private params (): ParamAst[] {
    return this.list('(', ')', () => {
      const name = this.id('a parameter name')
      this.expect(':', '`:` after the parameter name')
      return { name, type: this.type() }
    })
  }

  private typeDef (docs: string | undefined, gates: GateAst[]): TypeDefAst {
    const kw = this.next()
    const name = this.id('a type name')
    const base = { name, gates, ...(docs !== undefined ? { docs } : {}) }
    switch (kw.kind) {
      case 'type': {
        this.expect('=', '`=` after the type name')
        const type = this.type()
        this.expect(';')
        return { ...base, kind: 'alias', type }
      }
      case 'record':
        return {
          ...base,
          kind: 'record',
          fields: this.list<FieldAst>('{', '}', d => {
            const fname = this.id('a field name')
            this.expect(':', '`:` after the field name')
            return { name: fname, type: this.type(), ...(d !== undefined ? { docs: d } : {}) }
          })
        }
      case 'variant':
        return {
          ...base,
          kind: 'variant',
          cases: this.list<CaseAst>('{', '}', d => {
            const cname = this.id('a case name')
            let type: TypeAst | null = null
            if (this.eat('(')) { type = this.type(); this.expect(')') }
            return { name: cname, type, ...(d !== undefined ? { docs: d } : {}) }
          })
        }
      case 'enum':
        return { ...base, kind: 'enum', cases: this.list<NameOnlyAst>('{', '}', d => ({ name: this.id('a case name'), ...(d !== undefined ? { docs: d } : {}) })) }
      case 'flags':
        return { ...base, kind: 'flags', flags: this.list<NameOnlyAst>('{', '}', d => ({ name: this.id('a flag name'), ...(d !== undefined ? { docs: d } : {}) })) }
      default: { // resource
        const funcs: ResourceFuncAst[] = []
        if (this.eat('{')) {
          while (!this.eat('}')) funcs.push(this.resourceFunc())
        } else {
          this.expect(';', '`;` or `{`')
        }
        return { ...base, kind: 'resource', funcs }
      }
    }
  }

  private resourceFunc (): ResourceFuncAst {
    const first = this.peek()
    const gates = this.gates()
    const docs = this.itemDocs(first)
    const d = docs !== undefined ? { docs } : {}
    const tok = this.peek()
    if (tok.kind === 'constructor') {
      this.next()
      const params = this.params()
      const result = this.eat('->') ? this.type() : null
      this.expect(';')
      return { kind: 'constructor', name: { name: 'constructor', at: tok.start }, func: { async: false, params, result, at: tok.start }, gates, ...d }
    }
    if (tok.kind !== 'id' && tok.kind !== 'explicit-id') this.fail(tok, '`constructor`, a method name or `}`')
    const name = this.id()
    this.expect(':', '`:` after the method name')
    const isStatic = this.eat('static')
    const func = this.func()
    this.expect(';')
    return { kind: isStatic ? 'static' : 'method', name, func, gates, ...d }
  }

  private type (): TypeAst {
    if (this.depth >= this.limits.maxTypeDepth) {
      throw this.src.syntaxError(this.peek().start, `types nest deeper than maxTypeDepth (${this.limits.maxTypeDepth})`)
    }
    this.depth++
    try {
      return this.typeInner()
    } finally {
      this.depth--
    }
  }

  private typeInner (): TypeAst {
    const tok = this.peek()
    const at = tok.start
    const prim = primitiveTokens[tok.kind]
    if (prim !== undefined) { this.next(); return { kind: 'primitive', name: prim, at } }
    switch (tok.kind) {
      case 'id': case 'explicit-id':
        return { kind: 'name', name: this.id(), at }
      case 'list': {
        this.next()
        this.expect('<', '`<` after `list`')
        const element = this.type()
        let length: number | undefined
        if (this.eat(',')) {
          const n = this.expect('integer', 'the fixed size of the list')
          const text = this.text(n)
          length = Number(text)
          if (length < 1 || length > maxFixedListLength || text.length > 10) {
            throw this.src.syntaxError(n.start, `a fixed-size list must have between 1 and ${maxFixedListLength} elements, found ${text}`)
          }
        }
        this.expect('>', '`>` closing the list type')
        return { kind: 'list', element, ...(length !== undefined ? { length } : {}), at }
      }
      case 'map':
        throw this.src.syntaxError(at, '`map<K, V>` is an unstable WIT feature that wasmesh does not support')
      case 'option': {
        this.next()
        this.expect('<', '`<` after `option`')
        const some = this.type()
        this.expect('>', '`>` closing the option type')
        return { kind: 'option', some, at }
      }
      case 'result': {
        this.next()
        let ok: TypeAst | null = null
        let err: TypeAst | null = null
        if (this.eat('<')) {
          if (this.eat('_')) {
            this.expect(',', '`,` after `_` in `result<_, E>`')
            err = this.type()
          } else {
            ok = this.type()
            if (this.eat(',')) err = this.type()
          }
          this.expect('>', '`>` closing the result type')
        }
        return { kind: 'result', ok, err, at }
      }
      case 'tuple': {
        this.next()
        return { kind: 'tuple', elements: this.list('<', '>', () => this.type()), at }
      }
      case 'future': case 'stream': {
        this.next()
        let element: TypeAst | null = null
        if (this.eat('<')) { element = this.type(); this.expect('>') }
        return { kind: tok.kind, element, at }
      }
      case 'own': case 'borrow': {
        this.next()
        this.expect('<', `\`<\` after \`${tok.kind}\``)
        const resource = this.id('a resource name')
        this.expect('>')
        return { kind: 'handle', handle: tok.kind, resource, at }
      }
      default:
        return this.fail(tok, 'a type')
    }
  }

  private world (docs: string | undefined, gates: GateAst[]): WorldAst {
    this.expect('world')
    const name = this.id('a world name')
    this.expect('{')
    const items: WorldItemAst[] = []
    for (;;) {
      if (this.eat('}')) break
      const first = this.peek()
      const itemGates = this.gates()
      const itemDocs = this.itemDocs(first)
      const tok = this.peek()
      switch (tok.kind) {
        case 'import': case 'export': {
          this.next()
          items.push({ kind: tok.kind, extern: this.extern(), gates: itemGates, at: tok.start, ...(itemDocs !== undefined ? { docs: itemDocs } : {}) })
          break
        }
        case 'use':
          items.push(this.use(itemGates))
          break
        case 'type': case 'record': case 'variant': case 'enum': case 'flags': case 'resource':
          items.push({ kind: 'type', def: this.typeDef(itemDocs, itemGates) })
          break
        case 'include': {
          this.next()
          const path = this.usePath()
          let renames: Array<{ name: Ident, as: Ident }> = []
          if (this.eat('with')) {
            renames = this.list('{', '}', () => {
              const name = this.id()
              this.expect('as', '`as`')
              return { name, as: this.id() }
            })
          } else {
            this.expect(';', '`;` or `with`')
          }
          items.push({ kind: 'include', path, with: renames, gates: itemGates, at: tok.start })
          break
        }
        default:
          this.fail(tok, '`import`, `export`, `include`, `use`, a type definition or `}`')
      }
    }
    return { name, items, gates, ...(docs !== undefined ? { docs } : {}) }
  }

  private extern (): ExternAst {
    const a = this.peek()
    const b = this.peek(1)
    const c = this.peek(2)
    if ((a.kind === 'id' || a.kind === 'explicit-id') && b.kind === ':') {
      if (c.kind === 'func' || c.kind === 'async') {
        const name = this.id()
        this.next()
        const func = this.func()
        this.expect(';')
        return { kind: 'func', name, func }
      }
      if (c.kind === 'interface') {
        const name = this.id()
        this.next()
        this.next()
        return { kind: 'interface', name, items: this.interfaceItems() }
      }
    }
    const path = this.usePath()
    this.expect(';')
    return { kind: 'path', path }
  }
}

function isWordKeyword (kind: TokenKind): boolean {
  return kind !== 'eof' && kind !== 'explicit-id' && /^[a-z]/.test(kind)
}

function describeKind (kind: TokenKind): string {
  if (kind === 'id') return 'an identifier'
  if (kind === 'integer') return 'an integer'
  if (kind === 'eof') return 'end of file'
  return `\`${kind}\``
}

/** Parses one WIT source text. Throws WitSyntaxError naming `file`, line and column. */
export function parseFile (file: string, text: string, limits: WitLimits = defaultWitLimits): FileAst {
  return new Parser(new Source(file, text), limits).parseFile()
}
