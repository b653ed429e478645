// Links components loaded in one runtime to each other: an import is served by a loaded component that exports it.

import type { Runtime } from './runtime.ts'
import type { ImportResolver } from './runtime.ts'
import { RuntimeError } from './errors.ts'
import { interfaceCompatible } from '../../protocol/versions.ts'

/**
 * An ImportResolver over the components of `runtime` (found when the call
 * happens, so load order does not matter), falling back to `fallback`. An
 * import matches an export of the same interface whose version is equal or,
 * as the component model allows, a later compatible one (protocol/versions.ts).
 */
export function linkLocally (runtime: () => Runtime, fallback?: ImportResolver): ImportResolver {
  return async (iface, func, params, from) => {
    for (const c of runtime().components()) {
      const match = c.exports.interfaces.find(i => interfaceCompatible(iface, i.id))
      if (match !== undefined) return await runtime().call(c.id, match.id, func, params)
    }
    if (fallback !== undefined) return await fallback(iface, func, params, from)
    throw new RuntimeError('unresolved-import', `no loaded component exports ${iface}#${func}`)
  }
}
