// The mesh node's assembly: creates libp2p, the runtime, the registry, the router and the node's parts, wires them, and starts and stops them in order.

import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Connection } from '@libp2p/interface'
import { advertTopic, isLatticeName, isReservedLabel } from '../protocol/advert.ts'
import { InboundBudget } from '../protocol/budget.ts'
import { advertIntakeLimits, createAdvertAgent, defaultAdvertTimings } from './adverts.ts'
import type { AdvertAgent } from './adverts.ts'
import type { CallOptions, ComponentSpec, ConnectionInfo, MeshNode, NodeInit, NodeLimits } from './api.ts'
import { defaultNodeLimits } from './api.ts'
import { createDescriber } from './describe.ts'
import { createHandleLedger } from './handles.ts'
import type { HandleLedger } from './handles.ts'
import { loadOrCreateIdentity } from './identity.ts'
import { lockDataDir } from './data-dir-lock.ts'
import type { DataDirLock } from './data-dir-lock.ts'
import { createInbound } from './inbound.ts'
import { createMeshLibp2p, keepConnected } from './libp2p.ts'
import { createStreamErrors } from './libp2p/stream-errors.ts'
import type { BootstrapKeeper, MeshLibp2p } from './libp2p.ts'
import { createLogger } from './logger.ts'
import { createOutbound } from './outbound.ts'
import { createPeering } from './peering.ts'
import { advertisedAddresses, dialableAddresses, isRelayed, relaysHeld, listensPublicly, loopbackOnly, mdnsServiceTag, reachabilityOf } from './reachability.ts'
import { addressVerdicts, createLanDiscovery, relayStats } from './discovery.ts'
import { createRegistry } from './registry.ts'
import type { Registry, RegistryChange, Server } from './registry.ts'
import { createRouter } from './router.ts'
import type { CallResult, Router } from './router.ts'
import { createRuntime } from './runtime/index.ts'
import type { LoadedComponent, Runtime } from './runtime/index.ts'
import { createServices } from './services.ts'
import { NodeError } from './errors.ts'
import { checkLinks, linkOptions } from './links.ts'
import { createComponentGate, createMembership, createNodeSecurity } from './security/index.ts'
import { defaultRuntimeLimits } from './runtime/index.ts'
import type { Membership } from './security/index.ts'
import { resolveSecretRef } from './providers/secrets.ts'
import { createMessaging, HANDLER } from './messaging/index.ts'
import { localHandlers } from './messaging/handlers.ts'
import { createGateway } from './http/index.ts'
import type { Gateway } from './http/index.ts'
import { join } from 'node:path'
import { createArtifacts, parseReference } from './artifacts/index.ts'
import { CONTROL_IFACE, ControlError, createControl, defaultControlLimits, isControlInterface, requireControlTarget } from './control/index.ts'

/** A control call's deadline when `routing.callTimeoutMs` is not set. */
const defaultControlCallTimeoutMs = 30_000
import { createApps } from './apps/index.ts'
import type { AppsAgent } from './apps/index.ts'

/** A node's parts, for tests, benchmarks and simulations that poke them; not part of the public entry (node/index.ts). */
export interface NodeInternals {
  readonly libp2p: MeshLibp2p
  readonly registry: Registry
  readonly router: Router
  readonly runtime: Runtime
  readonly handles: HandleLedger
  /** Who may connect: the lattice key's protector, the allow-list and its trust file (`trustedLabels`, `allows`). */
  readonly membership: Membership
}

const internals = new WeakMap<MeshNode, NodeInternals>()

/** The parts of a node made by `createNode`: tests, benchmarks and simulations only. */
export function nodeInternals (node: MeshNode): NodeInternals {
  const parts = internals.get(node)
  if (parts === undefined) throw new NodeError('invalid-config', 'not a node made by createNode')
  return parts
}

function connectionInfo (c: Connection): ConnectionInfo {
  const remoteAddr = c.remoteAddr.toString()
  return { peer: c.remotePeer.toString(), direction: c.direction, remoteAddr, relayed: isRelayed(remoteAddr), streams: c.streams.map(s => s.protocol ?? '') }
}

export async function createNode (init: NodeInit = {}): Promise<MeshNode> {
  const lattice = init.lattice ?? 'default'
  if (!isLatticeName(lattice)) throw new NodeError('invalid-config', `lattice name ${JSON.stringify(lattice)}: use 1-64 letters, digits, '.', '_' or '-'`)
  const checkLabels = (given: Readonly<Record<string, string>>): void => {
    const reserved = Object.keys(given).find(isReservedLabel)
    if (reserved !== undefined) throw new NodeError('invalid-config', `label ${JSON.stringify(reserved)}: keys starting with wasmesh. are reserved for the advert's own fields`)
  }
  checkLabels(init.labels ?? {})
  /** This node's labels: `init.labels`, changed by `setLabels` (the control interface's put-label). */
  let labels: Readonly<Record<string, string>> = { ...init.labels }
  const log = init.logger ?? createLogger()
  const limits: NodeLimits = { ...defaultNodeLimits, ...init.limits }
  const inboundBudget = new InboundBudget({
    maxBufferedBytes: limits.maxInboundBufferedBytesPerNode,
    maxBufferedBytesPerPeer: limits.maxInboundBufferedBytesPerPeer,
    maxPausedMs: limits.maxInboundPausedMs
  })
  const privateKey = init.privateKey ?? (init.dataDir !== undefined ? await loadOrCreateIdentity(init.dataDir) : await generateKeyPair('Ed25519'))
  const streamErrors = createStreamErrors({ log: log.child('streams') })
  // the trust file's labels count as trusted (for policies and label filters), as certificates' do
  const membership = await createMembership({ latticeKey: init.latticeKey, allowPeers: init.allowPeers, trustFile: init.trustFile, log: log.child('membership'), onReload: () => { authorizer.changed() } })
  const tcp = init.transport !== 'memory' && init.customTransport === undefined
  const listen = init.listen ?? (tcp ? ['/ip4/0.0.0.0/tcp/0'] : undefined)
  // behind NAT (listening beyond loopback, no public address): take a relay slot (a client listens on nothing and
  // takes none); a public node of a private lattice offers one
  const publicly = tcp && listen !== undefined && listensPublicly(listen)
  const reserve = init.relayClient === true || ((init.relayClient ?? 'auto') === 'auto' && tcp && listen !== undefined && listen.length > 0 && !loopbackOnly(listen) && !publicly)
  const relay = init.relay ?? (init.latticeKey !== undefined && publicly)
  const libp2p = await createMeshLibp2p({
    relay: relay === false ? false : relay === true ? {} : relay,
    relayClient: init.relayClient === false ? false : { reserve },
    // a client listens on nothing: nothing to verify, no hole to punch
    natTraversal: init.natTraversal ?? (listen === undefined || listen.length > 0),
    mdns: init.mdns === true ? { serviceTag: mdnsServiceTag(lattice, init.latticeKey) } : false,
    connectionProtector: membership.protector,
    connectionGater: membership.gater,
    streamErrors,
    privateKey,
    transport: init.transport,
    listen,
    announce: init.announce,
    bootstrap: init.bootstrap,
    connectionLimits: init.connectionLimits,
    streamLimits: init.streamLimits,
    memoryLatencyMs: init.memoryLatencyMs,
    customTransport: init.customTransport,
    encryption: init.encryption,
    gossipsub: init.gossipsub,
    fastPath: init.fastPath
  })
  membership.attach(libp2p)
  const self = libp2p.peerId.toString()
  const { members, authorizer, registry: served } = await createNodeSecurity({
    libp2p, lattice, self, policy: init.policy, memberCert: init.memberCert, trustAdmins: init.trustAdmins, trustedLabels: init.trustedLabels ?? (init.trustFile !== undefined ? peer => membership.trustedLabels(peer) : undefined), limits: init.securityLimits, log
  })
  // a peer the allow-list excludes serves nothing here, even when an allowed peer relays its adverts
  const mayServe = membership.restricted ? (peer: string, iface: string) => (peer === self || membership.allows(peer)) && served.mayServe(peer, iface) : served.mayServe
  const registry = createRegistry({ self, lattice, labels: init.labels, maxTtlMs: advertIntakeLimits(init.timings, init.advertLimits).maxAdvertTtlMs, ...served, mayServe })
  const handles = createHandleLedger()
  const dialable = (): Multiaddr[] => dialableAddresses(addressVerdicts(libp2p), libp2p.peerId.toString())
  const addresses = (): string[] => dialable().map(a => a.toString())
  // what adverts carry: a relayed address once a slot is taken, no loopback to remote peers
  const advertised = (): string[] => advertisedAddresses(dialable())
  const lan = init.mdns === true ? createLanDiscovery(libp2p, log.child('mdns')) : undefined
  const onSelfUpdate = (): void => { if (started) registry.setSelf({ addresses: advertised() }) }

  const runtime: Runtime = createRuntime({
    cacheDir: init.cacheDir,
    limits: init.runtimeLimits,
    logger: log.child('component'),
    // Components' secrets (`ComponentSpec.secrets`) come from the same sources as providers' secrets, read when asked for.
    secretSource: async (key, ref) => await resolveSecretRef(key, ref),
    // A component's imports reach whoever serves them, local first, within its links.
    resolver: async (iface, func, params, from) => await outbound.call(iface, func, params, linkOptions(services.links(), from, from.linkIface ?? iface) ?? {})
  })
  if (init.trust !== undefined && init.trust.keys.length === 0) {
    throw new NodeError('invalid-config', 'trust has no keys, so no component could load: give the public key of who signs them (wasmesh key public)')
  }
  const gate = init.trust === undefined
    ? undefined
    : createComponentGate(init.trust, {
      maxComponentBytes: init.runtimeLimits?.maxComponentBytes ?? defaultRuntimeLimits.maxComponentBytes,
      maxComponentSignatureBytes: limits.maxComponentSignatureBytes
    }, log.child('trust'))
  const services = createServices({
    self,
    runtime,
    handles,
    log,
    gate,
    links: init.links,
    runtimeLimits: init.runtimeLimits,
    changed: exports => { registry.setLocal(exports); agent.changed() },
    loadChanged: () => { agent.changed('load') },
    httpLimits: init.httpLimits
  })
  const agent: AdvertAgent = createAdvertAgent({
    libp2p,
    registry,
    privateKey,
    lattice,
    timings: init.timings,
    limits: init.advertLimits,
    log: log.child('adverts'),
    local: () => ({ addresses: advertised(), labels: { ...labels }, exports: services.exports(), client: init.role === 'client', apps: apps.statusText() })
  })
  // A component replaced while calls drain is no longer served, but peers may still hold the advert that named it: its WIT is still known.
  const describer = createDescriber({ libp2p, lattice, limits, localWit: digest => services.byDigest(digest)?.wit ?? runtime.components().find(c => c.digest === digest)?.wit })
  const outbound = createOutbound({
    libp2p,
    registry,
    lattice,
    sessionLimits: init.sessionLimits,
    services,
    handles,
    describer,
    observer: init.observer,
    route: async (iface, func, params, opts) => isControlInterface(iface) ? await callControl(func, params, opts) : await router.call(iface, func, params, opts)
  })
  /**
   * A control call goes straight to the peer it names (control is served, not advertised, so the router knows no
   * server of it); the deadline runs until the results arrive, so a stream of events outlives it.
   */
  async function callControl (func: string, params: unknown[], opts: CallOptions): Promise<CallResult> {
    requireControlTarget(CONTROL_IFACE, opts.target)
    const target = opts.target as string
    const peer = registry.peer(target)
    const server: Server = {
      peer: target, local: target === self, iface: CONTROL_IFACE, digest: '', addresses: peer?.addresses ?? [], labels: peer?.labels ?? {},
      capacity: 1, load: 0, inflight: 0, latencyMs: undefined, healthy: true, plausible: true
    }
    const timeoutMs = opts.timeoutMs ?? init.routing?.callTimeoutMs ?? defaultControlCallTimeoutMs
    const deadline = new AbortController()
    const timer = setTimeout(() => { deadline.abort(new ControlError('control-timeout', `${CONTROL_IFACE}#${func} on ${target}: no answer within ${timeoutMs} ms`)) }, timeoutMs)
    const signal = opts.signal === undefined ? deadline.signal : AbortSignal.any([deadline.signal, opts.signal])
    try {
      return { results: await outbound.callServer(server, CONTROL_IFACE, func, params, signal), attempts: 1, peer: target, local: target === self }
    } catch (err) {
      throw deadline.signal.aborted ? deadline.signal.reason : err
    } finally {
      clearTimeout(timer)
    }
  }
  const router: Router = createRouter({
    registry,
    self,
    localFirst: init.routing?.localFirst,
    maxRetries: init.routing?.maxRetries,
    callTimeoutMs: init.routing?.callTimeoutMs,
    handles,
    callServer: outbound.callServer,
    local: services.localRoute
  })
  const inbound = createInbound({ libp2p, lattice, services, limits, sessionLimits: init.sessionLimits, observer: init.observer, log, describer, streamErrors, budget: inboundBudget, authorizer })
  const peering = init.peering === false ? undefined : createPeering(libp2p, registry, log.child('peering'), init.peering)
  const messaging = init.messaging === undefined
    ? undefined
    : createMessaging({
      libp2p, lattice, self, log: log.child('messaging'), serve: services.serve, unserve: services.unserve,
      servers: iface => registry.servers(iface), call: async (iface, func, params, opts) => await outbound.call(iface, func, params, opts),
      handlers: () => localHandlers({ self, runtime, services: services.all, callLocal: services.callLocal }, HANDLER)
    }, { ...init.messaging, limits: { ...init.messagingLimits, ...init.messaging.limits } })
  const gateway: Gateway | undefined = init.http === undefined
    ? undefined
    : createGateway({ ...init.http, limits: init.httpLimits, log: log.child('http'), call: async (iface, func, params, opts) => await outbound.call(iface, func, params, opts) })

  const artifacts = createArtifacts({
    libp2p,
    dir: init.dataDir !== undefined ? join(init.dataDir, 'artifacts') : undefined,
    peers: () => registry.peers(),
    onPeersChange: listener => registry.on('change', listener),
    log: log.child('artifacts'),
    config: init.artifacts,
    limits: init.artifactLimits,
    maxComponentBytes: init.runtimeLimits?.maxComponentBytes ?? defaultRuntimeLimits.maxComponentBytes
  })
  /** A reference becomes verified bytes (a file stays a path, so that the trust gate finds its `.sig`). */
  async function resolved (spec: ComponentSpec, opts: { waitForPeers?: boolean } = {}): Promise<ComponentSpec> {
    const got = await artifacts.fetch(spec.source, opts)
    if (got.from === 'file' || got.from === 'bytes') return spec
    return { ...spec, source: got.bytes, name: spec.name ?? got.name }
  }
  /** Digests pinned in the artifact cache by component id, while loaded. */
  const pinned = new Map<string, string>()
  async function loadResolved (spec: ComponentSpec): Promise<LoadedComponent> {
    const component = await services.load(spec)
    if (!pinned.has(component.id)) { artifacts.pin(component.digest); pinned.set(component.id, component.digest) }
    return component
  }
  const load = async (spec: ComponentSpec): Promise<LoadedComponent> => await loadResolved(await resolved(spec))
  async function unload (id: string): Promise<void> {
    await services.unload(id)
    const digest = pinned.get(id)
    if (digest !== undefined) { pinned.delete(id); artifacts.unpin(digest) }
  }
  function unpinAll (): void {
    for (const digest of pinned.values()) artifacts.unpin(digest)
    pinned.clear()
  }
  const control = createControl({
    self,
    log: log.child('control'),
    dataDir: init.dataDir,
    limits: { ...defaultControlLimits, ...init.controlLimits, ...init.control?.limits },
    open: init.control?.open === true,
    policyActive: () => authorizer.active,
    load,
    unload,
    components: () => runtime.components(),
    componentStats: id => runtime.stats(id),
    services: () => services.all(),
    serve: services.serve,
    unserve: services.unserve,
    links: () => services.links(),
    putLink: services.putLink,
    deleteLinks: services.deleteLinks,
    labels: () => labels,
    setLabels,
    network: () => ({
      reachability: reachabilityOf(addressVerdicts(libp2p)),
      addresses: advertised(),
      relays: relaysHeld(libp2p.getMultiaddrs()),
      relayReservations: relayStats(libp2p).relayReservations ?? 0,
      connections: libp2p.getConnections().map(c => ({ peer: c.remotePeer.toString(), address: c.remoteAddr.toString(), direction: c.direction, relayed: isRelayed(c.remoteAddr) }))
    })
  })

  function setLabels (next: Readonly<Record<string, string>>): void {
    checkLabels(next)
    labels = { ...next }
    if (!started) return
    registry.setSelf({ labels })
    agent.changed()
  }

  // Apps: every node holds every app's records and runs its own share of them (a client only holds and reads).
  const apps: AppsAgent = createApps({
    libp2p,
    lattice,
    self,
    privateKey,
    dataDir: init.dataDir,
    log: log.child('apps'),
    host: init.role !== 'client',
    limits: init.appLimits,
    syncTimeoutMs: init.timings?.syncTimeoutMs ?? defaultAdvertTimings.syncTimeoutMs,
    peers: () => registry.peers(),
    onPeersChange: fn => registry.on('change', change => { if (change.kind === 'peer') fn() }),
    load,
    unload,
    serve: services.serve,
    unserve: services.unserve,
    gateway: (listen, routes) => createGateway({ listen, routes, limits: init.httpLimits, log: log.child('http'), call: async (iface, func, params, opts) => await outbound.call(iface, func, params, opts) }),
    mayDeploy: async (peer, kind) => !authorizer.active || (await authorizer.call(peer, 'wasmesh:lattice/apps@0.1.0', kind, true)).allowed,
    changed: () => { agent.changed() }
  })

  // One running node per data directory: held from here until stop (or the process's exit), taken again on a restart.
  let lock: DataDirLock | undefined = init.dataDir !== undefined ? await lockDataDir(init.dataDir) : undefined
  let started = false
  let keeper: BootstrapKeeper | undefined
  let unwatchPeers: (() => void) | undefined

  // Every step here is undone by `stop`, in reverse order; a failed start stops what it had started.
  async function start (): Promise<void> {
    if (started) return
    if (lock === undefined && init.dataDir !== undefined) lock = await lockDataDir(init.dataDir)
    started = true
    try {
      // The cache opens and files resolve before anything listens. With bootstrap peers, OCI references and
      // digests wait until they are connected: a joining node takes the bytes from peers, not the registry.
      await artifacts.start()
      const joining = init.bootstrap !== undefined && init.bootstrap.length > 0
      const later = (spec: ComponentSpec): boolean => joining && typeof spec.source === 'string' && parseReference(spec.source).kind !== 'file'
      const sources = await Promise.all((init.components ?? []).filter(s => !later(s)).map(async s => await resolved(s)))
      // Every component is verified before anything listens: a node does not start half of what it was given.
      const admitted = await Promise.allSettled(sources.map(services.admit))
      const refused = admitted.find(a => a.status === 'rejected')
      if (refused !== undefined) throw refused.reason
      const components = admitted.map(a => (a as PromiseFulfilledResult<ComponentSpec>).value)
      await runtime.start()
      await inbound.start()
      await members.start()
      await libp2p.start()
      membership.start()
      registry.setSelf({ labels, addresses: advertised() })
      libp2p.addEventListener('self:peer:update', onSelfUpdate)
      lan?.start()
      unwatchPeers = registry.on('change', change => { if (change.kind === 'peer' && change.change === 'new') peering?.check() })
      outbound.start()
      // Adverts first: peers that connect while components load are synced with at once.
      await agent.start()
      await messaging?.start()
      // Every node serves the control interface; who may call it is the service's and the policy's to decide.
      services.serve(control.service)
      await apps.start()
      peering?.start()
      for (const spec of components) await loadResolved(spec)
      await gateway?.start()
      if (init.bootstrap !== undefined && init.bootstrap.length > 0) {
        keeper = keepConnected(libp2p, init.bootstrap.map(a => multiaddr(a)), {
          onDialError: (addr, err) => { log.debug(`bootstrap ${addr.toString()}: ${err.message}`) }
        })
        await keeper.start()
      }
      // admitted when loaded (services.load), after the peers' adverts had `artifactPeerWaitMs` to arrive
      for (const spec of (init.components ?? []).filter(later)) await loadResolved(await resolved(spec, { waitForPeers: true }))
      control.start()
    } catch (err) {
      await stop().catch(() => {})
      throw err
    }
  }

  async function stop (opts: { drainTimeoutMs?: number } = {}): Promise<void> {
    if (!started) { await releaseLock(); return }
    started = false
    // Watchers hear host-stopping, then their streams end; providers started over control stop.
    await control.stop()
    services.unserve(control.service.digest)
    const drainMs = opts.drainTimeoutMs ?? 0
    // No new HTTP requests first (503 on open connections); those in flight finish, within the drain, beside the peers' calls.
    const gatewayDrained = gateway?.stop({ drainTimeoutMs: drainMs })
    await keeper?.stop()
    keeper = undefined
    peering?.stop()
    // The app replicas go before the adverts are withdrawn, so that their last state is what peers saw.
    await apps.stop()
    await messaging?.stop()
    // Withdraw first, so that peers stop routing here before the streams go away.
    await agent.stop()
    outbound.stop()
    unwatchPeers?.()
    unwatchPeers = undefined
    await inbound.refuse()
    await Promise.all([inbound.drain(drainMs), gatewayDrained])
    lan?.stop()
    libp2p.removeEventListener('self:peer:update', onSelfUpdate)
    await membership.stop()
    await members.stop()
    await libp2p.stop()
    inbound.stop()
    await artifacts.stop()
    // The runtime's components go with it; a restart loads `init.components` again.
    services.clearComponents()
    unpinAll()
    await runtime.stop()
    router.close()
    await releaseLock()
  }

  async function releaseLock (): Promise<void> {
    await lock?.release()
    lock = undefined
  }

  const node: MeshNode = {
    peerId: self,
    lattice,
    start,
    stop,
    addresses,
    load,
    unload,
    serve: services.serve,
    unserve: services.unserve,
    components: () => runtime.components(),
    componentStats: id => runtime.stats(id),
    links: () => [...services.links()],
    putLink (link) {
      checkLinks([...services.links(), link])
      services.putLink(link)
    },
    deleteLinks: (component, target, name) => services.deleteLinks(component, target, name),
    labels: () => ({ ...labels }),
    setLabels,
    call: outbound.call,
    describe: outbound.describe,
    servers: (iface, filter) => registry.servers(iface, filter),
    peers: () => registry.peers(),
    peer: id => registry.peer(id),
    interfaces: () => registry.interfaces(),
    connections: peer => (peer === undefined ? libp2p.getConnections() : libp2p.getConnections().filter(c => c.remotePeer.toString() === peer)).map(connectionInfo),
    async dial (addr, opts = {}) {
      await libp2p.dial(multiaddr(addr), { signal: opts.signal })
    },
    on (event: 'change' | 'connection', listener: ((change: RegistryChange) => void) | ((connection: ConnectionInfo) => void)): () => void {
      if (event === 'change') return registry.on('change', listener as (change: RegistryChange) => void)
      const onOpen = (evt: CustomEvent<Connection>): void => { (listener as (connection: ConnectionInfo) => void)(connectionInfo(evt.detail)) }
      libp2p.addEventListener('connection:open', onOpen)
      return () => { libp2p.removeEventListener('connection:open', onOpen) }
    },
    httpUrl: () => started && gateway !== undefined ? gateway.url : undefined,
    httpStats: () => gateway?.stats(),
    apps,
    stats () {
      const pubsub = libp2p.services.pubsub
      return {
        inbound: inbound.inflight,
        peers: registry.peers().filter(p => !p.local).length,
        connections: libp2p.getConnections().length,
        relayedConnections: libp2p.getConnections().filter(c => isRelayed(c.remoteAddr)).length,
        reachability: reachabilityOf(addressVerdicts(libp2p)),
        ...relayStats(libp2p),
        adverts: agent.stats,
        served: inbound.served,
        inflight: services.inflight(),
        gossipsub: { peers: pubsub.getPeers().length, topicPeers: pubsub.getSubscribers(advertTopic(lattice)).length },
        inboundBuffered: inboundBudget.stats(),
        streamErrors: streamErrors.counts(),
        componentsRefused: gate?.refused() ?? {},
        connectionsRefused: membership.counts(),
        refused: authorizer.stats(),
        members: members.stats(),
        ...(messaging !== undefined ? { messaging: messaging.stats() } : {}),
        artifacts: artifacts.stats(),
        control: control.stats()
      }
    },
    reloadTrust: membership.reload,
    trustedLabels: peer => membership.trustedLabels(peer),
    setPolicy: policy => { authorizer.setPolicy(policy) }
  }
  internals.set(node, { libp2p, registry, router, runtime, handles, membership })
  return node
}
