// WIT resolver: joins parsed files into packages and resolves every name, `use`, `include` and type into the model.

import { WitResolveError } from './errors.ts'
import type { Source } from './lexer.ts'
import type {
  DeclListAst, FileAst, FuncAst, Ident, InterfaceItemAst, PackageNameAst, ResourceFuncAst, TypeAst,
  TypeDefAst, UsePathAst, WorldAst
} from './ast.ts'
import type {
  Field, Func, FuncKind, Interface, Package, PackageName, Param, PrimitiveKind, Resource, Type,
  TypeDef, UsedName, World, WorldItem
} from './model.ts'

const primitives = new Map<PrimitiveKind, Type>()
function primitive (kind: PrimitiveKind): Type {
  let t = primitives.get(kind)
  if (t === undefined) { t = Object.freeze({ kind }); primitives.set(kind, t) }
  return t
}

function fail (src: Source, at: number, reason: string): never {
  throw new WitResolveError(reason, src.locate(at))
}

function pkgKey (namespace: string, name: string, version?: string): string {
  return `${namespace}:${name}${version !== undefined ? `@${version}` : ''}`
}

function withVersion (base: string, version?: string): string {
  return version !== undefined ? `${base}@${version}` : base
}

function describeDef (def: TypeDef): string {
  if ('name' in def && def.name !== undefined) return `${def.kind} \`${def.name}\``
  return `a ${def.kind} type`
}

interface PkgEntry {
  readonly name: PackageName
  readonly key: string
  readonly interfaces: Map<string, IfaceEntry>
  readonly worlds: Map<string, WorldEntry>
  /** The first place the package was declared, for errors. */
  readonly src: Source
  readonly at: number
}

/** The names visible at the top of one file or package block: its package's items plus its top-level `use`s. */
interface DeclScope {
  readonly src: Source
  readonly pkg: PkgEntry
  readonly uses: Map<string, IfaceEntry | WorldEntry>
}

type NameEntry =
  | { readonly kind: 'local', readonly def: TypeDefAst }
  | { readonly kind: 'use', readonly from: IfaceEntry, readonly name: Ident, readonly as: Ident }

/** The types visible inside an interface or world, resolved on demand with cycle detection. */
class TypeScope {
  readonly owner: string
  readonly src: Source
  readonly names = new Map<string, NameEntry>()
  readonly resolved = new Map<string, TypeDef>()
  private readonly resolving: string[] = []
  /** Every name of the scope (types, functions, uses) with where it was defined, to catch duplicates. */
  readonly defined = new Map<string, number>()
  /** Resources declared here, with the functions still to be built. */
  readonly resources: Array<{ readonly resource: MutableResource, readonly def: TypeDefAst & { kind: 'resource' } }> = []

  constructor (owner: string, src: Source) {
    this.owner = owner
    this.src = src
  }

  define (name: Ident, what: string): void {
    if (this.defined.has(name.name)) {
      const prev = this.src.locate(this.defined.get(name.name) ?? 0)
      fail(this.src, name.at, `duplicate ${what} \`${name.name}\` in \`${this.owner}\` (first defined at line ${prev.line}, column ${prev.column})`)
    }
    this.defined.set(name.name, name.at)
  }

  /** Resolves `name` as referenced at `at` in `refSrc`. */
  lookup (name: string, refSrc: Source, at: number): TypeDef {
    const done = this.resolved.get(name)
    if (done !== undefined) return done
    const entry = this.names.get(name)
    if (entry === undefined) fail(refSrc, at, `unknown type \`${name}\`: \`${this.owner}\` defines or uses no type of that name`)
    if (this.resolving.includes(name)) {
      const chain = [...this.resolving.slice(this.resolving.indexOf(name)), name].join(' -> ')
      fail(refSrc, at, `type \`${name}\` refers to itself (${chain}); WIT types cannot be recursive`)
    }
    this.resolving.push(name)
    let def: TypeDef
    if (entry.kind === 'use') {
      const target = entry.from.scope
      if (!target.names.has(entry.name.name)) {
        fail(this.src, entry.name.at, `unknown type \`${entry.name.name}\`: interface \`${entry.from.id}\` has no type of that name`)
      }
      def = target.lookup(entry.name.name, this.src, entry.name.at)
    } else {
      def = this.define1(entry.def)
    }
    this.resolving.pop()
    this.resolved.set(name, def)
    return def
  }

  private define1 (def: TypeDefAst): TypeDef {
    const base = { name: def.name.name, owner: this.owner, ...(def.docs !== undefined ? { docs: def.docs } : {}) }
    switch (def.kind) {
      case 'alias':
        // An alias of a named type is that type itself, so that `type b = bucket` stays a resource.
        return def.type.kind === 'name' ? this.lookup(def.type.name.name, this.src, def.type.name.at) : this.type(def.type)
      case 'record': {
        if (def.fields.length === 0) fail(this.src, def.name.at, `record \`${def.name.name}\` has no fields; wasm-tools rejects empty records`)
        uniqueNames(this.src, def.fields.map(f => f.name), 'field', def.name.name)
        const fields: Field[] = def.fields.map(f => ({ name: f.name.name, type: this.type(f.type) }))
        return { kind: 'record', ...base, fields }
      }
      case 'variant': {
        if (def.cases.length === 0) fail(this.src, def.name.at, `variant \`${def.name.name}\` has no cases; a variant needs at least one`)
        uniqueNames(this.src, def.cases.map(c => c.name), 'case', def.name.name)
        return { kind: 'variant', ...base, cases: def.cases.map(c => ({ name: c.name.name, type: c.type === null ? null : this.type(c.type) })) }
      }
      case 'enum':
        if (def.cases.length === 0) fail(this.src, def.name.at, `enum \`${def.name.name}\` has no cases; an enum needs at least one`)
        uniqueNames(this.src, def.cases.map(c => c.name), 'case', def.name.name)
        return { kind: 'enum', ...base, cases: def.cases.map(c => c.name.name) }
      case 'flags':
        if (def.flags.length === 0) fail(this.src, def.name.at, `flags \`${def.name.name}\` has no flags; wasm-tools rejects empty flags`)
        uniqueNames(this.src, def.flags.map(c => c.name), 'flag', def.name.name)
        return { kind: 'flags', ...base, flags: def.flags.map(c => c.name.name) }
      case 'resource': {
        const resource: MutableResource = { kind: 'resource', ...base, functions: new Map() }
        this.resources.push({ resource, def })
        return resource
      }
    }
  }

  type (ast: TypeAst): Type {
    switch (ast.kind) {
      case 'primitive': return primitive(ast.name)
      case 'name': {
        const def = this.lookup(ast.name.name, this.src, ast.name.at)
        return def.kind === 'resource' ? { kind: 'own', resource: def } : def
      }
      case 'list': {
        const element = this.type(ast.element)
        return ast.length !== undefined ? { kind: 'list', element, length: ast.length } : { kind: 'list', element }
      }
      case 'option': return { kind: 'option', some: this.type(ast.some) }
      case 'result': return { kind: 'result', ok: ast.ok === null ? null : this.type(ast.ok), err: ast.err === null ? null : this.type(ast.err) }
      case 'tuple':
        if (ast.elements.length === 0) fail(this.src, ast.at, '`tuple<>` has no elements; wasm-tools rejects empty tuples')
        return { kind: 'tuple', elements: ast.elements.map(e => this.type(e)) }
      case 'future': case 'stream':
        return { kind: ast.kind, element: ast.element === null ? null : this.type(ast.element) }
      case 'handle': {
        const def = this.lookup(ast.resource.name, this.src, ast.resource.at)
        if (def.kind !== 'resource') fail(this.src, ast.resource.at, `\`${ast.handle}<${ast.resource.name}>\` needs a resource, but \`${ast.resource.name}\` is ${describeDef(def)}`)
        return { kind: ast.handle, resource: def }
      }
    }
  }

  func (name: string, kind: FuncKind, resource: Resource | undefined, ast: FuncAst, docs: string | undefined): Func {
    const params: Param[] = []
    if (kind === 'method' && resource !== undefined) params.push({ name: 'self', type: { kind: 'borrow', resource } })
    const seen = new Set<string>(params.map(p => p.name))
    for (const p of ast.params) {
      if (seen.has(p.name.name)) fail(this.src, p.name.at, `duplicate parameter \`${p.name.name}\` in function \`${name}\``)
      seen.add(p.name.name)
      params.push({ name: p.name.name, type: this.type(p.type) })
    }
    let results: Type[]
    if (kind === 'constructor' && resource !== undefined) {
      const own: Type = { kind: 'own', resource }
      if (ast.result === null) {
        results = [own]
      } else {
        const r = this.type(ast.result)
        const okIsSelf = r.kind === 'result' && r.ok !== null && r.ok.kind === 'own' && r.ok.resource === resource
        if (!okIsSelf) fail(this.src, ast.result.at, `a constructor of \`${resource.name}\` may only return \`result<${resource.name}, E>\``)
        results = [r]
      }
    } else {
      results = ast.result === null ? [] : [this.type(ast.result)]
    }
    return {
      name,
      kind,
      ...(resource !== undefined ? { resource: resource.name } : {}),
      async: ast.async,
      params,
      results,
      ...(docs !== undefined ? { docs } : {})
    }
  }

  /** Builds the constructor, methods and statics of every resource declared here. */
  resourceFuncs (def: TypeDefAst & { kind: 'resource' }, resource: MutableResource): Func[] {
    const out: Func[] = []
    const seen = new Map<string, number>()
    for (const rf of def.funcs) {
      const name = funcName(rf, resource.name)
      // `[method]r.m` and `[static]r.m` clash: the component model compares names without the annotation.
      const plain = rf.kind === 'constructor' ? '[constructor]' : rf.name.name
      if (seen.has(plain)) fail(this.src, rf.name.at, `duplicate ${rf.kind === 'constructor' ? 'constructor' : `function \`${rf.name.name}\``} in resource \`${resource.name}\``)
      seen.set(plain, rf.name.at)
      const f = this.func(name, rf.kind, resource, rf.func, rf.docs)
      resource.functions.set(name, f)
      out.push(f)
    }
    return out
  }
}

type MutableResource = Resource & { functions: Map<string, Func> }

function funcName (rf: ResourceFuncAst, resource: string): string {
  switch (rf.kind) {
    case 'constructor': return `[constructor]${resource}`
    case 'method': return `[method]${resource}.${rf.name.name}`
    case 'static': return `[static]${resource}.${rf.name.name}`
  }
}

function uniqueNames (src: Source, names: readonly Ident[], what: string, owner: string): void {
  const seen = new Set<string>()
  for (const n of names) {
    if (seen.has(n.name)) fail(src, n.at, `duplicate ${what} \`${n.name}\` in \`${owner}\``)
    seen.add(n.name)
  }
}

interface IfaceEntry {
  readonly kind: 'interface'
  readonly id: string
  readonly name: string
  readonly at: number
  readonly pkg: PkgEntry
  readonly decl: DeclScope
  readonly items: readonly InterfaceItemAst[]
  readonly docs?: string
  readonly scope: TypeScope
  readonly model: Interface & { types: Map<string, TypeDef>, functions: Map<string, Func>, uses: Map<string, UsedName> }
  /** Interfaces this one `use`s, with where. */
  readonly deps: Array<{ readonly entry: IfaceEntry, readonly at: number }>
  state: 'new' | 'named' | 'visiting' | 'done'
}

interface WorldEntry {
  readonly kind: 'world'
  readonly id: string
  readonly name: string
  readonly at: number
  readonly pkg: PkgEntry
  readonly decl: DeclScope
  readonly ast: WorldAst
  readonly model: World & { imports: Map<string, WorldItem>, exports: Map<string, WorldItem>, uses: Map<string, UsedName> }
  state: 'new' | 'visiting' | 'done'
}

/** Resolution of one set of parsed files into packages. */
export class Resolver {
  private readonly packages = new Map<string, PkgEntry>()
  private readonly byBase = new Map<string, PkgEntry[]>()
  private readonly decls: Array<{ readonly ast: DeclListAst, readonly scope: DeclScope }> = []
  private readonly interfaces: IfaceEntry[] = []
  private readonly worlds: WorldEntry[] = []

  resolve (files: readonly FileAst[]): Package[] {
    this.assignPackages(files)
    for (const d of this.decls) this.register(d.ast, d.scope)
    for (const d of this.decls) this.topUses(d.ast, d.scope)
    for (const i of this.interfaces) this.nameInterface(i)
    for (const i of this.interfaces) this.checkCycles(i)
    for (const i of this.interfaces) this.fillInterface(i)
    for (const w of this.worlds) this.resolveWorld(w)
    return [...this.packages.values()].map(p => ({
      name: p.name,
      interfaces: new Map([...p.interfaces].map(([k, v]) => [k, v.model])),
      worlds: new Map([...p.worlds].map(([k, v]) => [k, v.model]))
    }))
  }

  private pkg (ast: PackageNameAst, src: Source): PkgEntry {
    const key = pkgKey(ast.namespace.name, ast.name.name, ast.version)
    let p = this.packages.get(key)
    if (p === undefined) {
      const name: PackageName = { namespace: ast.namespace.name, name: ast.name.name, ...(ast.version !== undefined ? { version: ast.version } : {}) }
      p = { name, key, interfaces: new Map(), worlds: new Map(), src, at: ast.at }
      this.packages.set(key, p)
      const base = pkgKey(ast.namespace.name, ast.name.name)
      const list = this.byBase.get(base) ?? []
      list.push(p)
      this.byBase.set(base, list)
    }
    return p
  }

  private assignPackages (files: readonly FileAst[]): void {
    const headerless: FileAst[] = []
    const headerByDir = new Map<string, Set<PkgEntry>>()
    const allHeaders = new Set<PkgEntry>()
    for (const f of files) {
      const top = f.top
      if (top.package !== undefined) {
        const p = this.pkg(top.package, f.src)
        this.decls.push({ ast: top, scope: { src: f.src, pkg: p, uses: new Map() } })
        const dir = dirOf(f.src.file)
        const set = headerByDir.get(dir) ?? new Set()
        set.add(p)
        headerByDir.set(dir, set)
        allHeaders.add(p)
      } else if (top.interfaces.length > 0 || top.worlds.length > 0 || top.uses.length > 0) {
        headerless.push(f)
      }
      for (const n of f.nested) {
        if (n.package === undefined) continue
        this.decls.push({ ast: n, scope: { src: f.src, pkg: this.pkg(n.package, f.src), uses: new Map() } })
      }
    }
    for (const f of headerless) {
      const inDir = headerByDir.get(dirOf(f.src.file))
      const candidates = inDir !== undefined && inDir.size > 0 ? inDir : allHeaders
      if (candidates.size !== 1) {
        const names = [...candidates].map(p => `\`${p.key}\``).join(', ')
        fail(f.src, 0, candidates.size === 0
          ? 'this file has no `package ns:name;` header and no other file of the set has one; add a header'
          : `this file has no \`package\` header and its package is ambiguous (${names}); add a header`)
      }
      const p = [...candidates][0]
      this.decls.push({ ast: f.top, scope: { src: f.src, pkg: p, uses: new Map() } })
    }
  }

  private register (ast: DeclListAst, decl: DeclScope): void {
    const p = decl.pkg
    const taken = (name: Ident): void => {
      const prev = p.interfaces.get(name.name) ?? p.worlds.get(name.name)
      if (prev !== undefined) {
        const where = prev.decl.src.locate(prev.at)
        fail(decl.src, name.at, `duplicate ${prev.kind} name \`${name.name}\` in package \`${p.key}\` (first defined at ${where.file}:${where.line}:${where.column})`)
      }
    }
    for (const i of ast.interfaces) {
      taken(i.name)
      const entry = this.newInterface(p, decl, i.name.name, withVersion(`${p.name.namespace}:${p.name.name}/${i.name.name}`, p.name.version), i.name.at, i.items, i.docs)
      p.interfaces.set(i.name.name, entry)
    }
    for (const w of ast.worlds) {
      taken(w.name)
      const id = withVersion(`${p.name.namespace}:${p.name.name}/${w.name.name}`, p.name.version)
      const entry: WorldEntry = {
        kind: 'world',
        id,
        name: w.name.name,
        at: w.name.at,
        pkg: p,
        decl,
        ast: w,
        model: { id, name: w.name.name, package: p.name, imports: new Map(), exports: new Map(), uses: new Map(), ...(w.docs !== undefined ? { docs: w.docs } : {}) },
        state: 'new'
      }
      p.worlds.set(w.name.name, entry)
      this.worlds.push(entry)
    }
  }

  private newInterface (p: PkgEntry, decl: DeclScope, name: string, id: string, at: number, items: readonly InterfaceItemAst[], docs: string | undefined): IfaceEntry {
    const entry: IfaceEntry = {
      kind: 'interface',
      id,
      name,
      at,
      pkg: p,
      decl,
      items,
      ...(docs !== undefined ? { docs } : {}),
      scope: new TypeScope(id, decl.src),
      model: { id, name, package: p.name, types: new Map(), functions: new Map(), uses: new Map(), ...(docs !== undefined ? { docs } : {}) },
      deps: [],
      state: 'new'
    }
    this.interfaces.push(entry)
    return entry
  }

  private topUses (ast: DeclListAst, decl: DeclScope): void {
    for (const u of ast.uses) {
      const target = this.lookupPath(u.path, decl, 'any')
      const local = u.as ?? u.path.name
      if (decl.uses.has(local.name) || decl.pkg.interfaces.has(local.name) || decl.pkg.worlds.has(local.name)) {
        fail(decl.src, local.at, `\`use\` of \`${local.name}\` clashes with another item of that name in package \`${decl.pkg.key}\`; rename it with \`as\``)
      }
      decl.uses.set(local.name, target)
    }
  }

  /** Finds the interface or world a `use`/`import`/`include` path names. */
  private lookupPath (path: UsePathAst, decl: DeclScope, want: 'interface' | 'world' | 'any'): IfaceEntry | WorldEntry {
    let found: IfaceEntry | WorldEntry | undefined
    let where: string
    if (path.kind === 'local') {
      const n = path.name.name
      found = decl.uses.get(n) ?? decl.pkg.interfaces.get(n) ?? decl.pkg.worlds.get(n)
      where = `package \`${decl.pkg.key}\``
    } else {
      const base = pkgKey(path.pkg.namespace.name, path.pkg.name.name)
      const candidates = this.byBase.get(base) ?? []
      let p: PkgEntry | undefined
      if (path.pkg.version !== undefined) {
        p = candidates.find(c => c.name.version === path.pkg.version)
        if (p === undefined) {
          const have = candidates.map(c => c.name.version ?? '(unversioned)').join(', ')
          fail(decl.src, path.at, candidates.length === 0
            ? `unknown package \`${base}@${path.pkg.version}\`: no file of the set declares package \`${base}\``
            : `unknown package version \`${base}@${path.pkg.version}\`: the set has ${have}`)
        }
      } else {
        if (candidates.length === 0) fail(decl.src, path.at, `unknown package \`${base}\`: no file of the set declares it`)
        if (candidates.length > 1) {
          fail(decl.src, path.at, `package \`${base}\` is present in several versions (${candidates.map(c => c.name.version ?? '(unversioned)').join(', ')}); write the version`)
        }
        p = candidates[0]
      }
      const n = path.name.name
      found = want === 'world' ? (p.worlds.get(n) ?? p.interfaces.get(n)) : (p.interfaces.get(n) ?? p.worlds.get(n))
      where = `package \`${p.key}\``
    }
    const n = path.name.name
    if (found === undefined) {
      fail(decl.src, path.name.at, `unknown ${want === 'any' ? 'interface or world' : want} \`${n}\`: ${where} has none of that name`)
    }
    if (want !== 'any' && found.kind !== want) {
      fail(decl.src, path.name.at, `\`${n}\` is a ${found.kind}, but ${want === 'world' ? 'a world' : 'an interface'} is expected here`)
    }
    return found
  }

  private lookupInterface (path: UsePathAst, decl: DeclScope): IfaceEntry {
    return this.lookupPath(path, decl, 'interface') as IfaceEntry
  }

  /** Records the names an interface defines and uses, before any type is resolved. */
  private nameInterface (i: IfaceEntry): void {
    if (i.state !== 'new') return
    i.state = 'named'
    for (const item of i.items) {
      switch (item.kind) {
        case 'use': {
          const from = this.lookupInterface(item.path, i.decl)
          if (from === i) fail(i.decl.src, item.path.name.at, `interface \`${i.name}\` cannot \`use\` itself`)
          i.deps.push({ entry: from, at: item.path.name.at })
          for (const u of item.names) {
            const as = u.as ?? u.name
            i.scope.define(as, 'name')
            i.scope.names.set(as.name, { kind: 'use', from, name: u.name, as })
            i.model.uses.set(as.name, { from: from.id, name: u.name.name })
          }
          break
        }
        case 'type':
          i.scope.define(item.def.name, 'name')
          i.scope.names.set(item.def.name.name, { kind: 'local', def: item.def })
          break
        case 'func':
          i.scope.define(item.func.name, 'name')
          break
      }
    }
  }

  private checkCycles (i: IfaceEntry): void {
    const stack: IfaceEntry[] = []
    const visit = (e: IfaceEntry, at: number, src: Source): void => {
      if (e.state === 'done') return
      if (e.state === 'visiting') {
        const chain = [...stack.slice(stack.indexOf(e)), e].map(x => x.id).join(' -> ')
        fail(src, at, `interfaces depend on each other in a cycle through \`use\` (${chain})`)
      }
      e.state = 'visiting'
      stack.push(e)
      for (const d of e.deps) visit(d.entry, d.at, e.decl.src)
      stack.pop()
      e.state = 'done'
    }
    visit(i, i.at, i.decl.src)
  }

  private fillInterface (i: IfaceEntry): void {
    const { scope, model } = i
    for (const name of scope.names.keys()) model.types.set(name, scope.lookup(name, scope.src, scope.defined.get(name) ?? 0))
    for (const item of i.items) {
      if (item.kind === 'func') {
        const f = item.func
        model.functions.set(f.name.name, scope.func(f.name.name, 'freestanding', undefined, f.func, f.docs))
      } else if (item.kind === 'type' && item.def.kind === 'resource') {
        const res = scope.resources.find(r => r.def === item.def)
        if (res !== undefined) for (const f of scope.resourceFuncs(res.def, res.resource)) model.functions.set(f.name, f)
      }
    }
  }

  private resolveWorld (w: WorldEntry): void {
    if (w.state === 'done') return
    if (w.state === 'visiting') fail(w.decl.src, w.at, `world \`${w.name}\` includes itself`)
    w.state = 'visiting'
    const { imports, exports } = w.model
    const src = w.decl.src
    const scope = new TypeScope(w.id, src)
    const explicit = new Map<string, { kind: 'import' | 'export', at: number }>()
    const exportedIfaces: IfaceEntry[] = []
    const worldFuncs: Array<{ kind: 'import' | 'export', name: Ident, ast: FuncAst, docs?: string }> = []
    const worldTypes: Ident[] = []

    const addImportIface = (e: IfaceEntry): void => {
      if (imports.has(e.id)) return
      for (const d of e.deps) addImportIface(d.entry)
      imports.set(e.id, { kind: 'interface', interface: e.model })
    }
    // wasm-tools lets a world import and export the same name; only a repeat within one side clashes.
    const claim = (kind: 'import' | 'export', key: string, at: number): void => {
      const k = `${kind} ${key}`
      const prev = explicit.get(k)
      if (prev !== undefined) {
        const where = src.locate(prev.at)
        fail(src, at, `duplicate ${kind} \`${key}\` in world \`${w.name}\` (first at line ${where.line}, column ${where.column})`)
      }
      explicit.set(k, { kind, at })
    }

    for (const item of w.ast.items) {
      switch (item.kind) {
        case 'use': {
          const from = this.lookupInterface(item.path, w.decl)
          addImportIface(from)
          for (const u of item.names) {
            const as = u.as ?? u.name
            scope.define(as, 'name')
            scope.names.set(as.name, { kind: 'use', from, name: u.name, as })
            w.model.uses.set(as.name, { from: from.id, name: u.name.name })
            worldTypes.push(as)
          }
          break
        }
        case 'type':
          scope.define(item.def.name, 'name')
          scope.names.set(item.def.name.name, { kind: 'local', def: item.def })
          worldTypes.push(item.def.name)
          break
        case 'include':
          break
        case 'import': case 'export': {
          const ext = item.extern
          const map = item.kind === 'import' ? imports : exports
          if (ext.kind === 'path') {
            const e = this.lookupInterface(ext.path, w.decl)
            claim(item.kind, e.id, ext.path.name.at)
            if (item.kind === 'import') addImportIface(e)
            else { exports.set(e.id, { kind: 'interface', interface: e.model }); exportedIfaces.push(e) }
          } else if (ext.kind === 'interface') {
            claim(item.kind, ext.name.name, ext.name.at)
            const base = `${w.pkg.name.namespace}:${w.pkg.name.name}/${w.name}/${ext.name.name}`
            const e = this.newInterface(w.pkg, w.decl, ext.name.name, withVersion(base, w.pkg.name.version), ext.name.at, ext.items, item.docs)
            this.nameInterface(e)
            this.checkCycles(e)
            this.fillInterface(e)
            if (item.kind === 'import') for (const d of e.deps) addImportIface(d.entry)
            else exportedIfaces.push(e)
            map.set(ext.name.name, { kind: 'interface', interface: e.model })
          } else {
            claim(item.kind, ext.name.name, ext.name.at)
            worldFuncs.push({ kind: item.kind, name: ext.name, ast: ext.func, ...(item.docs !== undefined ? { docs: item.docs } : {}) })
            map.set(ext.name.name, { kind: 'function', func: placeholderFunc })
          }
          break
        }
      }
    }

    // World-level types are imports; resource functions come along as imported functions.
    for (const name of worldTypes) {
      const def = scope.lookup(name.name, src, name.at)
      if (imports.has(name.name) || exports.has(name.name)) fail(src, name.at, `\`${name.name}\` clashes with another import or export of world \`${w.name}\``)
      imports.set(name.name, { kind: 'type', type: def })
    }
    for (const { resource, def } of scope.resources) {
      for (const f of scope.resourceFuncs(def, resource)) imports.set(f.name, { kind: 'function', func: f })
    }
    for (const f of worldFuncs) {
      const map = f.kind === 'import' ? imports : exports
      map.set(f.name.name, { kind: 'function', func: scope.func(f.name.name, 'freestanding', undefined, f.ast, f.docs) })
    }

    for (const item of w.ast.items) {
      if (item.kind !== 'include') continue
      const other = this.lookupPath(item.path, w.decl, 'world') as WorldEntry
      if (other === w) fail(src, item.path.name.at, `world \`${w.name}\` includes itself`)
      this.resolveWorld(other)
      const renames = new Map<string, Ident>()
      for (const r of item.with) {
        if (!other.model.imports.has(r.name.name) && !other.model.exports.has(r.name.name)) {
          fail(src, r.name.at, `world \`${other.id}\` has no import or export named \`${r.name.name}\` to rename`)
        }
        renames.set(r.name.name, r.as)
      }
      const copy = (from: ReadonlyMap<string, WorldItem>, to: Map<string, WorldItem>, kind: 'import' | 'export'): void => {
        for (const [key, value] of from) {
          const isId = value.kind === 'interface' && value.interface.id === key
          const rename = renames.get(key)
          const newKey = rename?.name ?? key
          let v = value
          if (rename !== undefined && value.kind === 'function') v = { kind: 'function', func: { ...value.func, name: newKey } }
          const existing = to.get(newKey)
          if (existing !== undefined) {
            if (isId || sameItem(existing, v)) continue
            fail(src, rename?.at ?? item.path.name.at, `including \`${other.id}\` brings a second ${kind} named \`${newKey}\` into world \`${w.name}\`; rename it with \`with { ${key} as ... }\``)
          }
          to.set(newKey, v)
          const used = other.model.uses.get(key)
          if (value.kind === 'type' && used !== undefined) w.model.uses.set(newKey, used)
        }
      }
      copy(other.model.imports, imports, 'import')
      copy(other.model.exports, exports, 'export')
    }

    // An exported interface's dependencies that the world does not export are imported.
    const exportedIds = new Set(exportedIfaces.map(e => e.id))
    const visited = new Set<IfaceEntry>()
    const pullDeps = (e: IfaceEntry): void => {
      for (const d of e.deps) {
        if (visited.has(d.entry)) continue
        visited.add(d.entry)
        if (exportedIds.has(d.entry.id)) pullDeps(d.entry)
        else addImportIface(d.entry)
      }
    }
    for (const e of exportedIfaces) pullDeps(e)
    w.state = 'done'
  }
}

const placeholderFunc: Func = { name: '', kind: 'freestanding', async: false, params: [], results: [] }

function sameItem (a: WorldItem, b: WorldItem): boolean {
  if (a.kind === 'interface' && b.kind === 'interface') return a.interface === b.interface
  if (a.kind === 'type' && b.kind === 'type') return a.type === b.type
  if (a.kind === 'function' && b.kind === 'function') return a.func === b.func
  return false
}

function dirOf (file: string): string {
  const i = file.lastIndexOf('/')
  return i < 0 ? '' : file.slice(0, i)
}
