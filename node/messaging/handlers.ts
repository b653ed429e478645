// The local exporters of wasmcloud:messaging/handler: every loaded component (two on one node both count, unlike
// the services table, which routes an interface to one of them) and every native service.

import { unversioned } from '../../protocol/versions.ts'
import type { LocalService, ServiceCallContext } from '../api.ts'
import type { Runtime } from '../runtime/index.ts'

/** One local exporter of the handler interface. */
export interface LocalHandler {
  /** Its digest: deliveries to it are queued under this key. */
  readonly key: string
  readonly name: string
  handle (msg: unknown, caller: string): Promise<unknown[]>
}

export interface HandlerSources {
  readonly self: string
  readonly runtime: Pick<Runtime, 'components' | 'call'>
  readonly services: () => LocalService[]
  readonly callLocal: (service: LocalService, iface: string, func: string, params: unknown[], ctx: ServiceCallContext) => Promise<unknown[]>
}

/** Lists the exporters of `handlerIface` (any compatible version) on this node now. */
export function localHandlers (src: HandlerSources, handlerIface: string): LocalHandler[] {
  const wanted = unversioned(handlerIface)
  const out: LocalHandler[] = []
  const components = new Set<string>()
  for (const c of src.runtime.components()) {
    components.add(c.id)
    const iface = c.exports.interfaces.find(i => unversioned(i.id) === wanted)
    if (iface === undefined) continue
    out.push({
      key: c.id,
      name: c.name,
      // the publisher's peer id is the caller: its messages count against its share of the instances
      handle: async (msg, caller) => await src.runtime.call(c.id, iface.id, 'handle-message', [msg], caller === src.self ? {} : { caller })
    })
  }
  for (const s of src.services()) {
    if (components.has(s.digest)) continue
    const iface = s.interfaces.find(i => unversioned(i.id) === wanted)
    if (iface === undefined) continue
    out.push({ key: s.digest, name: s.name, handle: async (msg, caller) => await src.callLocal(s, iface.id, 'handle-message', [msg], { caller }) })
  }
  return out
}
