// The resolved WIT model: what the parser produces and what the value codec, WAVE and the node consume.

/** Primitive value types of the component model. */
export type PrimitiveKind =
  | 'bool'
  | 's8' | 'u8' | 's16' | 'u16' | 's32' | 'u32' | 's64' | 'u64'
  | 'f32' | 'f64'
  | 'char' | 'string'
  | 'error-context'

/**
 * A fully resolved value type. Aliases are resolved away; named definitions
 * (record, variant, enum, flags, resource) keep their `name` and the interface
 * they were declared in (`owner`, `ns:pkg/iface@ver`, or a world) so that
 * errors and printed WIT can name them. WIT forbids recursive types, so a Type
 * is a finite tree (shared subtrees are allowed).
 */
export type Type =
  | PrimitiveType
  | ListType
  | OptionType
  | ResultType
  | TupleType
  | RecordType
  | VariantType
  | EnumType
  | FlagsType
  | HandleType
  | FutureType
  | StreamType

export interface PrimitiveType { readonly kind: PrimitiveKind }

/** `list<T>`, or the fixed-size `list<T, N>` when `length` is set. */
export interface ListType { readonly kind: 'list', readonly element: Type, readonly length?: number }
export interface OptionType { readonly kind: 'option', readonly some: Type }
/** `result`, `result<T>`, `result<_, E>`, `result<T, E>`: a missing side is `null`. */
export interface ResultType { readonly kind: 'result', readonly ok: Type | null, readonly err: Type | null }
export interface TupleType { readonly kind: 'tuple', readonly elements: readonly Type[] }

export interface Named {
  /** The WIT name of the definition (`my-record`). */
  readonly name?: string
  /** Where it was declared: `ns:pkg/iface@ver`, or `ns:pkg/world@ver` for world-level types. */
  readonly owner?: string
  /** Doc comments written on the definition (`///` lines or a doc block), without the comment markers. */
  readonly docs?: string
}

export interface Field { readonly name: string, readonly type: Type }
export interface RecordType extends Named { readonly kind: 'record', readonly fields: readonly Field[] }
export interface Case { readonly name: string, readonly type: Type | null }
export interface VariantType extends Named { readonly kind: 'variant', readonly cases: readonly Case[] }
export interface EnumType extends Named { readonly kind: 'enum', readonly cases: readonly string[] }
export interface FlagsType extends Named { readonly kind: 'flags', readonly flags: readonly string[] }

/** `own<R>` (or a bare resource name) and `borrow<R>`: on the wire an opaque `list<u8>` handle. */
export interface HandleType { readonly kind: 'own' | 'borrow', readonly resource: Resource }
/** `future<T>` / `future`: `element` is null for the unit future. */
export interface FutureType { readonly kind: 'future', readonly element: Type | null }
/** `stream<T>` / `stream`: `element` is null for the unit stream. */
export interface StreamType { readonly kind: 'stream', readonly element: Type | null }

/** A resource declaration with its constructor, methods and static functions. */
export interface Resource extends Named {
  readonly kind: 'resource'
  readonly name: string
  readonly owner: string
  /** Keyed by component-model name: `[constructor]r`, `[method]r.m`, `[static]r.s`. */
  readonly functions: ReadonlyMap<string, Func>
}

export type FuncKind = 'freestanding' | 'constructor' | 'method' | 'static'

export interface Param { readonly name: string, readonly type: Type }

export interface Func {
  /** The component-model name: `f`, `[constructor]r`, `[method]r.m`, `[static]r.s`. */
  readonly name: string
  readonly kind: FuncKind
  /** The resource name for constructors, methods and statics. */
  readonly resource?: string
  readonly async: boolean
  /** Methods take `self: borrow<R>` as their first parameter, as in the component model. */
  readonly params: readonly Param[]
  /** Zero or one result type (constructors return `own<R>`). */
  readonly results: readonly Type[]
  readonly docs?: string
}

/** A named type definition in an interface or world (`type`, record, variant, enum, flags, resource). */
export type TypeDef = Type | Resource

/** `ns:pkg@version` */
export interface PackageName {
  readonly namespace: string
  readonly name: string
  readonly version?: string
}

export interface Interface {
  /** `ns:pkg/name@version`, or the world-qualified name for an inline interface in a world. */
  readonly id: string
  readonly name: string
  readonly package: PackageName
  readonly types: ReadonlyMap<string, TypeDef>
  /** Freestanding functions and every resource's functions, by component-model name. */
  readonly functions: ReadonlyMap<string, Func>
  readonly docs?: string
  /** Type names brought in with `use`: local name -> the interface id it comes from and its name there. */
  readonly uses?: ReadonlyMap<string, UsedName>
}

/** Where a `use`d type name comes from. */
export interface UsedName { readonly from: string, readonly name: string }

export type WorldItem =
  | { readonly kind: 'interface', readonly interface: Interface }
  | { readonly kind: 'function', readonly func: Func }
  | { readonly kind: 'type', readonly type: TypeDef }

export interface World {
  /** `ns:pkg/name@version` */
  readonly id: string
  readonly name: string
  readonly package: PackageName
  /** Keyed by the interface id (`ns:pkg/iface@ver`), or the plain name of a function, type or inline interface. */
  readonly imports: ReadonlyMap<string, WorldItem>
  readonly exports: ReadonlyMap<string, WorldItem>
  readonly docs?: string
  /** World-level type names brought in with `use`: local name -> the interface id and its name there. */
  readonly uses?: ReadonlyMap<string, UsedName>
}

export interface Package {
  readonly name: PackageName
  readonly interfaces: ReadonlyMap<string, Interface>
  readonly worlds: ReadonlyMap<string, World>
}

/** Everything resolved from a set of WIT sources. */
export interface Wit {
  readonly packages: readonly Package[]
  /** `ns:pkg/iface@ver`; the version may be left out when only one version is present. */
  findInterface(id: string): Interface | undefined
  findWorld(id: string): World | undefined
  /** Finds `[method]res.name`, `[constructor]res`, `[static]res.name` or a freestanding function. */
  findFunction(iface: string, func: string): Func | undefined
}
