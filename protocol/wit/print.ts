// Prints the resolved model back as WIT text: types, functions, interfaces, worlds and whole packages.

import { keywords } from './lexer.ts'
import type { Func, Interface, Package, PackageName, Resource, Type, TypeDef, UsedName, Wit, World, WorldItem } from './model.ts'
import { unversioned, versionOf } from '../versions.ts'


const keywordSet: ReadonlySet<string> = new Set(keywords)

/** Names a named type where it is printed; the default is its own name. */
export type TypeNamer = (def: TypeDef) => string | undefined

/** An identifier as written in WIT: keywords get the `%` escape. */
export function printId (name: string): string {
  return keywordSet.has(name) ? `%${name}` : name
}

function nameOf (def: TypeDef, namer?: TypeNamer): string {
  const local = namer?.(def)
  if (local !== undefined) return printId(local)
  if ('name' in def && def.name !== undefined) return printId(def.name)
  return `<anonymous ${def.kind}>`
}

/** A type in WIT syntax; records, variants, enums, flags and resources are printed by name. */
export function printType (type: Type, namer?: TypeNamer): string {
  const local = namer?.(type)
  if (local !== undefined) return printId(local)
  switch (type.kind) {
    case 'list':
      return type.length !== undefined ? `list<${printType(type.element, namer)}, ${type.length}>` : `list<${printType(type.element, namer)}>`
    case 'option':
      return `option<${printType(type.some, namer)}>`
    case 'result':
      if (type.ok === null && type.err === null) return 'result'
      if (type.err === null) return `result<${printType(type.ok as Type, namer)}>`
      if (type.ok === null) return `result<_, ${printType(type.err, namer)}>`
      return `result<${printType(type.ok, namer)}, ${printType(type.err, namer)}>`
    case 'tuple':
      return `tuple<${type.elements.map(e => printType(e, namer)).join(', ')}>`
    case 'future': case 'stream':
      return type.element === null ? type.kind : `${type.kind}<${printType(type.element, namer)}>`
    case 'own':
      return nameOf(type.resource, namer)
    case 'borrow':
      return `borrow<${nameOf(type.resource, namer)}>`
    case 'record': case 'variant': case 'enum': case 'flags':
      return nameOf(type, namer)
    default:
      return type.kind
  }
}

/** The text after the colon of the component-model name: `m` for `[method]r.m`. */
function shortName (func: Func): string {
  const dot = func.name.lastIndexOf('.')
  if (func.kind === 'method' || func.kind === 'static') return func.name.slice(dot + 1)
  return func.name
}

/**
 * One function as declared in WIT, without the trailing `;`: `f: func(a: u32) -> string`,
 * inside a resource `m: func(...)` (the implicit `self` left out), `s: static func(...)`, `constructor(...)`.
 */
export function printFunc (func: Func, namer?: TypeNamer): string {
  const params = (func.kind === 'method' ? func.params.slice(1) : func.params)
    .map(p => `${printId(p.name)}: ${printType(p.type, namer)}`).join(', ')
  if (func.kind === 'constructor') {
    const r = func.results[0]
    return r !== undefined && r.kind === 'result' ? `constructor(${params}) -> ${printType(r, namer)}` : `constructor(${params})`
  }
  const result = func.results.length > 0 ? ` -> ${printType(func.results[0], namer)}` : ''
  const head = `${printId(shortName(func))}: ${func.kind === 'static' ? 'static ' : ''}${func.async ? 'async ' : ''}func`
  return `${head}(${params})${result}`
}

function docs (text: string | undefined, indent: string): string {
  if (text === undefined) return ''
  return text.split('\n').map(l => `${indent}///${l === '' ? '' : ` ${l}`}\n`).join('')
}

function versionSuffix (name: PackageName): string {
  return name.version !== undefined ? `@${name.version}` : ''
}

/** How an interface or world with id `owner` is referred to from `pkg`: the short name inside the same package. */
function refTo (owner: string, pkg: PackageName): string {
  const slash = owner.indexOf('/')
  const prefix = `${pkg.namespace}:${pkg.name}`
  const version = versionOf(owner)
  const name = unversioned(owner).slice(slash + 1)
  if (owner.slice(0, slash) === prefix && version === pkg.version && !name.includes('/')) return printId(name)
  return owner
}

function isPrimitive (t: TypeDef): boolean {
  switch (t.kind) {
    case 'list': case 'option': case 'result': case 'tuple': case 'record': case 'variant': case 'enum':
    case 'flags': case 'own': case 'borrow': case 'future': case 'stream': case 'resource':
      return false
    default:
      return true
  }
}

function isNamed (def: TypeDef): def is TypeDef & { name: string, owner: string } {
  return 'name' in def && typeof def.name === 'string' && 'owner' in def && typeof def.owner === 'string'
}

/**
 * The names a scope gives its types: a named definition by its own name when that is in scope, any
 * other type object (an alias) by the first name bound to it. Primitives are shared, so never named.
 */
function localNames (types: ReadonlyMap<string, TypeDef>): Map<TypeDef, string> {
  const local = new Map<TypeDef, string>()
  for (const [key, def] of types) {
    if (isPrimitive(def)) continue
    if (isNamed(def) && def.name === key) local.set(def, key)
    else if (!local.has(def)) local.set(def, key)
  }
  return local
}

/** Named types a scope refers to (in its own definitions and functions) without having a name for them. */
function missingNamed (local: Map<TypeDef, string>, defs: Iterable<TypeDef>, funcs: Iterable<Type>, scopeId: string): Array<TypeDef & { name: string, owner: string }> {
  const missing = new Map<TypeDef, TypeDef & { name: string, owner: string }>()
  const seen = new Set<TypeDef>()
  const walk = (t: TypeDef, root: boolean): void => {
    if (!root && local.has(t)) return
    if (seen.has(t)) return
    seen.add(t)
    if (isNamed(t) && t.owner !== scopeId) {
      // Defined elsewhere: its insides are that scope's business.
      if (!local.has(t)) missing.set(t, t)
      return
    }
    switch (t.kind) {
      case 'list': walk(t.element, false); break
      case 'option': walk(t.some, false); break
      case 'result': if (t.ok !== null) walk(t.ok, false); if (t.err !== null) walk(t.err, false); break
      case 'tuple': for (const e of t.elements) walk(e, false); break
      case 'record': for (const f of t.fields) walk(f.type, false); break
      case 'variant': for (const c of t.cases) if (c.type !== null) walk(c.type, false); break
      case 'future': case 'stream': if (t.element !== null) walk(t.element, false); break
      case 'own': case 'borrow': walk(t.resource, false); break
    }
  }
  for (const d of defs) walk(d, true)
  for (const f of funcs) walk(f, false)
  return [...missing.values()]
}

function funcTypes (funcs: Iterable<Func>): Type[] {
  const out: Type[] = []
  for (const f of funcs) out.push(...f.params.map(p => p.type), ...f.results)
  return out
}

/** A scope's type section: `use` lines and definitions, in the order of its types map. */
class TypeSection {
  private readonly out: string[] = []
  private pendingUse: { from: string, names: string[] } | undefined
  readonly namer: TypeNamer
  private readonly local: Map<TypeDef, string>
  private readonly types: ReadonlyMap<string, TypeDef>
  private readonly uses: ReadonlyMap<string, UsedName> | undefined
  private readonly scopeId: string
  private readonly pkg: PackageName
  private readonly indent: string

  constructor (types: ReadonlyMap<string, TypeDef>, uses: ReadonlyMap<string, UsedName> | undefined, scopeId: string, pkg: PackageName, indent: string, funcs: Iterable<Func>) {
    this.types = types
    this.uses = uses
    this.scopeId = scopeId
    this.pkg = pkg
    this.indent = indent
    this.local = localNames(types)
    const local = this.local
    this.namer = def => local.get(def)
    const ownDefs = [...types].filter(([key]) => uses?.has(key) !== true).map(([, def]) => def)
    for (const def of missingNamed(local, ownDefs, funcTypes(funcs), scopeId)) {
      this.use(def.owner, def.name, def.name)
      local.set(def, def.name)
    }
  }

  private use (owner: string, name: string, key: string): void {
    const entry = name === key ? printId(name) : `${printId(name)} as ${printId(key)}`
    if (this.pendingUse?.from === owner) { this.pendingUse.names.push(entry); return }
    this.flush()
    this.pendingUse = { from: owner, names: [entry] }
  }

  private flush (): void {
    if (this.pendingUse === undefined) return
    this.out.push(`${this.indent}use ${refTo(this.pendingUse.from, this.pkg)}.{${this.pendingUse.names.join(', ')}};\n`)
    this.pendingUse = undefined
  }

  private push (line: string): void {
    this.flush()
    this.out.push(line)
  }

  render (): string {
    const { indent, namer, scopeId } = this
    const inner = `${indent}  `
    for (const [key, def] of this.types) {
      const used = this.uses?.get(key)
      if (used !== undefined) { this.use(used.from, used.name, key); continue }
      if (isNamed(def) && def.owner !== scopeId) { this.use(def.owner, def.name, key); continue }
      const first = this.local.get(def)
      if (first !== undefined && first !== key) { this.push(`${indent}type ${printId(key)} = ${printId(first)};\n`); continue }
      if (!isNamed(def)) { this.push(`${indent}type ${printId(key)} = ${printStructure(def as Type, namer)};\n`); continue }
      const d = docs('docs' in def ? def.docs : undefined, indent)
      const name = printId(key)
      switch (def.kind) {
        case 'record':
          this.push(`${d}${indent}record ${name} {\n${def.fields.map(f => `${inner}${printId(f.name)}: ${printType(f.type, namer)},\n`).join('')}${indent}}\n`)
          break
        case 'variant':
          this.push(`${d}${indent}variant ${name} {\n${def.cases.map(c => `${inner}${printId(c.name)}${c.type === null ? '' : `(${printType(c.type, namer)})`},\n`).join('')}${indent}}\n`)
          break
        case 'enum':
          this.push(`${d}${indent}enum ${name} {\n${def.cases.map(c => `${inner}${printId(c)},\n`).join('')}${indent}}\n`)
          break
        case 'flags':
          this.push(`${d}${indent}flags ${name} {\n${def.flags.map(c => `${inner}${printId(c)},\n`).join('')}${indent}}\n`)
          break
        case 'resource': {
          const res = def as Resource
          if (res.functions.size === 0) { this.push(`${d}${indent}resource ${name};\n`); break }
          const funcs = [...res.functions.values()].map(f => `${docs(f.docs, inner)}${inner}${printFunc(f, namer)};\n`).join('')
          this.push(`${d}${indent}resource ${name} {\n${funcs}${indent}}\n`)
          break
        }
      }
    }
    this.flush()
    return this.out.join('')
  }
}

/** A type written out in full at its top level (for `type x = ...`), with inner types named where possible. */
function printStructure (type: Type, namer: TypeNamer): string {
  return printType(type, t => (t === type ? undefined : namer(t)))
}

function interfaceBody (iface: Interface, indent: string): string {
  const section = new TypeSection(iface.types, iface.uses, iface.id, iface.package, indent, iface.functions.values())
  const out = [section.render()]
  for (const f of iface.functions.values()) {
    if (f.kind !== 'freestanding') continue
    out.push(`${docs(f.docs, indent)}${indent}${printFunc(f, section.namer)};\n`)
  }
  return out.join('')
}

/** An interface as WIT text (`interface name { ... }`) that re-parses to the same model, given the packages it uses. */
export function printInterface (iface: Interface, indent = ''): string {
  return `${docs(iface.docs, indent)}${indent}interface ${printId(iface.name)} {\n${interfaceBody(iface, `${indent}  `)}${indent}}\n`
}

function worldItems (world: World, kind: 'import' | 'export', items: ReadonlyMap<string, WorldItem>, namer: TypeNamer, indent: string, out: string[]): void {
  for (const [key, item] of items) {
    if (item.kind === 'interface') {
      if (item.interface.id === key) {
        out.push(`${indent}${kind} ${refTo(key, world.package)};\n`)
      } else {
        const body = interfaceBody(item.interface, `${indent}  `)
        out.push(`${docs(item.interface.docs, indent)}${indent}${kind} ${printId(key)}: interface {\n${body}${indent}}\n`)
      }
    } else if (item.kind === 'function' && item.func.kind === 'freestanding') {
      out.push(`${docs(item.func.docs, indent)}${indent}${kind} ${printFunc({ ...item.func, name: key }, namer)};\n`)
    }
  }
}

/** A world as WIT text, with `include`s flattened and implied imports written out. */
export function printWorld (world: World, indent = ''): string {
  const inner = `${indent}  `
  const types = new Map<string, TypeDef>()
  const funcs: Func[] = []
  for (const [key, item] of world.imports) {
    if (item.kind === 'type') types.set(key, item.type)
    else if (item.kind === 'function') funcs.push(item.func)
  }
  for (const item of world.exports.values()) if (item.kind === 'function') funcs.push(item.func)
  const section = new TypeSection(types, world.uses, world.id, world.package, inner, funcs)
  const out: string[] = []
  worldItems(world, 'import', world.imports, section.namer, inner, out)
  out.push(section.render())
  worldItems(world, 'export', world.exports, section.namer, inner, out)
  return `${docs(world.docs, indent)}${indent}world ${printId(world.name)} {\n${out.join('')}${indent}}\n`
}

function packageName (name: PackageName): string {
  return `${printId(name.namespace)}:${printId(name.name)}${versionSuffix(name)}`
}

function packageItems (pkg: Package, indent: string): string {
  return [...[...pkg.interfaces.values()].map(i => printInterface(i, indent)), ...[...pkg.worlds.values()].map(w => printWorld(w, indent))].join('\n')
}

/** One package as a WIT file: `package ns:name@v;` followed by its interfaces and worlds. */
export function printPackage (pkg: Package): string {
  return `package ${packageName(pkg.name)};\n\n${packageItems(pkg, '')}`
}

/**
 * Every package of a model as one WIT text, the way `componentWit` prints a component: the first
 * package with a `package` header, the others as `package x:y@v { ... }` blocks.
 */
export function printWit (wit: Pick<Wit, 'packages'>): string {
  const [first, ...rest] = wit.packages
  if (first === undefined) return ''
  const blocks = rest.map(p => `package ${packageName(p.name)} {\n${packageItems(p, '  ')}}\n`)
  return [printPackage(first), ...blocks].join('\n')
}
