// Reads a component binary's imports and exports into the WIT model, with every package its interfaces come from.

import { identifierProblem } from './lexer.ts'
import { witFromPackages } from './lookup.ts'
import type {
  Func, FuncKind, Interface, Package, PackageName, Param, PrimitiveKind, Resource, Type, TypeDef, UsedName, Wit, World, WorldItem
} from './model.ts'
import { ComponentDecodeError } from './binary/errors.ts'
import { ComponentDecoder, defaultDecodeLimits } from './binary/types.ts'
import type { DecodeLimits, Entity, FuncT, InstT, ResT, Ty, ValT } from './binary/types.ts'

export { ComponentDecodeError } from './binary/errors.ts'
export type { ComponentDecodeErrorCode } from './binary/errors.ts'
export { defaultDecodeLimits as defaultComponentWitLimits }
export type { DecodeLimits as ComponentWitLimits }

/** The package and world a component's own imports and exports are gathered in, as `componentWit` names them. */
export const rootWorldId = 'root:component/root'
const rootPackage: PackageName = { namespace: 'root', name: 'component' }

type MutableResource = Resource & { functions: Map<string, Func> }
type MutableInterface = Interface & { types: Map<string, TypeDef>, functions: Map<string, Func>, uses: Map<string, UsedName> }

interface ParsedId { readonly pkg: PackageName, readonly name: string }

const versionPattern = /^[0-9A-Za-z.+-]+$/

/**
 * An instance name from a component binary, `ns:pkg/name@version`, split into its package and interface
 * name, or undefined for a plain name. Looser than `parseInterfaceId` in versions.ts on purpose: the
 * binary's names were validated when the component was built, and a version the mesh cannot route
 * (say, not semver) must still load for the component to be inspected.
 */
function splitInstanceName (id: string): ParsedId | undefined {
  const colon = id.indexOf(':')
  const slash = id.indexOf('/')
  if (colon < 0 || slash < colon) return undefined
  const at = id.indexOf('@', slash)
  const namespace = id.slice(0, colon)
  const name = id.slice(colon + 1, slash)
  const iface = id.slice(slash + 1, at < 0 ? undefined : at)
  const version = at < 0 ? undefined : id.slice(at + 1)
  for (const part of [namespace, name, iface]) {
    if (identifierProblem(part) !== undefined) return undefined
  }
  if (version !== undefined && !versionPattern.test(version)) return undefined
  return { pkg: { namespace, name, ...(version !== undefined ? { version } : {}) }, name: iface }
}

function pkgKey (p: PackageName): string {
  return `${p.namespace}:${p.name}${p.version !== undefined ? `@${p.version}` : ''}`
}

function invalid (reason: string): never {
  throw new ComponentDecodeError('invalid-component', reason, 0)
}

/** A component-model function name: its kind, resource and whether an `[async]` annotation marks it. */
function parseFuncName (name: string): { kind: FuncKind, resource?: string, plain: string, async: boolean } {
  const m = /^\[(constructor|method|static|async|async method|async static)\](.*)$/.exec(name)
  if (m === null) return { kind: 'freestanding', plain: name, async: false }
  const [, annotation, rest] = m
  const async = annotation.startsWith('async')
  const kind = annotation === 'async' ? 'freestanding' : annotation.replace('async ', '') as FuncKind
  if (kind === 'freestanding' || kind === 'constructor') return { kind, plain: rest, async, ...(kind === 'constructor' ? { resource: rest } : {}) }
  const dot = rest.indexOf('.')
  if (dot < 0) invalid(`function \`${name}\` names no resource method`)
  return { kind, resource: rest.slice(0, dot), plain: rest.slice(dot + 1), async }
}

function checkLabel (name: string, what: string): void {
  const problem = identifierProblem(name)
  if (problem !== undefined) invalid(`${what} \`${name}\` is not a valid name: ${problem}`)
}

const primitives = new Map<PrimitiveKind, Type>()
function primitive (kind: PrimitiveKind): Type {
  let t = primitives.get(kind)
  if (t === undefined) { t = Object.freeze({ kind }); primitives.set(kind, t) }
  return t
}

/** Turns the decoded types into model objects, one per decoded object so that shared types stay shared. */
class ModelBuilder {
  /** Where each named type was first given its name: imports first, in binary order, then exports. */
  private readonly owners = new Map<Ty, { readonly scope: string, readonly name: string }>()
  private readonly converted = new Map<Ty, TypeDef>()
  private anonymous = 0

  name (t: Ty, scope: string, name: string): void {
    if (!this.owners.has(t)) this.owners.set(t, { scope, name })
  }

  ownerOf (t: Ty): { readonly scope: string, readonly name: string } | undefined {
    return this.owners.get(t)
  }

  resource (t: ResT): MutableResource {
    const done = this.converted.get(t)
    if (done !== undefined) return done as MutableResource
    // A resource no import or export names cannot be written in WIT; it still needs a name in the model.
    const owner = this.owners.get(t) ?? { scope: rootWorldId, name: `unnamed-resource${++this.anonymous}` }
    const r: MutableResource = { kind: 'resource', name: owner.name, owner: owner.scope, functions: new Map() }
    this.converted.set(t, r)
    return r
  }

  def (t: Ty): TypeDef | undefined {
    if (t.k === 'resource') return this.resource(t)
    if (t.k === 'func' || t.k === 'instance' || t.k === 'component') return undefined
    return this.type(t)
  }

  type (t: ValT): Type {
    const done = this.converted.get(t)
    if (done !== undefined) return done as Type
    const owner = this.owners.get(t)
    const named = owner !== undefined ? { name: owner.name, owner: owner.scope } : {}
    const opt = (x: ValT | null): Type | null => (x === null ? null : this.type(x))
    let out: Type
    switch (t.k) {
      case 'prim': out = primitive(t.p); break
      case 'record': out = { kind: 'record', ...named, fields: t.fields.map(([name, f]) => ({ name, type: this.type(f) })) }; break
      case 'variant': out = { kind: 'variant', ...named, cases: t.cases.map(([name, c]) => ({ name, type: opt(c) })) }; break
      case 'enum': out = { kind: 'enum', ...named, cases: [...t.names] }; break
      case 'flags': out = { kind: 'flags', ...named, flags: [...t.names] }; break
      case 'list': out = t.len !== undefined ? { kind: 'list', element: this.type(t.el), length: t.len } : { kind: 'list', element: this.type(t.el) }; break
      case 'tuple': out = { kind: 'tuple', elements: t.els.map(e => this.type(e)) }; break
      case 'option': out = { kind: 'option', some: this.type(t.some) }; break
      case 'result': out = { kind: 'result', ok: opt(t.ok), err: opt(t.err) }; break
      case 'own': case 'borrow': out = { kind: t.k, resource: this.resource(t.res) }; break
      case 'future': case 'stream': out = { kind: t.k, element: opt(t.el) }; break
    }
    this.converted.set(t, out)
    return out
  }

  func (name: string, t: FuncT, resources: (name: string) => MutableResource | undefined): Func {
    const parsed = parseFuncName(name)
    checkLabel(parsed.plain, 'function')
    const params: Param[] = t.params.map(([p, v]) => ({ name: p, type: this.type(v) }))
    const modelName = parsed.kind === 'freestanding'
      ? parsed.plain
      : parsed.kind === 'constructor' ? `[constructor]${parsed.plain}` : `[${parsed.kind}]${parsed.resource ?? ''}.${parsed.plain}`
    const f: Func = {
      name: modelName,
      kind: parsed.kind,
      ...(parsed.resource !== undefined ? { resource: parsed.resource } : {}),
      async: t.async || parsed.async,
      params,
      results: t.result === null ? [] : [this.type(t.result)]
    }
    if (parsed.resource !== undefined) {
      const res = resources(parsed.resource)
      if (res === undefined) invalid(`function \`${name}\` belongs to \`${parsed.resource}\`, which is not a resource of its scope`)
      res.functions.set(modelName, f)
    }
    return f
  }
}

/** What one top-level import or export of an instance becomes. */
interface InstanceItem { readonly key: string, readonly id: string, readonly parsed: ParsedId | undefined, readonly inst: InstT }

function instanceItems (entities: ReadonlyMap<string, Entity>): InstanceItem[] {
  const out: InstanceItem[] = []
  for (const [key, e] of entities) {
    if (e.sort !== 'instance') continue
    const parsed = splitInstanceName(key)
    if (parsed === undefined) checkLabel(key, 'interface')
    out.push({ key, id: parsed !== undefined ? key : `${rootWorldId}/${key}`, parsed, inst: e.t })
  }
  return out
}

/** Builds an interface from an instance type: its named types (definitions or `use`s) and functions. */
function buildInterface (b: ModelBuilder, item: InstanceItem): MutableInterface {
  const pkg = item.parsed?.pkg ?? rootPackage
  const iface: MutableInterface = { id: item.id, name: item.parsed?.name ?? item.key, package: pkg, types: new Map(), functions: new Map(), uses: new Map() }
  for (const [name, e] of item.inst.exports) {
    if (e.sort !== 'type') continue
    const def = b.def(e.t)
    if (def === undefined) continue
    checkLabel(name, 'type')
    iface.types.set(name, def)
    const owner = b.ownerOf(e.t)
    if (owner !== undefined && owner.scope !== item.id) iface.uses.set(name, { from: owner.scope, name: owner.name })
  }
  const resources = (name: string): MutableResource | undefined => {
    const t = iface.types.get(name)
    return t?.kind === 'resource' ? t as MutableResource : undefined
  }
  for (const [name, e] of item.inst.exports) {
    if (e.sort !== 'func') continue
    const f = b.func(name, e.t, resources)
    if (iface.functions.has(f.name)) invalid(`interface \`${item.id}\` has two functions named \`${f.name}\``)
    iface.functions.set(f.name, f)
  }
  return iface
}

/** The component's own named types: world-level types, whose resources own world-level functions. */
function worldTypes (b: ModelBuilder, entities: ReadonlyMap<string, Entity>, types: Map<string, TypeDef>): void {
  for (const [name, e] of entities) {
    if (e.sort !== 'type') continue
    const def = b.def(e.t)
    if (def === undefined) continue
    checkLabel(name, 'type')
    types.set(name, def)
  }
}

/**
 * Decodes the imports and exports of a component binary into the WIT model: a `Wit` holding one
 * package per imported/exported interface's package (with the interfaces and the named types they
 * use) plus the root world `root:component/root`, first, in package `root:component`.
 *
 * Only the component's top level is described, as `componentWit` does; nested components and
 * instantiations are followed just far enough to know the types of what it exports. A type is owned
 * by the first interface (imports first, in binary order) that gives it a name; later ones `use` it.
 *
 * Throws ComponentDecodeError: `invalid-component` for bytes that are not a well-formed component,
 * `unsupported-component` for constructs the model cannot express, `limit-exceeded` past `limits`.
 */
export function decodeComponentWit (bytes: Uint8Array, limits: Partial<DecodeLimits> = {}): Wit {
  const top = new ComponentDecoder({ ...defaultDecodeLimits, ...limits }).decode(bytes)
  const b = new ModelBuilder()
  const imported = instanceItems(top.imports)
  const exported = instanceItems(top.exports)

  // Names first, so that a type's owner is known before any interface refers to it.
  for (const item of [...imported, ...exported]) {
    for (const [name, e] of item.inst.exports) if (e.sort === 'type') b.name(e.t, item.id, name)
  }
  for (const entities of [top.imports, top.exports]) {
    for (const [name, e] of entities) if (e.sort === 'type') b.name(e.t, rootWorldId, name)
  }

  const packages = new Map<string, { name: PackageName, interfaces: Map<string, Interface> }>()
  const types = new Map<string, TypeDef>()
  worldTypes(b, top.imports, types)
  worldTypes(b, top.exports, types)
  const resources = (name: string): MutableResource | undefined => {
    const t = types.get(name)
    return t?.kind === 'resource' ? t as MutableResource : undefined
  }
  // World items in binary order, as `componentWit` lists them.
  const items = (entities: ReadonlyMap<string, Entity>, instances: InstanceItem[]): Map<string, WorldItem> => {
    const out = new Map<string, WorldItem>()
    const byKey = new Map(instances.map(i => [i.key, i]))
    for (const [name, e] of entities) {
      const item = byKey.get(name)
      if (item !== undefined) {
        const iface = buildInterface(b, item)
        if (item.parsed !== undefined) {
          const key = pkgKey(item.parsed.pkg)
          let p = packages.get(key)
          if (p === undefined) { p = { name: item.parsed.pkg, interfaces: new Map() }; packages.set(key, p) }
          // An interface both imported and exported is described once, by its import.
          if (!p.interfaces.has(iface.name)) p.interfaces.set(iface.name, iface)
        }
        out.set(item.parsed !== undefined ? item.id : item.key, { kind: 'interface', interface: iface })
      } else if (e.sort === 'func') {
        const f = b.func(name, e.t, resources)
        out.set(f.name, { kind: 'function', func: f })
      }
    }
    return out
  }
  const imports = items(top.imports, imported)
  const exports = items(top.exports, exported)
  for (const [name, def] of types) if (!imports.has(name)) imports.set(name, { kind: 'type', type: def })

  const world: World = { id: rootWorldId, name: 'root', package: rootPackage, imports, exports, uses: new Map() }
  const root: Package = { name: rootPackage, interfaces: new Map(), worlds: new Map([['root', world]]) }
  const others: Package[] = [...packages.values()].map(p => ({ name: p.name, interfaces: p.interfaces, worlds: new Map() }))
  return witFromPackages([root, ...others])
}
