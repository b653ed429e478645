// The mesh node: owns libp2p, the component runtime, the registry and the router; serves its exports over wRPC and reaches everyone else's.

import { peerIdFromString } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { invoke } from '../protocol/session.ts'
import type { Handlers, ServedFunction } from '../protocol/session.ts'
import { isLatticeName } from '../protocol/advert.ts'
import type { AdvertExport } from '../protocol/advert.ts'
import { functionOf, parseWit } from '../protocol/wit/index.ts'
import type { Func, Interface, Type, Wit } from '../protocol/wit/model.ts'
import { createAdvertAgent, syncProtocol } from './adverts.ts'
import type { AdvertAgent } from './adverts.ts'
import { loadOrCreateIdentity } from './identity.ts'
import { createMeshLibp2p, keepConnected } from './libp2p.ts'
import type { BootstrapKeeper } from './libp2p.ts'
import { createLogger } from './logger.ts'
import { createRegistry } from './registry.ts'
import type { Server } from './registry.ts'
import { handleRequests, request } from './request.ts'
import { createRouter, RouterError } from './router.ts'
import type { LocalRoute, Router } from './router.ts'
import { createRuntime, defaultRuntimeLimits } from './runtime/index.ts'
import type { LoadedComponent, Runtime } from './runtime/index.ts'
import { forEachHandle, funcHandles } from './runtime/values.ts'
import { interfaceCompatible } from '../protocol/versions.ts'
import { dialWrpc, handleWrpc } from './wrpc-server.ts'
import { NodeError } from './errors.ts'
import { createPeering } from './peering.ts'
import { checkLinks, linkOptions } from './links.ts'
import type { Link } from './links.ts'
import { defaultNodeLimits } from './api.ts'
import type { CallOptions, ComponentSpec, LocalService, MeshNode, NodeInit, NodeLimits, ServiceCallContext } from './api.ts'

/** The describe request: "the WIT of the component with this digest". */
export function describeProtocol (lattice: string): string {
  return `/wasmesh/${lattice}/describe/1.0.0`
}

const LATTICE_SYNC = /^\/wasmesh\/([^/]+)\/sync\/1\.0\.0$/

/** The function types a caller needs to encode a call and decode its answer. */
interface Signature { readonly params: readonly Type[], readonly results: readonly Type[] }

function signatureOf (func: Func): Signature {
  return { params: func.params.map(p => p.type), results: func.results }
}

export async function createNode (init: NodeInit = {}): Promise<MeshNode> {
  const lattice = init.lattice ?? 'default'
  if (!isLatticeName(lattice)) throw new NodeError('invalid-config', `lattice name ${JSON.stringify(lattice)}: use 1-64 letters, digits, '.', '_' or '-'`)
  const log = init.logger ?? createLogger()
  const limits: NodeLimits = { ...defaultNodeLimits, ...init.limits }
  const privateKey = init.privateKey ?? (init.dataDir !== undefined ? await loadOrCreateIdentity(init.dataDir) : await generateKeyPair('Ed25519'))
  const libp2p = await createMeshLibp2p({
    privateKey,
    transport: init.transport,
    listen: init.listen,
    announce: init.announce,
    bootstrap: init.bootstrap,
    connectionLimits: init.connectionLimits,
    memoryLatencyMs: init.memoryLatencyMs,
    customTransport: init.customTransport,
    encryption: init.encryption,
    gossipsub: init.gossipsub,
    fastPath: init.fastPath
  })
  const self = libp2p.peerId.toString()
  const registry = createRegistry({ self, lattice, labels: init.labels })
  const links: Link[] = [...(init.links ?? [])]
  checkLinks(links)

  /** Local services by exported interface id. */
  const services = new Map<string, { service: LocalService, iface: Interface }>()
  const inflight = new Map<LocalService, number>()
  /** Signatures of imported interfaces, from the components that import them. */
  const importSignatures = new Map<string, Interface>()
  /** Remote WIT by digest. */
  const described = new Map<string, Promise<Wit>>()
  let served = 0
  /** Calls from peers in flight, and who waits for them to reach zero when draining. */
  let inbound = 0
  let drained: PromiseWithResolvers<void> | undefined
  let started = false
  let keeper: BootstrapKeeper | undefined
  let unhandleWrpc: (() => Promise<void>) | undefined

  const localExports = (): AdvertExport[] => [...services.entries()].map(([iface, { service }]) => ({
    iface,
    digest: service.digest,
    capacity: service.capacity,
    load: inflight.get(service) ?? 0
  }))

  const agent: AdvertAgent = createAdvertAgent({
    libp2p,
    registry,
    privateKey,
    lattice,
    timings: init.timings,
    limits: init.advertLimits,
    log: log.child('adverts'),
    local: () => ({ addresses: addresses(), labels: { ...init.labels }, exports: localExports() })
  })

  const runtime: Runtime = createRuntime({
    cacheDir: init.cacheDir,
    limits: init.runtimeLimits,
    logger: log.child('component'),
    // A component's imports reach whoever serves them, local first, within its links.
    resolver: async (iface, func, params, from) => await call(iface, func, params, linkOptions(links, from, iface) ?? {})
  })

  const router: Router = createRouter({
    registry,
    self,
    localFirst: init.routing?.localFirst,
    maxRetries: init.routing?.maxRetries,
    callTimeoutMs: init.routing?.callTimeoutMs,
    callServer,
    local: localRoute
  })

  function addresses (): string[] {
    return libp2p.getMultiaddrs().map(a => a.toString())
  }

  /** Publishes when load crosses a quarter of capacity, so routing elsewhere sees it without a heartbeat's wait. */
  function track (service: LocalService, delta: number): void {
    const before = inflight.get(service) ?? 0
    const after = before + delta
    inflight.set(service, after)
    const capacity = Math.max(1, service.capacity)
    if (Math.floor((4 * before) / capacity) !== Math.floor((4 * after) / capacity)) agent.changed('load')
  }

  /** The context of calls this node makes itself. */
  const selfContext: ServiceCallContext = Object.freeze({ caller: self })

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
      const entry = findService(iface)
      route = entry === undefined ? null : routeTo(entry)
      if (routes.size >= 4096) routes.clear()
      routes.set(iface, route)
    }
    return route ?? undefined
  }

  function routeTo ({ service, iface }: { service: LocalService, iface: Interface }): LocalRoute {
    return {
      iface: iface.id,
      call (func, params) {
        const called = callLocal(service, iface.id, func, params, selfContext)
        const f = functionOf(iface, func)
        // Resource handles in the results are pinned to this node.
        return f === undefined || !funcHandles(f).results ? called : called.then(results => { rememberHandles(f, results, self); return results })
      }
    }
  }

  /** Which local service answers an interface id, as asked (exact or any compatible version); cleared whenever `services` changes. */
  const serviceFor = new Map<string, { service: LocalService, iface: Interface } | null>()
  function findService (iface: string): { service: LocalService, iface: Interface } | undefined {
    const exact = services.get(iface)
    if (exact !== undefined) return exact
    let found = serviceFor.get(iface)
    if (found === undefined) {
      found = null
      for (const [id, entry] of services) {
        if (interfaceCompatible(iface, id)) { found = entry; break }
      }
      if (serviceFor.size >= 4096) serviceFor.clear()
      serviceFor.set(iface, found)
    }
    return found ?? undefined
  }

  async function signature (server: Server, iface: string, func: string, signal: AbortSignal): Promise<Signature> {
    const imported = functionOf(importSignatures.get(iface), func)
    if (imported !== undefined) return signatureOf(imported)
    const wit = await describeDigest(server, signal)
    const f = functionOf(wit.findInterface(server.iface), func)
    if (f === undefined) throw new NodeError('no-such-function', `${server.iface} as served by ${server.peer} has no function ${func}`)
    return signatureOf(f)
  }

  async function describeDigest (server: Server, signal?: AbortSignal): Promise<Wit> {
    let wit = described.get(server.digest)
    if (wit === undefined) {
      wit = (async () => {
        const bytes = await request(libp2p, peerIdFromString(server.peer), describeProtocol(lattice), new TextEncoder().encode(server.digest), {
          maxRequestBytes: 128,
          maxResponseBytes: limits.maxDescribeBytes,
          timeoutMs: limits.describeTimeoutMs
        }, signal)
        if (bytes.byteLength === 0) throw new NodeError('describe-failed', `${server.peer} does not know component ${server.digest}`)
        // Content-addressed: the WIT of a digest never changes, so it is cached for the node's life.
        return parseWit({ [`${server.digest}.wit`]: new TextDecoder().decode(bytes) })
      })()
      described.set(server.digest, wit)
      wit.catch(() => { described.delete(server.digest) })
    }
    return await wit
  }

  /** Peer ids by their string form: decoding one (base58, multihash) for every call shows in profiles. */
  const peerIds = new Map<string, PeerId>()
  function peerIdOf (peer: string): PeerId {
    let id = peerIds.get(peer)
    if (id === undefined) {
      if (peerIds.size >= 4096) peerIds.delete(peerIds.keys().next().value as string)
      id = peerIdFromString(peer)
      peerIds.set(peer, id)
    }
    return id
  }

  async function callServer (server: Server, iface: string, func: string, params: unknown[], signal: AbortSignal): Promise<unknown[]> {
    if (server.local) {
      const entry = findService(iface)
      if (entry === undefined) throw new NodeError('no-such-export', `this node no longer serves ${iface}`)
      const results = await callLocal(entry.service, iface, func, params, selfContext)
      rememberHandles(functionOf(entry.iface, func), results, self)
      return results
    }
    let sig: Signature
    let transport
    try {
      sig = await signature(server, iface, func, signal)
      transport = await dialWrpc(libp2p, peerIdOf(server.peer), signal)
    } catch (err) {
      if (err instanceof NodeError) throw err
      // Nothing was sent: the router may try another server.
      throw new NodeError('dial-failed', `cannot reach ${server.peer}: ${(err as Error).message}`, { cause: err })
    }
    const results = await invoke(transport, server.iface, func, sig.params, params, sig.results, { signal, limits: init.sessionLimits })
    rememberHandles({ results: sig.results }, results, server.peer)
    return results
  }

  /** Resource handles in results are pinned to the peer that issued them. */
  function rememberHandles (func: Pick<Func, 'results'> | undefined, results: unknown[], peer: string): void {
    const type = func?.results[0]
    if (type === undefined) return
    forEachHandle(type, results[0], (_, v) => { if (v instanceof Uint8Array) router.rememberHandle(v, peer) })
  }

  /**
   * A call that passes a resource handle must go to the peer that issued it, whether it is a
   * method (`[method]bucket.get`) or a plain function taking a borrow (`atomics.increment(bucket, ...)`).
   */
  function pinToHandle (iface: string, func: string, params: unknown[], opts: CallOptions): CallOptions {
    const f = functionOf(importSignatures.get(iface) ?? findService(iface)?.iface, func)
    if (f === undefined || !funcHandles(f).params) return opts
    let handle: Uint8Array | undefined
    f.params.forEach((p, i) => forEachHandle(p.type, params[i], (_, v) => {
      if (handle === undefined && v instanceof Uint8Array && router.handleOwner(v) !== undefined) handle = v
    }))
    return handle === undefined ? opts : { ...opts, handle }
  }

  async function call (iface: string, func: string, params: unknown[], callOpts: CallOptions = {}): Promise<unknown[]> {
    const opts = pinToHandle(iface, func, params, callOpts)
    const observe = init.observer?.call
    if (observe === undefined) return (await router.call(iface, func, params, opts)).results
    const began = performance.now()
    try {
      const { results, attempts } = await router.call(iface, func, params, opts)
      observe({ direction: 'outbound', iface, func, outcome: 'ok', durationMs: performance.now() - began, attempts })
      return results
    } catch (err) {
      const e = err as { code?: unknown, attempts?: number }
      observe({ direction: 'outbound', iface, func, outcome: typeof e.code === 'string' ? e.code : 'internal', durationMs: performance.now() - began, attempts: e.attempts })
      throw err
    }
  }

  /** Serves wRPC invocations: instance = the exported interface, name = the function. */
  function handlers (peer: PeerId): Handlers {
    return {
      lookup (instance, name): ServedFunction | undefined {
        const entry = findService(instance)
        const func = functionOf(entry?.iface, name)
        if (entry === undefined || func === undefined) return undefined
        return {
          params: func.params.map(p => p.type),
          results: func.results,
          call: async (params) => {
            served++
            inbound++
            const began = performance.now()
            let outcome = 'ok'
            try {
              return await callLocal(entry.service, entry.iface.id, name, params, { caller: peer.toString() })
            } catch (err) {
              const code = (err as { code?: unknown }).code
              outcome = typeof code === 'string' ? code : 'internal'
              throw err
            } finally {
              inbound--
              if (inbound === 0) drained?.resolve()
              init.observer?.call?.({ direction: 'inbound', iface: entry.iface.id, func: name, outcome, durationMs: performance.now() - began })
            }
          }
        }
      }
    }
  }

  /**
   * Peers of another lattice are refused; plain wRPC clients (no lattice at all) are served. The
   * answer depends only on the protocols the peer store lists for the peer, so it is kept until
   * the peer's record changes (`peer:update`) or it disconnects, instead of decoding the record
   * for every inbound call.
   */
  const accepted = new Map<string, boolean>()
  libp2p.addEventListener('peer:update', evt => { accepted.delete(evt.detail.peer.id.toString()) })
  libp2p.addEventListener('peer:disconnect', evt => { accepted.delete(evt.detail.toString()) })
  function accept (peer: PeerId): boolean | Promise<boolean> {
    const known = accepted.get(peer.toString())
    return known ?? decideAccept(peer)
  }
  async function decideAccept (peer: PeerId): Promise<boolean> {
    let protocols: string[] = []
    try {
      protocols = (await libp2p.peerStore.get(peer)).protocols
    } catch {
      return true
    }
    const lattices = protocols.map(p => LATTICE_SYNC.exec(p)?.[1]).filter((l): l is string => l !== undefined)
    const ok = lattices.length === 0 || lattices.includes(lattice)
    if (accepted.size >= 4096) accepted.delete(accepted.keys().next().value as string)
    accepted.set(peer.toString(), ok)
    return ok
  }

  function serviceOf (component: LoadedComponent, capacity: number): LocalService {
    return {
      digest: component.digest,
      name: component.name,
      interfaces: component.exports.interfaces,
      wit: component.wit,
      capacity,
      call: (iface, func, params) => runtime.call(component.id, iface, func, params)
    }
  }

  function serve (service: LocalService): void {
    for (const i of service.interfaces) {
      const taken = services.get(i.id)
      if (taken !== undefined && taken.service.digest !== service.digest) {
        log.warn(`${i.id} is exported by both ${taken.service.name} and ${service.name}; calls go to ${service.name}`)
      }
      services.set(i.id, { service, iface: i })
    }
    serviceFor.clear()
    routes.clear()
    publishLocal()
  }

  function unserve (digest: string): void {
    for (const [iface, entry] of [...services]) if (entry.service.digest === digest) services.delete(iface)
    serviceFor.clear()
    routes.clear()
    publishLocal()
  }

  async function load (spec: ComponentSpec): Promise<LoadedComponent> {
    const { source, links: own, ...config } = spec
    const component = await runtime.load(source, config)
    if (own !== undefined) {
      const bound = own.map(l => ({ ...l, component: component.digest }))
      checkLinks(bound)
      links.push(...bound)
    }
    for (const i of component.imports.interfaces) importSignatures.set(i.id, i)
    serve(serviceOf(component, config.limits?.maxInstances ?? init.runtimeLimits?.maxInstances ?? defaultRuntimeLimits.maxInstances))
    return component
  }

  function publishLocal (): void {
    registry.setLocal(localExports())
    agent.changed()
  }

  const peering = init.peering === false ? undefined : createPeering(libp2p, registry, log.child('peering'), init.peering)
  registry.on('change', change => { if (change.kind === 'peer' && change.change === 'new') peering?.check() })

  // What a peer held on this node (resource handles of providers) is released when it goes away.
  libp2p.addEventListener('peer:disconnect', evt => {
    const peer = evt.detail.toString()
    const seen = new Set<LocalService>()
    for (const { service } of services.values()) {
      if (seen.has(service)) continue
      seen.add(service)
      try { service.peerGone?.(peer) } catch (err) { log.warn(`${service.name} failed to release ${peer}: ${(err as Error).message}`) }
    }
  })

  // Peers' addresses from their adverts, so that a call can dial a peer this node has never met.
  registry.on('change', change => {
    if (change.kind !== 'peer' || (change.change !== 'new' && change.change !== 'updated')) return
    const view = registry.peer(change.peer)
    if (view === undefined || view.addresses.length === 0) return
    const multiaddrs = view.addresses.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } })
    void libp2p.peerStore.merge(peerIdFromString(change.peer), { multiaddrs }).catch(() => {})
  })

  const node: MeshNode = {
    peerId: self,
    lattice,
    registry,
    router,
    libp2p,
    runtime,

    async start () {
      if (started) return
      await runtime.start()
      await handleRequests(libp2p, describeProtocol(lattice), async (_peer, body) => {
        const digest = new TextDecoder().decode(body)
        for (const { service } of services.values()) if (service.digest === digest) return new TextEncoder().encode(service.wit)
        return new Uint8Array(0)
      }, { maxRequestBytes: 128, maxResponseBytes: limits.maxDescribeBytes, timeoutMs: limits.describeTimeoutMs })
      unhandleWrpc = await handleWrpc(libp2p, handlers, {
        maxInboundStreams: limits.maxInboundStreams,
        maxOutboundStreams: limits.maxOutboundStreams,
        sessionLimits: init.sessionLimits,
        accept,
        onError: (peer, err) => { log.debug(`wRPC call from ${peer.toString()} failed: ${err.message}`) }
      })
      await libp2p.start()
      started = true
      registry.setSelf({ labels: init.labels, addresses: addresses() })
      // Adverts first: peers that connect while components load are synced with at once.
      await agent.start()
      peering?.start()
      for (const spec of init.components ?? []) await load(spec)
      if (init.bootstrap !== undefined && init.bootstrap.length > 0) {
        keeper = keepConnected(libp2p, init.bootstrap.map(a => multiaddr(a)), {
          onDialError: (addr, err) => { log.debug(`bootstrap ${addr.toString()}: ${err.message}`) }
        })
        await keeper.start()
      }
    },

    async stop (opts = {}) {
      if (!started) return
      started = false
      await keeper?.stop()
      peering?.stop()
      // Withdraw first, so that peers stop routing here before the streams go away.
      await agent.stop()
      await unhandleWrpc?.()
      const drainMs = opts.drainTimeoutMs ?? 0
      if (inbound > 0 && drainMs > 0) {
        drained = Promise.withResolvers<void>()
        let timer: ReturnType<typeof setTimeout> | undefined
        await Promise.race([drained.promise, new Promise<void>(resolve => { timer = setTimeout(resolve, drainMs) })])
        clearTimeout(timer)
        if (inbound > 0) log.warn(`stopping with ${inbound} calls still in flight after ${drainMs} ms`)
      }
      await libp2p.stop()
      await runtime.stop()
      router.close()
    },

    addresses,
    load,

    async unload (id) {
      for (let i = links.length - 1; i >= 0; i--) if (links[i].component === id) links.splice(i, 1)
      unserve(id)
      await runtime.unload(id)
    },

    serve,
    unserve,

    components: () => runtime.components(),
    links: () => [...links],
    call,

    async describe (iface, func, opts = {}) {
      const imported = functionOf(importSignatures.get(iface), func) ?? functionOf(findService(iface)?.iface, func)
      if (imported !== undefined) return imported
      const servers = registry.servers(iface, { peer: opts.target, labels: opts.labels })
      if (servers.length === 0) throw new RouterError('no-server', `no peer in lattice ${lattice} serves ${iface}`, { attempts: 0, tried: [], resultStarted: false })
      const server = servers[0]
      const wit = await describeDigest(server, opts.signal)
      const f = functionOf(wit.findInterface(server.iface), func)
      if (f === undefined) throw new NodeError('no-such-function', `${server.iface} has no function ${func}`)
      return f
    },

    stats () {
      let total = 0
      for (const n of inflight.values()) total += n
      return {
        inbound,
        peers: registry.peers().filter(p => !p.local).length,
        connections: libp2p.getConnections().length,
        adverts: agent.stats,
        served,
        inflight: total
      }
    }
  }
  return node
}

export { syncProtocol }
