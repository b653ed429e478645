// wasmcloud:bus/lattice (1.0.0, 2.0.x): the link name an instance's imports of some interfaces go through, chosen at run time.

import { unversioned } from '../../../protocol/versions.ts'

export interface InstanceBus {
  construct (namespace: unknown, pkg: unknown, iface: unknown): unknown[]
  /** `version` is the imported `wasmcloud:bus` version: 2.x answers `result<_, string>`, 1.0.0 nothing. */
  setLinkName (version: string | undefined, name: unknown, targets: unknown): unknown[]
  drop (handle: unknown): void
  /** The link name of an import (`ns:pkg/iface@ver`), undefined for `default`. */
  linkName (iface: string): string | undefined
}

const WIT_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/
/** A link name as wasmCloud's wash accepts them: a short identifier. */
const LINK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

const hex = (b: Uint8Array): string => Array.from(b, x => x.toString(16).padStart(2, '0')).join('')

export function createInstanceBus (maxTargets: number): InstanceBus {
  /** call-target-interface handles -> `ns:pkg/iface`. */
  const targets = new Map<string, string>()
  /** `ns:pkg/iface` -> link name. */
  const names = new Map<string, string>()

  const fail = (version: string | undefined, message: string): unknown[] => {
    if (version?.startsWith('2.') === true) return [{ tag: 'err', val: message }]
    // 1.0.0 cannot answer an error: the call fails (a trap, the instance replaced), the choice left as it was.
    throw new Error(`wasmcloud:bus/lattice#set-link-name: ${message}`)
  }

  return {
    construct (namespace, pkg, iface) {
      for (const part of [namespace, pkg, iface]) {
        if (typeof part !== 'string' || !WIT_NAME.test(part)) throw new Error(`wasmcloud:bus/lattice: ${JSON.stringify(String(part)).slice(0, 80)} is not a WIT name`)
      }
      if (targets.size >= maxTargets) throw new Error(`wasmcloud:bus/lattice: more than ${maxTargets} call-target-interface handles (maxLinkNameTargets)`)
      const handle = crypto.getRandomValues(new Uint8Array(16))
      targets.set(hex(handle), `${namespace as string}:${pkg as string}/${iface as string}`)
      return [handle]
    },
    setLinkName (version, name, list) {
      if (!Array.isArray(list)) return fail(version, 'no interfaces given')
      const ids: string[] = []
      for (const h of list) {
        const id = h instanceof Uint8Array ? targets.get(hex(h)) : undefined
        if (id === undefined) return fail(version, 'unknown call-target-interface')
        // own<call-target-interface>: the guest gave them up
        targets.delete(hex(h as Uint8Array))
        ids.push(id)
      }
      if (typeof name !== 'string' || !LINK_NAME.test(name)) return fail(version, `${JSON.stringify(String(name)).slice(0, 80)} is not a link name (1-64 letters, digits, '.', '_', '-')`)
      for (const id of ids) {
        if (!names.has(id) && names.size >= maxTargets) return fail(version, `more than ${maxTargets} interfaces with link names (maxLinkNameTargets)`)
        if (name === 'default') names.delete(id)
        else names.set(id, name)
      }
      return version?.startsWith('2.') === true ? [{ tag: 'ok', val: undefined }] : []
    },
    drop (handle) {
      if (handle instanceof Uint8Array) targets.delete(hex(handle))
    },
    linkName (iface) {
      return names.size === 0 ? undefined : names.get(unversioned(iface))
    }
  }
}
