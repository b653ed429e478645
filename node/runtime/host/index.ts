// The host interfaces a node serves to its own components, in the runtime, never through the mesh: logging, config, secrets, link names.

import { unversioned, versionOf } from '../../../protocol/versions.ts'
import { createConfigStore } from './config.ts'
import { createLogging, type HostLogger } from './logging.ts'
import { createInstanceBus } from './bus.ts'
import { createInstanceSecrets, type SecretSource } from './secrets.ts'
import type { HostLimits } from './limits.ts'
import { BLOBSTORE_IO_IFACE, createInstanceBlobstore, WRPC_BLOBSTORE } from './blobstore.ts'

export { defaultHostLimits } from './limits.ts'
export type { HostLimits } from './limits.ts'
export { redact } from './logging.ts'
export type { HostLogger } from './logging.ts'
export type { SecretSource } from './secrets.ts'
export { httpGrantProblem, matchesHttpGrant } from './http-grants.ts'
export { WRPC_BLOBSTORE } from './blobstore.ts'

/** Interfaces (unversioned) the node serves itself; `wasi:http` and the rest of WASI are the sandbox's. */
const hostInterfaces: ReadonlySet<string> = new Set([
  'wasi:logging/logging',
  'wasi:config/store',
  'wasi:config/runtime',
  'wasmcloud:bus/lattice',
  'wasmcloud:secrets/store',
  'wasmcloud:secrets/reveal',
  'wasi:blobstore/blobstore',
  'wasi:blobstore/container',
  'wasi:blobstore/types'
])

/** Whether the node serves this import itself (`wasmesh inspect` lists it as served by the node). */
export function isHostInterface (iface: string): boolean {
  return hostInterfaces.has(unversioned(iface))
}

export interface ComponentHostInit {
  readonly name: string
  readonly logger: HostLogger
  readonly limits: HostLimits
  /** `wasi:config` values: key -> value. */
  readonly config?: Readonly<Record<string, string>>
  /** `wasmcloud:secrets`: key -> reference (`env:NAME`, `file:/path`), read by `source` when asked for. */
  readonly secrets?: Readonly<Record<string, string>>
  readonly secretSource?: SecretSource
  /**
   * A mesh call on behalf of the component (`wasi:blobstore` becomes `wrpc:blobstore` calls): routed by the links of
   * `linkIface` with the link name `linkName`, as an import of that interface would be.
   */
  readonly call?: (iface: string, func: string, params: unknown[], linkIface: string, linkName: string | undefined) => Promise<unknown[]>
}

/** What one instance's imports of host interfaces reach; its link names and handles are its own. */
export interface InstanceHost {
  /** Serves the import, or returns undefined when it is not a host interface (it goes to the mesh). */
  serve (iface: string, func: string, params: unknown[]): Promise<unknown[]> | undefined
  /** The link name an import of `iface` goes through; undefined for `default`. */
  linkName (iface: string): string | undefined
}

export interface ComponentHost {
  instance (): InstanceHost
  /** Values revealed to the component (its stdout, stderr and log lines are redacted of them). */
  readonly revealed: ReadonlySet<string>
}

/** The host of one component: its config, its secrets, one log rate shared by its instances. */
export function createComponentHost (init: ComponentHostInit): ComponentHost {
  const revealed = new Set<string>()
  const logging = createLogging({
    name: init.name,
    logger: init.logger,
    maxLogMessageBytes: init.limits.maxLogMessageBytes,
    maxLogLinesPerSecond: init.limits.maxLogLinesPerSecond,
    redacted: () => revealed
  })
  const config = createConfigStore(init.config ?? {})
  return {
    revealed,
    instance () {
      const bus = createInstanceBus(init.limits.maxLinkNameTargets)
      const secrets = createInstanceSecrets({ refs: init.secrets ?? {}, source: init.secretSource, maxSecretHandles: init.limits.maxSecretHandles, revealed })
      const call = init.call
      const blobstore = createInstanceBlobstore({
        limits: init.limits,
        link: iface => ({ iface, name: bus.linkName(iface) }),
        call: async (link, func, params) => {
          if (call === undefined) throw new Error('this runtime has no mesh to reach a blobstore through')
          return await call(WRPC_BLOBSTORE, func, params, link.iface, link.name)
        }
      })
      return {
        linkName: iface => bus.linkName(iface),
        serve (iface, func, params) {
          if (iface === BLOBSTORE_IO_IFACE) return blobstore.io(func, params)
          const name = unversioned(iface)
          if (!hostInterfaces.has(name)) return undefined
          if (name.startsWith('wasi:blobstore/')) return blobstore.serve(iface, func, params)
          try {
            switch (`${name}#${func}`) {
              case 'wasi:logging/logging#log': logging.log(params[0], params[1], params[2]); return Promise.resolve([])
              case 'wasi:config/store#get':
              case 'wasi:config/runtime#get': return Promise.resolve(config.get(params[0]))
              case 'wasi:config/store#get-all':
              case 'wasi:config/runtime#get-all': return Promise.resolve(config.getAll())
              case 'wasmcloud:bus/lattice#[constructor]call-target-interface': return Promise.resolve(bus.construct(params[0], params[1], params[2]))
              case 'wasmcloud:bus/lattice#set-link-name': return Promise.resolve(bus.setLinkName(versionOf(iface), params[0], params[1]))
              case 'wasmcloud:bus/lattice#[resource-drop]call-target-interface': bus.drop(params[0]); return Promise.resolve([])
              case 'wasmcloud:secrets/store#get': return secrets.get(params[0])
              case 'wasmcloud:secrets/store#[resource-drop]secret': secrets.drop(params[0]); return Promise.resolve([])
              case 'wasmcloud:secrets/reveal#reveal': return Promise.resolve(secrets.reveal(params[0]))
            }
          } catch (err) {
            return Promise.reject(err)
          }
          return Promise.reject(new Error(`${iface} has no function ${func} (this node serves ${name} as its WIT defines it)`))
        }
      }
    }
  }
}
