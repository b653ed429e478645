// Lookups over resolved packages: interfaces, worlds and functions by id, the version optional when only one is present;
// a function of an interface by the name a caller sends, `[resource-drop]r` included.

import type { Func, Interface, Package, Wit, World, WorldItem } from './model.ts'
import { unversioned } from '../versions.ts'

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

class IndexedWit implements Wit {
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
 * A function of an interface by its component-model name, including `[resource-drop]r`, which
 * WIT does not declare but every caller of a resource sends when it lets go of a handle.
 */
export function functionOf (iface: Interface | undefined, name: string): Func | undefined {
  if (iface === undefined) return undefined
  const f = iface.functions.get(name)
  if (f !== undefined || !name.startsWith('[resource-drop]')) return f
  const resource = iface.types.get(name.slice('[resource-drop]'.length))
  if (resource?.kind !== 'resource') return undefined
  return { name, kind: 'method', resource: resource.name, async: false, params: [{ name: 'self', type: { kind: 'own', resource } }], results: [] }
}

/** A `Wit` over resolved packages (from the parser or from a component binary), with its lookups. */
export function witFromPackages (packages: readonly Package[]): Wit {
  return new IndexedWit(packages)
}
