// What this node serves: the table of local services by interface id (several components per interface), the pick among them, version look-ups, the router's local routes and load accounting.

import type { AdvertExport } from '../protocol/advert.ts'
import { functionOf } from '../protocol/wit/index.ts'
import type { Interface } from '../protocol/wit/model.ts'
import type { ComponentSpec, LocalService, ServiceCallContext } from './api.ts'
import type { HandleLedger } from './handles.ts'
import type { Logger } from './logger.ts'
import type { LocalRoute } from './router.ts'
import { defaultRuntimeLimits } from './runtime/index.ts'
import type { LoadedComponent, Runtime, RuntimeLimits } from './runtime/index.ts'
import { funcHandles } from './runtime/values.ts'
import { interfaceCompatible } from '../protocol/versions.ts'
import { NodeError } from './errors.ts'
import { checkLinks } from './links.ts'
import type { Link } from './links.ts'
import type { ComponentGate } from './security/index.ts'
import { HTTP_HANDLER_IFACE, httpHandlerInterface, serveHttp } from './http/index.ts'
import { defaultHttpLimits, type HttpLimits } from './http/limits.ts'
import { CONTROL_IFACE, controlInterface } from './control/wit.ts'

/** A local service and the one of its interfaces an id resolved to. */
export interface ServiceEntry {
  readonly service: LocalService
  readonly iface: Interface
}

export interface ServicesInit {
  /** This node's peer id: the caller of its own calls, the issuer of handles its services give out. */
  readonly self: string
  readonly runtime: Runtime
  readonly handles: HandleLedger
  readonly log: Logger
  /** Under `NodeInit.trust`: verifies every component before it is loaded. */
  readonly gate?: ComponentGate
  /** Links given at creation (`NodeInit.links`); components' own links are added by `load`. */
  readonly links?: readonly Link[]
  readonly runtimeLimits?: Partial<RuntimeLimits>
  /** What is served changed: the registry and the adverts need the new exports. */
  readonly changed: (exports: AdvertExport[]) => void
  /** Load crossed a quarter of a service's capacity. */
  readonly loadChanged: () => void
  /** The buffering of HTTP components' bodies (`httpBodyBufferBytes`). */
  readonly httpLimits?: Partial<HttpLimits>
}

export interface Services {
  serve (service: LocalService): void
  unserve (digest: string): void
  /**
   * Under trust: reads and verifies a component (`untrusted-component` otherwise) and returns the spec with
   * the verified bytes, which `load` then takes without checking again; without trust, the spec as it is.
   */
  admit (spec: ComponentSpec): Promise<ComponentSpec>
  /** Loads a component into the runtime (with its links) and serves its exports; admitted first (above). */
  load (spec: ComponentSpec): Promise<LoadedComponent>
  unload (id: string): Promise<void>
  /** Forgets the components' services and links: the runtime stopped, and a restart loads them again. */
  clearComponents (): void
  links (): Link[]
  /** Adds a link (checked by the caller) to those in force: the next call of a matching import uses it. */
  putLink (link: Link): void
  /** Removes the links of `component` to `target` with this name (undefined: default); returns how many. */
  deleteLinks (component: string, target: string, name: string | undefined): number
  /** A local service of an interface id (exact, or any compatible version), for its WIT: no pick, no load counted. */
  find (iface: string): ServiceEntry | undefined
  /**
   * The local service that takes the next call of an interface id: among the components serving it (only the one
   * named `component`, by name or digest, when given), the least busy, ties in turn.
   */
  pick (iface: string, component?: string): ServiceEntry | undefined
  /** The WIT of an interface one of this node's components imports. */
  imported (iface: string): Interface | undefined
  /** The service with this digest (what a describe request asks for). */
  byDigest (digest: string): LocalService | undefined
  /** Every distinct service. */
  all (): LocalService[]
  /** The exports to advertise, with their current load. */
  exports (): AdvertExport[]
  /** The router's local-first path to `iface`, or undefined when this node does not serve it. */
  localRoute (iface: string): LocalRoute | undefined
  /** Runs a call on a local service, counted in its load. */
  callLocal (service: LocalService, iface: string, func: string, params: unknown[], ctx: ServiceCallContext): Promise<unknown[]>
  /** This node's own call to what it serves (to `component` only, when given), the router's general path picking this node; handles in the results are pinned here. */
  callSelf (iface: string, func: string, params: unknown[], component?: string): Promise<unknown[]>
  /** Calls running on local services now. */
  inflight (): number
}

/** What a call to an interface (of one component) this node does not serve answers: `no-such-component` may be retried elsewhere. */
export function noComponent (iface: string, component: string | undefined): NodeError {
  return component === undefined
    ? new NodeError('no-such-export', `this node no longer serves ${iface}`)
    : new NodeError('no-such-component', `no component ${component} serves ${iface} on this node; call another peer that advertises it, or leave the component out`)
}

export function createServices (init: ServicesInit): Services {
  const { self, runtime, handles, log } = init
  const links: Link[] = [...(init.links ?? [])]
  checkLinks(links)
  /** Local services by exported interface id: one entry per component exporting it, in the order served. */
  const services = new Map<string, ServiceEntry[]>()
  const inflight = new Map<LocalService, number>()
  /** Signatures of imported interfaces, from the components that import them. */
  const importSignatures = new Map<string, Interface>()
  /** Digests of the components `load` serves (the rest came from `serve`). */
  const loaded = new Set<string>()
  /** The context of calls this node makes itself. */
  const selfContext: ServiceCallContext = Object.freeze({ caller: self })
  const httpLimits: HttpLimits = { ...defaultHttpLimits, ...init.httpLimits }
  // Every node knows the gateway's interface, so that it can call HTTP components without asking them for its WIT.
  importSignatures.set(HTTP_HANDLER_IFACE, httpHandlerInterface())
  // Every node knows the control interface too: a control call to any peer needs no describe.
  importSignatures.set(CONTROL_IFACE, controlInterface())

  // One export per component and interface: each carries its component's digest and name, so a caller can target one.
  const localExports = (): AdvertExport[] => [...services.entries()].flatMap(([iface, list]) => list.filter(({ service }) => service.advertised !== false).map(({ service }) => ({
    iface,
    digest: service.digest,
    capacity: service.capacity,
    load: inflight.get(service) ?? 0,
    name: service.name
  })))

  /** Publishes when load crosses a quarter of capacity, so routing elsewhere sees it without a heartbeat's wait. */
  function track (service: LocalService, delta: number): void {
    const before = inflight.get(service) ?? 0
    const after = before + delta
    inflight.set(service, after)
    const capacity = Math.max(1, service.capacity)
    if (Math.floor((4 * before) / capacity) !== Math.floor((4 * after) / capacity)) init.loadChanged()
  }

  function callLocal (service: LocalService, iface: string, func: string, params: unknown[], ctx: ServiceCallContext): Promise<unknown[]> {
    track(service, +1)
    let called: Promise<unknown[]>
    try {
      called = service.call(iface, func, params, ctx)
    } catch (err) {
      track(service, -1)
      return Promise.reject(err)
    }
    return called.then(results => { track(service, -1); return results }, (err: unknown) => { track(service, -1); throw err })
  }

  /** The router's local-first path by interface id as asked; cleared whenever `services` changes. */
  const routes = new Map<string, LocalRoute | null>()
  function localRoute (iface: string): LocalRoute | undefined {
    let route = routes.get(iface)
    if (route === undefined) {
      const list = entriesFor(iface)
      route = list.length === 0 ? null : routeTo(list)
      if (routes.size >= 4096) routes.clear()
      routes.set(iface, route)
    }
    return route ?? undefined
  }

  function routeTo (list: readonly ServiceEntry[]): LocalRoute {
    return {
      iface: list[0].iface.id,
      call (func, params) {
        const { service, iface } = choose(list)
        const called = callLocal(service, iface.id, func, params, selfContext)
        const f = functionOf(iface, func)
        // Resource handles in the results are pinned to this node.
        return f === undefined || !funcHandles(f).results ? called : called.then(results => { handles.rememberResults(f, results, self); return results })
      }
    }
  }

  /** The local services of an interface id as asked (exact first, then any compatible version); cleared whenever `services` changes. */
  const serviceFor = new Map<string, readonly ServiceEntry[]>()
  function entriesFor (iface: string): readonly ServiceEntry[] {
    let found = serviceFor.get(iface)
    if (found === undefined) {
      const exact = services.get(iface) ?? []
      const other: ServiceEntry[] = []
      for (const [id, list] of services) if (id !== iface && interfaceCompatible(iface, id)) other.push(...list)
      found = other.length === 0 ? exact : [...exact, ...other]
      if (serviceFor.size >= 4096) serviceFor.clear()
      serviceFor.set(iface, found)
    }
    return found
  }

  function findService (iface: string): ServiceEntry | undefined {
    return entriesFor(iface)[0]
  }

  /** Whose turn it is among equally busy services. */
  let turn = 0
  /** The least busy of several services (calls in flight per unit of capacity); ties go round in turn. */
  function choose (list: readonly ServiceEntry[]): ServiceEntry {
    if (list.length === 1) return list[0]
    const start = turn
    turn = (turn + 1) % 0x40000000
    let best = list[start % list.length]
    let bestScore = Infinity
    for (let k = 0; k < list.length; k++) {
      const e = list[(start + k) % list.length]
      const score = (inflight.get(e.service) ?? 0) / Math.max(1, e.service.capacity)
      if (score < bestScore) { best = e; bestScore = score }
    }
    return best
  }

  const isComponent = (service: LocalService, component: string): boolean => service.name === component || service.digest === component

  function pick (iface: string, component?: string): ServiceEntry | undefined {
    const list = entriesFor(iface)
    if (component === undefined) return list.length === 0 ? undefined : choose(list)
    const named = list.filter(e => isComponent(e.service, component))
    return named.length === 0 ? undefined : choose(named)
  }

  function serviceOf (component: LoadedComponent, capacity: number): LocalService {
    // An HTTP component (exporting wasi:http/incoming-handler) serves the gateway's interface, advertised like any export.
    const http = component.http !== undefined
    return {
      digest: component.digest,
      name: component.name,
      interfaces: http ? [...component.exports.interfaces, httpHandlerInterface()] : component.exports.interfaces,
      wit: component.wit,
      capacity,
      // A peer's calls count against its share of the instances; this node's own calls (caller: self) against none.
      call: (iface, func, params, ctx) => {
        const opts = ctx.caller === self ? {} : { caller: ctx.caller }
        if (http && iface === HTTP_HANDLER_IFACE && func === 'handle') return serveHttp(runtime, component.id, params, opts, httpLimits)
        return runtime.call(component.id, iface, func, params, opts)
      }
    }
  }

  function changed (): void {
    serviceFor.clear()
    routes.clear()
    init.changed(localExports())
  }

  /**
   * Adds a service beside the others of its interfaces. The same digest again, or a new version of the same
   * component (same name: a hot swap serves it before unserving the old), takes the old one's place: calls in
   * flight on the old go on, new ones reach the new.
   */
  function serve (service: LocalService): void {
    for (const i of service.interfaces) {
      const list = services.get(i.id) ?? []
      const at = list.findIndex(e => e.service.digest === service.digest || e.service.name === service.name)
      const entry = { service, iface: i }
      if (at >= 0) {
        if (list[at].service.digest !== service.digest) log.debug(`${i.id}: ${service.name} ${service.digest.slice(0, 12)} takes over from ${list[at].service.digest.slice(0, 12)}`)
        list[at] = entry
      } else {
        if (list.length > 0) log.debug(`${i.id} is served by ${[...list.map(e => e.service.name), service.name].join(', ')}; untargeted calls go to the least busy`)
        list.push(entry)
      }
      services.set(i.id, list)
    }
    changed()
  }

  function unserve (digest: string): void {
    for (const [iface, list] of [...services]) {
      const left = list.filter(e => e.service.digest !== digest)
      if (left.length === 0) services.delete(iface)
      else if (left.length !== list.length) services.set(iface, left)
    }
    changed()
  }

  function dropLinks (component: string): void {
    for (let i = links.length - 1; i >= 0; i--) if (links[i].component === component) links.splice(i, 1)
  }

  /** Specs `admit` returned: their bytes are the verified ones. */
  const admitted = new WeakSet<ComponentSpec>()
  async function admit (spec: ComponentSpec): Promise<ComponentSpec> {
    if (init.gate === undefined || admitted.has(spec)) return spec
    const { bytes, name } = await init.gate.admit(spec)
    const checked: ComponentSpec = { ...spec, source: bytes, name }
    admitted.add(checked)
    return checked
  }

  return {
    serve,
    unserve,
    admit,

    async load (spec) {
      const { source, links: own, signature: _signature, ...config } = await admit(spec)
      const component = await runtime.load(source, config)
      if (own !== undefined) {
        const bound = own.map(l => ({ ...l, component: component.digest }))
        checkLinks(bound)
        links.push(...bound)
      }
      for (const i of component.imports.interfaces) importSignatures.set(i.id, i)
      serve(serviceOf(component, config.limits?.maxInstances ?? init.runtimeLimits?.maxInstances ?? defaultRuntimeLimits.maxInstances))
      loaded.add(component.digest)
      return component
    },

    async unload (id) {
      loaded.delete(id)
      dropLinks(id)
      unserve(id)
      await runtime.unload(id)
    },

    clearComponents () {
      for (const digest of loaded) { dropLinks(digest); unserve(digest) }
      loaded.clear()
    },

    links: () => links,
    putLink (link) { links.push(link) },
    deleteLinks (component, target, name) {
      let n = 0
      for (let i = links.length - 1; i >= 0; i--) {
        const l = links[i]
        if (l.component === component && l.target === target && l.name === name) { links.splice(i, 1); n++ }
      }
      return n
    },
    find: findService,
    pick,
    imported: iface => importSignatures.get(iface),

    byDigest (digest) {
      for (const list of services.values()) for (const { service } of list) if (service.digest === digest) return service
      return undefined
    },

    all: () => [...new Set([...services.values()].flatMap(list => list.map(e => e.service)))],
    exports: localExports,
    localRoute,
    callLocal,

    async callSelf (iface, func, params, component) {
      const entry = pick(iface, component)
      if (entry === undefined) throw noComponent(iface, component)
      const results = await callLocal(entry.service, iface, func, params, selfContext)
      handles.rememberResults(functionOf(entry.iface, func), results, self)
      return results
    },

    inflight () {
      let total = 0
      for (const n of inflight.values()) total += n
      return total
    }
  }
}
