// Public entry of the WIT front end: parse a set of WIT sources into the resolved model and look things up in it.

import { defaultWitLimits, parseFile } from './parser.ts'
import type { WitLimits } from './parser.ts'
import { Resolver } from './resolver.ts'
import type { Func, Interface, Package, Wit, World, WorldItem } from './model.ts'

export type * from './model.ts'
export { WitSyntaxError, WitResolveError } from './errors.ts'
export type { WitErrorCode, WitLocation } from './errors.ts'
export { defaultWitLimits }
export type { WitLimits }
export { printType, printFunc, printInterface, printWorld, printPackage, printWit } from './print.ts'

/** `ns:pkg/name@1.2.3` -> `ns:pkg/name`; ids without a version are returned unchanged. */
function unversioned (id: string): string {
  const at = id.lastIndexOf('@')
  return at < 0 ? id : id.slice(0, at)
}

function index<T extends { readonly id: string }> (items: Iterable<T>): { exact: Map<string, T>, loose: Map<string, T[]> } {
  const exact = new Map<string, T>()
  const loose = new Map<string, T[]>()
  for (const item of items) {
    exact.set(item.id, item)
    const base = unversioned(item.id)
    const list = loose.get(base) ?? []
    list.push(item)
    loose.set(base, list)
  }
  return { exact, loose }
}

/** Looks up `id` exactly, else by its unversioned form when exactly one version is present. */
function find<T> (idx: { exact: Map<string, T>, loose: Map<string, T[]> }, id: string): T | undefined {
  const hit = idx.exact.get(id)
  if (hit !== undefined) return hit
  if (id !== unversioned(id)) return undefined
  const list = idx.loose.get(id)
  return list?.length === 1 ? list[0] : undefined
}

function findFuncIn (functions: ReadonlyMap<string, Func>, name: string): Func | undefined {
  const f = functions.get(name)
  if (f !== undefined || name.startsWith('[') || !name.includes('.')) return f
  // `res.m` is accepted as a shorthand for `[method]res.m` or `[static]res.m`.
  return functions.get(`[method]${name}`) ?? functions.get(`[static]${name}`)
}

function worldFunctions (items: ReadonlyMap<string, WorldItem>): Map<string, Func> {
  const out = new Map<string, Func>()
  for (const [key, item] of items) if (item.kind === 'function') out.set(key, item.func)
  return out
}

class ResolvedWit implements Wit {
  readonly packages: readonly Package[]
  private readonly ifaces: { exact: Map<string, Interface>, loose: Map<string, Interface[]> }
  private readonly worlds: { exact: Map<string, World>, loose: Map<string, World[]> }

  constructor (packages: readonly Package[]) {
    this.packages = packages
    const all = new Set<Interface>()
    const worlds: World[] = []
    for (const p of packages) for (const i of p.interfaces.values()) all.add(i)
    for (const p of packages) {
      for (const w of p.worlds.values()) {
        worlds.push(w)
        // Inline interfaces of worlds are found by their world-qualified id too.
        for (const item of [...w.imports.values(), ...w.exports.values()]) {
          if (item.kind === 'interface') all.add(item.interface)
        }
      }
    }
    this.ifaces = index(all)
    this.worlds = index(worlds)
  }

  findInterface (id: string): Interface | undefined {
    return find(this.ifaces, id)
  }

  findWorld (id: string): World | undefined {
    return find(this.worlds, id)
  }

  findFunction (iface: string, func: string): Func | undefined {
    const i = this.findInterface(iface)
    if (i !== undefined) return findFuncIn(i.functions, func)
    const w = this.findWorld(iface)
    if (w === undefined) return undefined
    return findFuncIn(worldFunctions(w.exports), func) ?? findFuncIn(worldFunctions(w.imports), func)
  }
}

/**
 * Parses and resolves a set of WIT sources (file name -> text) into one model holding every
 * package of the set. Files may share a package (each repeating its `package` header, or leaving
 * it out when another file in the same folder, or else the only header of the set, names it),
 * hold several packages as `package x:y@v { ... }` blocks, and refer to packages defined later.
 *
 * Lookups by id accept the version left out when exactly one version is present; when several
 * versions are present an unversioned id is ambiguous and finds nothing (undefined).
 *
 * Throws WitSyntaxError (`wit-syntax`) or WitResolveError (`wit-resolve`) with file, line, column.
 */
export function parseWit (files: Readonly<Record<string, string>>, limits: Partial<WitLimits> = {}): Wit {
  const effective: WitLimits = { ...defaultWitLimits, ...limits }
  const asts = Object.entries(files).map(([name, text]) => parseFile(name, text, effective))
  return new ResolvedWit(new Resolver().resolve(asts))
}
