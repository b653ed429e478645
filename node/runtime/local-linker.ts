// Links components loaded in one runtime to each other: an import is served by a loaded component that exports it.

import type { Runtime } from './runtime.ts'
import type { ImportResolver } from './runtime.ts'
import { RuntimeError } from './errors.ts'

/** `ns:pkg/iface@1.2.3` -> [`ns:pkg/iface`, `1.2.3`] */
function splitVersion (id: string): [string, string | undefined] {
  const at = id.lastIndexOf('@')
  return at < 0 ? [id, undefined] : [id.slice(0, at), id.slice(at + 1)]
}

/**
 * An ImportResolver over the components of `runtime` (found when the call
 * happens, so load order does not matter), falling back to `fallback`. An
 * import matches an export of the same interface whose version is equal or,
 * as the component model allows, a later one with the same major version.
 */
export function linkLocally (runtime: () => Runtime, fallback?: ImportResolver): ImportResolver {
  return async (iface, func, params) => {
    const [name, version] = splitVersion(iface)
    for (const c of runtime().components()) {
      const match = c.exports.interfaces.find(i => {
        const [n, v] = splitVersion(i.id)
        return n === name && compatible(version, v)
      })
      if (match !== undefined) return await runtime().call(c.id, match.id, func, params)
    }
    if (fallback !== undefined) return await fallback(iface, func, params)
    throw new RuntimeError('unresolved-import', `no loaded component exports ${iface}#${func}`)
  }
}

/** Semver as the component model uses it: same major (or same minor under 0.x), export at least the import. */
export function compatible (wanted: string | undefined, offered: string | undefined): boolean {
  if (wanted === undefined || offered === undefined) return wanted === offered
  if (wanted === offered) return true
  const parse = (v: string): number[] | undefined => {
    const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v)
    return m === null ? undefined : [Number(m[1]), Number(m[2]), Number(m[3])]
  }
  const w = parse(wanted)
  const o = parse(offered)
  if (w === undefined || o === undefined) return false
  if (w[0] !== o[0]) return false
  if (w[0] === 0 && w[1] !== o[1]) return false
  for (let i = 0; i < 3; i++) if (o[i] !== w[i]) return o[i] > w[i]
  return true
}
