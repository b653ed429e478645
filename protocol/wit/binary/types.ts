// Decodes a component's sections into its import and export types, following index spaces, aliases and instantiations.

import { identifierProblem } from '../lexer.ts'
import type { PrimitiveKind } from '../model.ts'
import { ComponentDecodeError } from './errors.ts'
import { Reader } from './reader.ts'

export interface DecodeLimits {
  /** The most type nodes the decoder may build or visit (type definitions, copies made by instantiation). */
  readonly maxTypes: number
  /** The deepest nesting of value types, and of components and type declarations inside each other. */
  readonly maxDepth: number
  /** The most nodes one value or function type may expand to when written out as a tree. */
  readonly maxTypeSize: number
}

export const defaultDecodeLimits: DecodeLimits = Object.freeze({
  maxTypes: 500_000,
  maxDepth: 64,
  maxTypeSize: 100_000
})

interface Sized { readonly size: number, readonly depth: number }

export interface PrimT extends Sized { readonly k: 'prim', readonly p: PrimitiveKind }
export interface RecordT extends Sized { readonly k: 'record', readonly fields: ReadonlyArray<readonly [string, ValT]> }
export interface VariantT extends Sized { readonly k: 'variant', readonly cases: ReadonlyArray<readonly [string, ValT | null]> }
export interface ListT extends Sized { readonly k: 'list', readonly el: ValT, readonly len?: number }
export interface TupleT extends Sized { readonly k: 'tuple', readonly els: readonly ValT[] }
export interface LabelsT extends Sized { readonly k: 'flags' | 'enum', readonly names: readonly string[] }
export interface OptionT extends Sized { readonly k: 'option', readonly some: ValT }
export interface ResultT extends Sized { readonly k: 'result', readonly ok: ValT | null, readonly err: ValT | null }
export interface HandleT extends Sized { readonly k: 'own' | 'borrow', readonly res: ResT }
export interface AsyncT extends Sized { readonly k: 'future' | 'stream', readonly el: ValT | null }
/** A resource type; its identity is the object itself. */
export interface ResT extends Sized { readonly k: 'resource', readonly id: number }
export interface FuncT extends Sized {
  readonly k: 'func'
  readonly async: boolean
  readonly params: ReadonlyArray<readonly [string, ValT]>
  readonly result: ValT | null
}
export interface InstT extends Sized { readonly k: 'instance', readonly exports: ReadonlyMap<string, Entity> }
export interface CompT extends Sized {
  readonly k: 'component'
  readonly imports: ReadonlyMap<string, Entity>
  readonly exports: ReadonlyMap<string, Entity>
}

export type ValT = PrimT | RecordT | VariantT | ListT | TupleT | LabelsT | OptionT | ResultT | HandleT | AsyncT
export type Ty = ValT | ResT | FuncT | InstT | CompT

/** What an import, export or alias names: a function, type, instance or component (core items and values are opaque). */
export type Entity =
  | { readonly sort: 'func', readonly t: FuncT }
  | { readonly sort: 'type', readonly t: Ty }
  | { readonly sort: 'instance', readonly t: InstT }
  | { readonly sort: 'component', readonly t: CompT }
  | { readonly sort: 'core' | 'value' }

type Sort = Entity['sort']

const primByOpcode: ReadonlyMap<number, PrimitiveKind> = new Map<number, PrimitiveKind>([
  [0x7f, 'bool'], [0x7e, 's8'], [0x7d, 'u8'], [0x7c, 's16'], [0x7b, 'u16'], [0x7a, 's32'], [0x79, 'u32'],
  [0x78, 's64'], [0x77, 'u64'], [0x76, 'f32'], [0x75, 'f64'], [0x74, 'char'], [0x73, 'string'], [0x64, 'error-context']
])

/** Inline primitive value types are shared: only type definitions can be given names. */
const sharedPrims = new Map<PrimitiveKind, PrimT>()
for (const p of primByOpcode.values()) sharedPrims.set(p, Object.freeze({ k: 'prim', p, size: 1, depth: 1 }))

/** One index space scope: a component body, or a component or instance type declaration. */
class Scope {
  readonly parent: Scope | undefined
  readonly depth: number
  readonly types: Ty[] = []
  readonly funcs: FuncT[] = []
  readonly instances: InstT[] = []
  readonly components: CompT[] = []
  readonly imports = new Map<string, Entity>()
  readonly exports = new Map<string, Entity>()

  constructor (parent: Scope | undefined) {
    this.parent = parent
    this.depth = parent === undefined ? 0 : parent.depth + 1
  }
}

const sectionNames = ['custom', 'core module', 'core instance', 'core type', 'component', 'instance', 'alias', 'type', 'canon', 'start', 'import', 'export', 'value']

/** The decoded top level of a component: its imports and exports in binary order. */
export interface ComponentTypes {
  readonly imports: ReadonlyMap<string, Entity>
  readonly exports: ReadonlyMap<string, Entity>
}

export class ComponentDecoder {
  private readonly limits: DecodeLimits
  private built = 0
  private nextResource = 0

  constructor (limits: DecodeLimits) {
    this.limits = limits
  }

  decode (bytes: Uint8Array): ComponentTypes {
    const r = new Reader(bytes)
    const scope = new Scope(undefined)
    this.preamble(r)
    this.body(r, scope)
    return { imports: scope.imports, exports: scope.exports }
  }

  private limit (reason: string, at: number): never {
    throw new ComponentDecodeError('limit-exceeded', reason, at)
  }

  private unsupported (reason: string, at: number): never {
    throw new ComponentDecodeError('unsupported-component', reason, at)
  }

  private take (at: number): void {
    if (++this.built > this.limits.maxTypes) this.limit(`more than ${this.limits.maxTypes} type nodes (maxTypes)`, at)
  }

  private preamble (r: Reader): void {
    const at = r.pos
    if (r.remaining < 8) r.fail('too short to be a WebAssembly component', at)
    const b = r.bytes
    const p = r.pos
    if (b[p] !== 0x00 || b[p + 1] !== 0x61 || b[p + 2] !== 0x73 || b[p + 3] !== 0x6d) r.fail('not a WebAssembly binary (bad magic)', at)
    if (b[p + 6] === 0x00 && b[p + 7] === 0x00) r.fail('a core WebAssembly module, not a component', at)
    if (b[p + 6] !== 0x01 || b[p + 7] !== 0x00) r.fail('unknown WebAssembly layer', at + 6)
    if (b[p + 4] !== 0x0d || b[p + 5] !== 0x00) this.unsupported(`component binary version 0x${(b[p + 4] | (b[p + 5] << 8)).toString(16)}; only 0xd is supported`, at + 4)
    r.pos += 8
  }

  private enter (parent: Scope, at: number): Scope {
    const scope = new Scope(parent)
    if (scope.depth > this.limits.maxDepth) this.limit(`components and type declarations nest deeper than ${this.limits.maxDepth} (maxDepth)`, at)
    return scope
  }

  private body (r: Reader, scope: Scope): void {
    while (r.remaining > 0) {
      const at = r.pos
      const id = r.u8()
      const s = r.sub(r.u32())
      switch (id) {
        case 0: case 1: case 2: case 3: case 9: case 12:
          // Core items, start functions and values carry no WIT types.
          continue
        case 4: {
          const inner = this.enter(scope, at)
          this.preamble(s)
          this.body(s, inner)
          scope.components.push(this.component(inner.imports, inner.exports))
          break
        }
        case 5: for (let n = s.count('instance'); n > 0; n--) this.instance(s, scope); break
        case 6: for (let n = s.count('alias'); n > 0; n--) this.alias(s, scope); break
        case 7: for (let n = s.count('type'); n > 0; n--) scope.types.push(this.defType(s, scope)); break
        case 8: for (let n = s.count('canon'); n > 0; n--) this.canon(s, scope); break
        case 10: for (let n = s.count('import'); n > 0; n--) this.importDecl(s, scope); break
        case 11: for (let n = s.count('export'); n > 0; n--) this.exportDef(s, scope); break
        default: r.fail(`unknown section id ${id}`, at)
      }
      s.done(`the ${sectionNames[id]} section`)
    }
  }

  private component (imports: ReadonlyMap<string, Entity>, exports: ReadonlyMap<string, Entity>): CompT {
    return { k: 'component', imports, exports, size: 1, depth: 1 + Math.max(maxDepthOf(imports), maxDepthOf(exports)) }
  }

  private instanceT (exports: ReadonlyMap<string, Entity>): InstT {
    return { k: 'instance', exports, size: 1, depth: 1 + maxDepthOf(exports) }
  }

  private pick<T> (r: Reader, space: readonly T[], idx: number, what: string, at: number): T {
    if (idx >= space.length) r.fail(`${what} index ${idx} is out of range (${space.length} defined)`, at)
    return space[idx]
  }

  private sort (r: Reader): Sort {
    const at = r.pos
    const b = r.u8()
    switch (b) {
      case 0x00: {
        const core = r.u8()
        if (![0x00, 0x01, 0x02, 0x03, 0x04, 0x10, 0x11, 0x12].includes(core)) r.fail(`unknown core sort 0x${core.toString(16)}`, at + 1)
        return 'core'
      }
      case 0x01: return 'func'
      case 0x02: return 'value'
      case 0x03: return 'type'
      case 0x04: return 'component'
      case 0x05: return 'instance'
      default: return r.fail(`unknown sort 0x${b.toString(16)}`, at)
    }
  }

  private entityAt (r: Reader, scope: Scope, sort: Sort, idx: number, at: number): Entity {
    switch (sort) {
      case 'func': return { sort, t: this.pick(r, scope.funcs, idx, 'function', at) }
      case 'type': return { sort, t: this.pick(r, scope.types, idx, 'type', at) }
      case 'instance': return { sort, t: this.pick(r, scope.instances, idx, 'instance', at) }
      case 'component': return { sort, t: this.pick(r, scope.components, idx, 'component', at) }
      default: return { sort }
    }
  }

  private add (scope: Scope, e: Entity): void {
    switch (e.sort) {
      case 'func': scope.funcs.push(e.t); break
      case 'type': scope.types.push(e.t); break
      case 'instance': scope.instances.push(e.t); break
      case 'component': scope.components.push(e.t); break
    }
  }

  private externName (r: Reader): string {
    const at = r.pos
    const tag = r.u8()
    // 0x01 marked interface names in older binaries; the name's syntax says the same today.
    if (tag !== 0x00 && tag !== 0x01) r.fail(`unknown import or export name kind 0x${tag.toString(16)}`, at)
    return r.name()
  }

  private label (r: Reader, seen: Set<string>, what: string): string {
    const at = r.pos
    const name = r.name()
    const problem = identifierProblem(name)
    if (problem !== undefined) r.fail(`${what} name \`${name}\` is not a valid label: ${problem}`, at)
    const lower = name.toLowerCase()
    if (seen.has(lower)) r.fail(`duplicate ${what} name \`${name}\``, at)
    seen.add(lower)
    return name
  }

  private valType (r: Reader, scope: Scope): ValT {
    const at = r.pos
    const p = primByOpcode.get(r.peek())
    if (p !== undefined) {
      r.pos++
      return sharedPrims.get(p) as PrimT
    }
    const t = this.pick(r, scope.types, r.s33Index(), 'type', at)
    if (!isValT(t)) r.fail(`type index refers to a ${t.k} type where a value type is expected`, at)
    return t
  }

  private optValType (r: Reader, scope: Scope): ValT | null {
    const at = r.pos
    const tag = r.u8()
    if (tag === 0x00) return null
    if (tag === 0x01) return this.valType(r, scope)
    return r.fail(`expected 0x00 or 0x01 before an optional type, got 0x${tag.toString(16)}`, at)
  }

  private resource (r: Reader, at: number): ResT {
    return this.made({ k: 'resource', id: this.nextResource++, size: 1, depth: 1 }, at)
  }

  /** Records a new value or function type after checking it against the limits. */
  private made<T extends Ty> (t: T, at: number): T {
    this.take(at)
    // Instance and component types are checked through their scopes' nesting instead.
    if (isValT(t) && t.depth > this.limits.maxDepth) this.limit(`a value type nests deeper than ${this.limits.maxDepth} (maxDepth)`, at)
    if ((isValT(t) || t.k === 'func') && t.size > this.limits.maxTypeSize) this.limit(`a type expands to more than ${this.limits.maxTypeSize} nodes (maxTypeSize)`, at)
    return t
  }

  private val (k: ValT['k'], children: ReadonlyArray<ValT | null>, rest: object, at: number): ValT {
    let size = 1
    let depth = 0
    for (const c of children) {
      if (c === null) continue
      size += c.size
      if (c.depth > depth) depth = c.depth
    }
    return this.made({ k, ...rest, size, depth: depth + 1 } as ValT, at)
  }

  private defType (r: Reader, scope: Scope): Ty {
    const at = r.pos
    const op = r.u8()
    switch (op) {
      case 0x40: case 0x43: return this.funcType(r, scope, op === 0x43, at)
      case 0x41: return this.componentType(r, scope, at)
      case 0x42: return this.instanceType(r, scope, at)
      case 0x3f: case 0x3e: {
        if (r.u8() !== 0x7f) r.fail('a resource representation must be i32', r.pos - 1)
        if (op === 0x3e) {
          r.u32()
          if (this.optTag(r) === 1) r.u32()
        } else if (this.optTag(r) === 1) {
          r.u32()
        }
        return this.resource(r, at)
      }
      default: return this.defValType(r, scope, op, at)
    }
  }

  private optTag (r: Reader): 0 | 1 {
    const at = r.pos
    const tag = r.u8()
    if (tag !== 0x00 && tag !== 0x01) r.fail(`expected 0x00 or 0x01, got 0x${tag.toString(16)}`, at)
    return tag
  }

  private defValType (r: Reader, scope: Scope, op: number, at: number): ValT {
    const prim = primByOpcode.get(op)
    // A defined primitive is its own object, so that `type a = u64` and `type b = u64` stay apart.
    if (prim !== undefined) return this.made({ k: 'prim', p: prim, size: 1, depth: 1 }, at)
    switch (op) {
      case 0x72: {
        const seen = new Set<string>()
        const fields: Array<readonly [string, ValT]> = []
        for (let n = this.nonEmpty(r, 'record field', at); n > 0; n--) fields.push([this.label(r, seen, 'field'), this.valType(r, scope)])
        return this.val('record', fields.map(f => f[1]), { fields }, at)
      }
      case 0x71: {
        const seen = new Set<string>()
        const cases: Array<readonly [string, ValT | null]> = []
        for (let n = this.nonEmpty(r, 'variant case', at); n > 0; n--) {
          const name = this.label(r, seen, 'case')
          const type = this.optValType(r, scope)
          if (this.optTag(r) === 1) r.u32() // `refines`, from early drafts
          cases.push([name, type])
        }
        return this.val('variant', cases.map(c => c[1]), { cases }, at)
      }
      case 0x70: {
        const el = this.valType(r, scope)
        return this.val('list', [el], { el }, at)
      }
      case 0x67: {
        const el = this.valType(r, scope)
        const lenAt = r.pos
        const len = r.u32()
        if (len === 0) r.fail('a fixed-size list must have a length of at least 1', lenAt)
        return this.val('list', [el], { el, len }, at)
      }
      case 0x6f: {
        const els: ValT[] = []
        for (let n = this.nonEmpty(r, 'tuple element', at); n > 0; n--) els.push(this.valType(r, scope))
        return this.val('tuple', els, { els }, at)
      }
      case 0x6e: case 0x6d: {
        const seen = new Set<string>()
        const names: string[] = []
        const what = op === 0x6e ? 'flag' : 'enum case'
        for (let n = this.nonEmpty(r, what, at); n > 0; n--) names.push(this.label(r, seen, what))
        return this.val(op === 0x6e ? 'flags' : 'enum', [], { names }, at)
      }
      case 0x6b: {
        const some = this.valType(r, scope)
        return this.val('option', [some], { some }, at)
      }
      case 0x6a: {
        const ok = this.optValType(r, scope)
        const err = this.optValType(r, scope)
        return this.val('result', [ok, err], { ok, err }, at)
      }
      case 0x69: case 0x68: {
        const idxAt = r.pos
        const res = this.pick(r, scope.types, r.u32(), 'type', idxAt)
        if (res.k !== 'resource') r.fail(`${op === 0x69 ? 'own' : 'borrow'} handle of a ${res.k} type, not a resource`, idxAt)
        return this.val(op === 0x69 ? 'own' : 'borrow', [], { res }, at)
      }
      case 0x66: case 0x65: {
        const el = this.optValType(r, scope)
        return this.val(op === 0x66 ? 'stream' : 'future', [el], { el }, at)
      }
      case 0x63: return this.unsupported('`map` types have no WIT model yet', at)
      default: return r.fail(`unknown type opcode 0x${op.toString(16)}`, at)
    }
  }

  private nonEmpty (r: Reader, what: string, at: number): number {
    const n = r.count(what)
    if (n === 0) r.fail(`a type with no ${what}s`, at)
    return n
  }

  private funcType (r: Reader, scope: Scope, async: boolean, at: number): FuncT {
    const seen = new Set<string>()
    const params: Array<readonly [string, ValT]> = []
    for (let n = r.count('parameter'); n > 0; n--) params.push([this.label(r, seen, 'parameter'), this.valType(r, scope)])
    const result = this.resultList(r, scope)
    let size = 1
    let depth = 0
    for (const t of [...params.map(p => p[1]), result]) {
      if (t === null) continue
      size += t.size
      depth = Math.max(depth, t.depth)
    }
    return this.made({ k: 'func', async, params, result, size, depth: depth + 1 }, at)
  }

  private resultList (r: Reader, scope: Scope): ValT | null {
    const at = r.pos
    const tag = r.u8()
    if (tag === 0x00) return this.valType(r, scope)
    if (tag !== 0x01) r.fail(`unknown function result kind 0x${tag.toString(16)}`, at)
    if (r.count('result') !== 0) this.unsupported('functions with named results have no WIT model', at)
    return null
  }

  private declarations (r: Reader, scope: Scope, allowImports: boolean): void {
    for (let n = r.count('declaration'); n > 0; n--) {
      const at = r.pos
      const tag = r.u8()
      switch (tag) {
        case 0x00: this.unsupported('core types inside component or instance types', at); break
        case 0x01: scope.types.push(this.defType(r, scope)); break
        case 0x02: this.alias(r, scope); break
        case 0x03:
          if (!allowImports) r.fail('an import declaration inside an instance type', at)
          this.importDecl(r, scope)
          break
        case 0x04: {
          const nameAt = r.pos
          const name = this.externName(r)
          const e = this.externDesc(r, scope)
          if (scope.exports.has(name)) r.fail(`duplicate export \`${name}\``, nameAt)
          scope.exports.set(name, e)
          this.add(scope, e)
          break
        }
        default: r.fail(`unknown declaration kind 0x${tag.toString(16)}`, at)
      }
    }
  }

  private instanceType (r: Reader, parent: Scope, at: number): InstT {
    const scope = this.enter(parent, at)
    this.declarations(r, scope, false)
    return this.made(this.instanceT(scope.exports), at)
  }

  private componentType (r: Reader, parent: Scope, at: number): CompT {
    const scope = this.enter(parent, at)
    this.declarations(r, scope, true)
    return this.made(this.component(scope.imports, scope.exports), at)
  }

  private importDecl (r: Reader, scope: Scope): void {
    const at = r.pos
    const name = this.externName(r)
    const e = this.externDesc(r, scope)
    if (scope.imports.has(name)) r.fail(`duplicate import \`${name}\``, at)
    scope.imports.set(name, e)
    this.add(scope, e)
  }

  private externDesc (r: Reader, scope: Scope): Entity {
    const at = r.pos
    const tag = r.u8()
    const typeAt = (): { t: Ty, at: number } => {
      const idxAt = r.pos
      return { t: this.pick(r, scope.types, r.u32(), 'type', idxAt), at: idxAt }
    }
    switch (tag) {
      case 0x00:
        if (r.u8() !== 0x11) r.fail('a core extern other than a module', at + 1)
        r.u32()
        return { sort: 'core' }
      case 0x01: {
        const { t, at: idxAt } = typeAt()
        if (t.k !== 'func') r.fail(`a function typed by a ${t.k} type`, idxAt)
        return { sort: 'func', t }
      }
      case 0x02:
        if (this.optTag(r) === 0) r.u32()
        else this.valType(r, scope)
        return { sort: 'value' }
      case 0x03: {
        const bound = r.u8()
        if (bound === 0x00) return { sort: 'type', t: typeAt().t }
        if (bound === 0x01) return { sort: 'type', t: this.resource(r, at) }
        return r.fail(`unknown type bound 0x${bound.toString(16)}`, r.pos - 1)
      }
      case 0x04: {
        const { t, at: idxAt } = typeAt()
        if (t.k !== 'component') r.fail(`a component typed by a ${t.k} type`, idxAt)
        return { sort: 'component', t }
      }
      case 0x05: {
        const { t, at: idxAt } = typeAt()
        if (t.k !== 'instance') r.fail(`an instance typed by a ${t.k} type`, idxAt)
        return { sort: 'instance', t }
      }
      default: return r.fail(`unknown extern kind 0x${tag.toString(16)}`, at)
    }
  }

  private exportDef (r: Reader, scope: Scope): void {
    const at = r.pos
    const name = this.externName(r)
    const sort = this.sort(r)
    const idxAt = r.pos
    let e = this.entityAt(r, scope, sort, r.u32(), idxAt)
    if (this.optTag(r) === 1) {
      const ascribedAt = r.pos
      const ascribed = this.externDesc(r, scope)
      if (ascribed.sort !== e.sort) r.fail(`export \`${name}\` is a ${e.sort} but its type says ${ascribed.sort}`, ascribedAt)
      // The ascribed function type names the exporter's own named types; other sorts keep their identity.
      if (ascribed.sort === 'func') e = ascribed
    }
    if (scope.exports.has(name)) r.fail(`duplicate export \`${name}\``, at)
    scope.exports.set(name, e)
    this.add(scope, e)
  }

  private alias (r: Reader, scope: Scope): void {
    const sort = this.sort(r)
    const at = r.pos
    const target = r.u8()
    switch (target) {
      case 0x00: {
        const instAt = r.pos
        const inst = this.pick(r, scope.instances, r.u32(), 'instance', instAt)
        const name = r.name()
        const e = inst.exports.get(name)
        if (e === undefined) r.fail(`instance has no export \`${name}\``, instAt)
        if (e.sort !== sort) r.fail(`export \`${name}\` is a ${e.sort}, not a ${sort}`, instAt)
        this.add(scope, e)
        return
      }
      case 0x01:
        if (sort !== 'core') r.fail('a core export alias of a component sort', at)
        r.u32()
        r.name()
        return
      case 0x02: {
        const ct = r.u32()
        const idxAt = r.pos
        const idx = r.u32()
        let s: Scope | undefined = scope
        for (let i = 0; i < ct && s !== undefined; i++) s = s.parent
        if (s === undefined) r.fail(`outer alias reaches ${ct} scopes out, past the outermost component`, at)
        if (sort === 'type') this.add(scope, { sort, t: this.pick(r, s.types, idx, 'type', idxAt) })
        else if (sort === 'component') this.add(scope, { sort, t: this.pick(r, s.components, idx, 'component', idxAt) })
        else if (sort !== 'core') r.fail(`an outer alias of a ${sort}`, at)
        return
      }
      default: r.fail(`unknown alias target 0x${target.toString(16)}`, at)
    }
  }

  private instance (r: Reader, scope: Scope): void {
    const at = r.pos
    const tag = r.u8()
    if (tag === 0x00) {
      const compAt = r.pos
      const comp = this.pick(r, scope.components, r.u32(), 'component', compAt)
      const args = new Map<string, Entity>()
      for (let n = r.count('instantiation argument'); n > 0; n--) {
        const name = r.name()
        const sort = this.sort(r)
        const idxAt = r.pos
        args.set(name, this.entityAt(r, scope, sort, r.u32(), idxAt))
      }
      scope.instances.push(this.instantiate(comp, args, at))
    } else if (tag === 0x01) {
      const exports = new Map<string, Entity>()
      for (let n = r.count('instance export'); n > 0; n--) {
        const nameAt = r.pos
        const name = this.externName(r)
        const sort = this.sort(r)
        const idxAt = r.pos
        if (exports.has(name)) r.fail(`duplicate instance export \`${name}\``, nameAt)
        exports.set(name, this.entityAt(r, scope, sort, r.u32(), idxAt))
      }
      scope.instances.push(this.made(this.instanceT(exports), at))
    } else {
      r.fail(`unknown instance kind 0x${tag.toString(16)}`, at)
    }
  }

  /** The instance a component gives when its imported resources are replaced by the arguments' resources. */
  private instantiate (comp: CompT, args: ReadonlyMap<string, Entity>, at: number): InstT {
    const map = new Map<ResT, Ty>()
    for (const [name, imp] of comp.imports) {
      const arg = args.get(name)
      if (arg !== undefined) this.match(imp, arg, map, 0)
    }
    const exports = map.size === 0 ? comp.exports : this.substEntities(comp.exports, map, new Map(), at)
    return this.made(this.instanceT(exports), at)
  }

  private match (imp: Entity, arg: Entity, map: Map<ResT, Ty>, depth: number): void {
    if (depth > this.limits.maxDepth) return
    if (imp.sort === 'type' && arg.sort === 'type' && imp.t.k === 'resource') {
      if (imp.t !== arg.t && !map.has(imp.t)) map.set(imp.t, arg.t)
    } else if (imp.sort === 'instance' && arg.sort === 'instance') {
      for (const [name, e] of imp.t.exports) {
        const a = arg.t.exports.get(name)
        if (a !== undefined) this.match(e, a, map, depth + 1)
      }
    }
  }

  private substEntities (entities: ReadonlyMap<string, Entity>, map: ReadonlyMap<ResT, Ty>, memo: Map<Ty, Ty>, at: number): ReadonlyMap<string, Entity> {
    const out = new Map<string, Entity>()
    let changed = false
    for (const [name, e] of entities) {
      let next: Entity = e
      if (e.sort === 'func') next = { sort: e.sort, t: this.subst(e.t, map, memo, at) as FuncT }
      else if (e.sort === 'type') next = { sort: e.sort, t: this.subst(e.t, map, memo, at) }
      else if (e.sort === 'instance') next = { sort: e.sort, t: this.subst(e.t, map, memo, at) as InstT }
      else if (e.sort === 'component') next = { sort: e.sort, t: this.subst(e.t, map, memo, at) as CompT }
      if ('t' in next && 't' in e && next.t !== e.t) changed = true
      else next = e
      out.set(name, next)
    }
    return changed ? out : entities
  }

  /** `t` with resources replaced as `map` says; unchanged parts are shared, so names stay attached. */
  private subst (t: Ty, map: ReadonlyMap<ResT, Ty>, memo: Map<Ty, Ty>, at: number): Ty {
    const hit = memo.get(t)
    if (hit !== undefined) return hit
    this.take(at)
    const v = (x: ValT): ValT => this.subst(x, map, memo, at) as ValT
    const vn = (x: ValT | null): ValT | null => (x === null ? null : v(x))
    let out: Ty = t
    switch (t.k) {
      case 'prim': case 'flags': case 'enum':
        break
      case 'resource':
        out = map.get(t) ?? t
        break
      case 'own': case 'borrow': {
        const to = map.get(t.res)
        if (to !== undefined && to.k === 'resource') out = this.val(t.k, [], { res: to }, at)
        break
      }
      case 'record': {
        const fields = t.fields.map(([n, f]) => [n, v(f)] as const)
        if (fields.some(([, f], i) => f !== t.fields[i][1])) out = this.val('record', fields.map(f => f[1]), { fields }, at)
        break
      }
      case 'variant': {
        const cases = t.cases.map(([n, c]) => [n, vn(c)] as const)
        if (cases.some(([, c], i) => c !== t.cases[i][1])) out = this.val('variant', cases.map(c => c[1]), { cases }, at)
        break
      }
      case 'list': {
        const el = v(t.el)
        if (el !== t.el) out = this.val('list', [el], t.len !== undefined ? { el, len: t.len } : { el }, at)
        break
      }
      case 'tuple': {
        const els = t.els.map(v)
        if (els.some((e, i) => e !== t.els[i])) out = this.val('tuple', els, { els }, at)
        break
      }
      case 'option': {
        const some = v(t.some)
        if (some !== t.some) out = this.val('option', [some], { some }, at)
        break
      }
      case 'result': {
        const ok = vn(t.ok)
        const err = vn(t.err)
        if (ok !== t.ok || err !== t.err) out = this.val('result', [ok, err], { ok, err }, at)
        break
      }
      case 'future': case 'stream': {
        const el = vn(t.el)
        if (el !== t.el) out = this.val(t.k, [el], { el }, at)
        break
      }
      case 'func': {
        const params = t.params.map(([n, p]) => [n, v(p)] as const)
        const result = vn(t.result)
        if (result !== t.result || params.some(([, p], i) => p !== t.params[i][1])) out = { ...t, params, result }
        break
      }
      case 'instance': {
        const exports = this.substEntities(t.exports, map, memo, at)
        if (exports !== t.exports) out = this.instanceT(exports)
        break
      }
      case 'component': {
        const imports = this.substEntities(t.imports, map, memo, at)
        const exports = this.substEntities(t.exports, map, memo, at)
        if (imports !== t.imports || exports !== t.exports) out = this.component(imports, exports)
        break
      }
    }
    memo.set(t, out)
    return out
  }

  private canon (r: Reader, scope: Scope): void {
    const at = r.pos
    const op = r.u8()
    const expect0 = (what: string): void => {
      if (r.u8() !== 0x00) r.fail(`malformed canon ${what}`, r.pos - 1)
    }
    switch (op) {
      case 0x00: {
        expect0('lift')
        r.u32()
        this.canonOpts(r)
        const idxAt = r.pos
        const t = this.pick(r, scope.types, r.u32(), 'type', idxAt)
        if (t.k !== 'func') r.fail(`canon lift with a ${t.k} type`, idxAt)
        scope.funcs.push(t)
        return
      }
      case 0x01: expect0('lower'); r.u32(); this.canonOpts(r); return
      // The rest define core functions only; they are read to find where the next one starts.
      case 0x02: case 0x03: case 0x04: case 0x07: case 0x0e: case 0x13: case 0x14: case 0x15: case 0x1a: case 0x1b: case 0x40:
        r.u32(); return
      case 0x05: case 0x08: case 0x0d: case 0x1e: case 0x1f: case 0x22: case 0x23: case 0x24: case 0x25: case 0x26: case 0x2a: case 0x42:
        return
      case 0x06: case 0x0c: case 0x28: case 0x29: case 0x2b:
        r.u8(); return
      case 0x09: this.resultList(r, scope); this.canonOpts(r); return
      case 0x0a: case 0x0b:
        if (r.u8() !== 0x7f) r.fail('context.get/set of a type other than i32', r.pos - 1)
        r.u32()
        return
      case 0x0f: case 0x10: case 0x16: case 0x17: r.u32(); this.canonOpts(r); return
      case 0x11: case 0x12: case 0x18: case 0x19: r.u32(); r.u8(); return
      case 0x1c: case 0x1d: this.canonOpts(r); return
      case 0x20: case 0x21: r.u8(); r.u32(); return
      case 0x27: case 0x41: r.u32(); r.u32(); return
      default: this.unsupported(`unknown canonical function 0x${op.toString(16)}`, at)
    }
  }

  private canonOpts (r: Reader): void {
    for (let n = r.count('canonical option'); n > 0; n--) {
      const at = r.pos
      const op = r.u8()
      if (op === 0x03 || op === 0x04 || op === 0x05 || op === 0x07 || op === 0x08) r.u32()
      else if (op > 0x09) r.fail(`unknown canonical option 0x${op.toString(16)}`, at)
    }
  }
}

function isValT (t: Ty): t is ValT {
  return t.k !== 'resource' && t.k !== 'func' && t.k !== 'instance' && t.k !== 'component'
}

function maxDepthOf (entities: ReadonlyMap<string, Entity>): number {
  let depth = 0
  for (const e of entities.values()) if ('t' in e && e.t.depth > depth) depth = e.t.depth
  return depth
}
