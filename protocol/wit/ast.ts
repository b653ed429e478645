// Syntax tree of one WIT file, as the parser reads it and before any name is resolved.

import type { Source } from './lexer.ts'
import type { PrimitiveKind } from './model.ts'

/** A name with the offset it was written at, for error locations. */
export interface Ident { readonly name: string, readonly at: number }

export interface PackageNameAst {
  readonly namespace: Ident
  readonly name: Ident
  readonly version?: string
  readonly at: number
}

export interface GateAst {
  readonly kind: 'since' | 'unstable' | 'deprecated'
  readonly version?: string
  readonly feature?: string
  readonly at: number
}

/** `iface` (a name in the package or a top-level `use`) or `ns:pkg/iface@ver`. */
export type UsePathAst =
  | { readonly kind: 'local', readonly name: Ident, readonly at: number }
  | { readonly kind: 'package', readonly pkg: PackageNameAst, readonly name: Ident, readonly at: number }

export interface UseNameAst { readonly name: Ident, readonly as?: Ident }

export interface UseAst {
  readonly kind: 'use'
  readonly path: UsePathAst
  readonly names: readonly UseNameAst[]
  readonly gates: readonly GateAst[]
  readonly at: number
}

export type TypeAst =
  | { readonly kind: 'primitive', readonly name: PrimitiveKind, readonly at: number }
  | { readonly kind: 'name', readonly name: Ident, readonly at: number }
  | { readonly kind: 'list', readonly element: TypeAst, readonly length?: number, readonly at: number }
  | { readonly kind: 'option', readonly some: TypeAst, readonly at: number }
  | { readonly kind: 'result', readonly ok: TypeAst | null, readonly err: TypeAst | null, readonly at: number }
  | { readonly kind: 'tuple', readonly elements: readonly TypeAst[], readonly at: number }
  | { readonly kind: 'handle', readonly handle: 'own' | 'borrow', readonly resource: Ident, readonly at: number }
  | { readonly kind: 'future' | 'stream', readonly element: TypeAst | null, readonly at: number }

export interface Documented {
  readonly docs?: string
  readonly gates: readonly GateAst[]
}

export interface FieldAst { readonly name: Ident, readonly type: TypeAst, readonly docs?: string }
export interface CaseAst { readonly name: Ident, readonly type: TypeAst | null, readonly docs?: string }
export interface NameOnlyAst { readonly name: Ident, readonly docs?: string }

export interface ParamAst { readonly name: Ident, readonly type: TypeAst }

export interface FuncAst {
  readonly async: boolean
  readonly params: readonly ParamAst[]
  readonly result: TypeAst | null
  readonly at: number
}

export interface NamedFuncAst extends Documented { readonly name: Ident, readonly func: FuncAst }

export interface ResourceFuncAst extends Documented {
  readonly kind: 'constructor' | 'method' | 'static'
  /** `constructor` for constructors. */
  readonly name: Ident
  readonly func: FuncAst
}

export type TypeDefAst = Documented & { readonly name: Ident } & (
  | { readonly kind: 'alias', readonly type: TypeAst }
  | { readonly kind: 'record', readonly fields: readonly FieldAst[] }
  | { readonly kind: 'variant', readonly cases: readonly CaseAst[] }
  | { readonly kind: 'enum', readonly cases: readonly NameOnlyAst[] }
  | { readonly kind: 'flags', readonly flags: readonly NameOnlyAst[] }
  | { readonly kind: 'resource', readonly funcs: readonly ResourceFuncAst[] }
)

export type InterfaceItemAst =
  | { readonly kind: 'type', readonly def: TypeDefAst }
  | { readonly kind: 'func', readonly func: NamedFuncAst }
  | UseAst

export interface InterfaceAst extends Documented {
  readonly name: Ident
  readonly items: readonly InterfaceItemAst[]
}

export type ExternAst =
  | { readonly kind: 'path', readonly path: UsePathAst }
  | { readonly kind: 'func', readonly name: Ident, readonly func: FuncAst }
  | { readonly kind: 'interface', readonly name: Ident, readonly items: readonly InterfaceItemAst[] }

export type WorldItemAst =
  | (Documented & { readonly kind: 'import' | 'export', readonly extern: ExternAst, readonly at: number })
  | UseAst
  | { readonly kind: 'type', readonly def: TypeDefAst }
  | { readonly kind: 'include', readonly path: UsePathAst, readonly with: ReadonlyArray<{ readonly name: Ident, readonly as: Ident }>, readonly gates: readonly GateAst[], readonly at: number }

export interface WorldAst extends Documented {
  readonly name: Ident
  readonly items: readonly WorldItemAst[]
}

/** A top-level `use ns:pkg/iface@ver as name;`: a file-local name for an interface or world. */
export interface TopUseAst {
  readonly path: UsePathAst
  readonly as?: Ident
  readonly gates: readonly GateAst[]
  readonly at: number
}

/** The items of one package scope: a file's top level, or one `package x:y { ... }` block. */
export interface DeclListAst {
  readonly src: Source
  /** The `package` header of the file or block, if any. */
  readonly package?: PackageNameAst
  readonly interfaces: readonly InterfaceAst[]
  readonly worlds: readonly WorldAst[]
  readonly uses: readonly TopUseAst[]
  /** Docs on the `package` header. */
  readonly docs?: string
}

export interface FileAst {
  readonly src: Source
  /** Top-level items; its `package` is the file's `package x:y;` header when present. */
  readonly top: DeclListAst
  /** `package x:y@v { ... }` blocks, each its own package. */
  readonly nested: readonly DeclListAst[]
}
