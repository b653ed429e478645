// What a mesh node offers its users: NodeInit, MeshNode, LocalService, call options and events, limits.

import type { KeyObject } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import type { SessionLimits } from '../protocol/limits.ts'
import type { Func, Interface } from '../protocol/wit/model.ts'
import type { AdvertIntakeLimits, AdvertStats, AdvertTimings } from './adverts.ts'
import { defaultDescribeLimits } from './describe.ts'
import type { DescribeLimits } from './describe.ts'
import type { StreamErrorReason } from './libp2p/stream-errors.ts'
import type { RefusalReason } from './security/refusals.ts'
import type { InboundBudgetStats } from '../protocol/budget.ts'
import type { MeshConnectionLimits, MeshLibp2pInit, MeshStreamLimits, RelayLimits } from './libp2p.ts'
import type { Reachability } from './reachability.ts'
import type { Logger } from './logger.ts'
import type { PeerView, RegistryChange, RegistryFilter, Server } from './registry.ts'
import type { ComponentConfig, LoadedComponent, PoolStats, RuntimeLimits } from './runtime/index.ts'
import type { PeeringOptions } from './peering.ts'
import type { Link } from './links.ts'
import type { ComponentTrust, UntrustedReason } from './security/index.ts'
import { defaultMaxComponentSignatureBytes } from './security/index.ts'
import type { MemberStats } from './security/members.ts'
import type { Policy, RefusalStats } from './security/policy.ts'
import type { SecurityLimits } from './security/node-security.ts'
export { defaultSecurityLimits } from './security/node-security.ts'
export type { SecurityLimits }
import type { MessagingInit, MessagingLimits, MessagingStats } from './messaging/index.ts'
import type { GatewayStats, HttpGatewayConfig, HttpLimits } from './http/index.ts'
import type { ArtifactLimits, ArtifactsConfig, ArtifactStats } from './artifacts/index.ts'
import type { ControlInit, ControlLimits, EventHubStats } from './control/index.ts'
import type { AppLimits, Apps } from './apps/index.ts'

export type { PeerView, RegistryChange, RegistryFilter, Server }

export interface ComponentSpec extends ComponentConfig {
  /**
   * The component's bytes, or a reference (node/artifacts/README.md): a file path, `file://...`, a digest
   * `sha256:<hex>` (from this node's cache or a peer that advertises it), or an OCI reference
   * (`registry:5000/org/app:1.2`, `ghcr.io/org/app@sha256:...`, `oci://...`; its bytes from the cache, then
   * peers, then the registry). The node resolves it to verified bytes before the runtime sees it.
   */
  readonly source: string | Uint8Array
  /** Bind this component's imports to some servers only (by labels or peer); `component` of each link is ignored. */
  readonly links?: readonly Omit<Link, 'component'>[]
  /**
   * The component's signature (the text of a `wasmesh sign` `.sig`), checked under `NodeInit.trust`. Without it,
   * a file's is read from `<file>.sig`; bytes without one are unsigned. Components that come from elsewhere
   * (registries, peers) carry theirs here.
   */
  readonly signature?: Uint8Array | string
}

/** Limits of what peers may make this node hold; each is enforced where the data enters. */
export interface NodeLimits extends DescribeLimits {
  /** Concurrent inbound wRPC streams per connection. */
  readonly maxInboundStreams: number
  /** Concurrent outbound wRPC streams per connection. */
  readonly maxOutboundStreams: number
  /** The most bytes of unfinished inbound values (calls' params still arriving) the streams of one peer hold; past it they pause. */
  readonly maxInboundBufferedBytesPerPeer: number
  /** The same over all peers: what stalled calls can make this node hold, whatever peers do. */
  readonly maxInboundBufferedBytesPerNode: number
  /** An inbound stream paused this long by a spent budget is answered `overloaded` and closed. */
  readonly maxInboundPausedMs: number
  /** A component's signature (`<file>.sig`, `ComponentSpec.signature`) larger than this is refused unread (`untrusted-component`, too-large). */
  readonly maxComponentSignatureBytes: number
}

export const defaultNodeLimits: NodeLimits = Object.freeze({
  maxInboundStreams: 256,
  maxOutboundStreams: 256,
  maxInboundBufferedBytesPerPeer: 64 * 1024 * 1024,
  maxInboundBufferedBytesPerNode: 256 * 1024 * 1024,
  maxInboundPausedMs: 10_000,
  maxComponentSignatureBytes: defaultMaxComponentSignatureBytes,
  ...defaultDescribeLimits
})

export interface NodeInit {
  /** Where the node keeps its identity (`identity.key`); without it (and without `privateKey`) the node has a fresh identity each start. */
  readonly dataDir?: string
  readonly privateKey?: PrivateKey
  readonly transport?: 'tcp' | 'memory'
  readonly listen?: readonly string[]
  readonly announce?: readonly string[]
  /** Multiaddrs ending in `/p2p/<peer-id>`. */
  readonly bootstrap?: readonly string[]
  /**
   * Offer a circuit relay (v2) to members that cannot be dialled (behind NAT), with these limits. Default: on
   * with a lattice key on a node with a public address, else off. TCP only.
   */
  readonly relay?: boolean | Partial<RelayLimits>
  /**
   * `auto` (default): dial through relays, and take a slot on one the node is connected to (advertising the
   * relayed address) when it listens beyond loopback with no public address, i.e. behind NAT. `true` always
   * takes a slot; `false` uses no relay at all.
   */
  readonly relayClient?: 'auto' | boolean
  /** AutoNAT (peers dial this node's addresses back: `stats().reachability`) and DCUtR hole punching. Default on (TCP). */
  readonly natTraversal?: boolean
  /** Find members on the LAN by multicast DNS, under a service tag of this lattice (and its key). Default off. */
  readonly mdns?: boolean
  /** Nodes of different lattices ignore each other's adverts and refuse each other's calls. Default `default`. */
  readonly lattice?: string
  /**
   * A private lattice: the bytes of its lattice key file (`readLatticeKey` of node/security). Every
   * connection is protected by it (`@libp2p/pnet`, before noise): a peer without the same key cannot
   * connect, so it reads no advert and makes no call.
   */
  readonly latticeKey?: Uint8Array
  /** Peers allowed to connect, by peer id; with `trustFile`, the union. Without either, any peer (holding the lattice key) may. */
  readonly allowPeers?: readonly string[]
  /** A trust file of peer ids and the labels this node trusts them with (node/security/allow-list.ts); watched and reloaded on change. */
  readonly trustFile?: string
  /** Keys starting with `wasmesh.` are reserved (the advert carries its own fields under them): `invalid-config`. */
  readonly labels?: Readonly<Record<string, string>>
  /**
   * `client`: a short-lived client (`wasmesh call`, `wasmesh mesh`) that serves nothing; its adverts say so, and
   * nodes log its coming and going at debug, not as a peer joining. Default `node`.
   */
  readonly role?: 'node' | 'client'
  /** Components to load at start. */
  readonly components?: readonly ComponentSpec[]
  /**
   * Load only components signed by one of these keys (`wasmesh sign`): every `components` entry and every
   * `load` is verified first, and refused with `untrusted-component` when unsigned, tampered, signed by another
   * key or importing more than its signature allows. A start verifies all of `components` before it listens.
   */
  readonly trust?: ComponentTrust
  /** Links of components' imports to some servers (`component` names a component by name or digest, or `*`). */
  readonly links?: readonly Link[]
  /** Transpile cache of the runtime. */
  readonly cacheDir?: string
  readonly runtimeLimits?: Partial<RuntimeLimits>
  readonly timings?: Partial<AdvertTimings>
  readonly advertLimits?: Partial<AdvertIntakeLimits>
  readonly routing?: { readonly localFirst?: boolean, readonly maxRetries?: number, readonly callTimeoutMs?: number }
  readonly limits?: Partial<NodeLimits>
  readonly sessionLimits?: Partial<SessionLimits>
  readonly connectionLimits?: Partial<MeshConnectionLimits>
  /** The muxer's per-stream buffering (yamux window and read buffer, early streams). */
  readonly streamLimits?: Partial<MeshStreamLimits>
  /** Fixed latency of the memory transport (simulations). */
  readonly memoryLatencyMs?: number
  /** A transport instead of TCP/memory (simulations model loss and partitions with one). */
  readonly customTransport?: MeshLibp2pInit['customTransport']
  /** `plaintext` only for simulations in one process. Default `noise`. */
  readonly encryption?: 'noise' | 'plaintext'
  /** How many peers to stay connected to, dialling peers known from adverts (`false`: bootstrap peers and servers called only). */
  readonly peering?: Partial<PeeringOptions> | false
  /** Gossipsub overrides (mesh degrees, heartbeat); the signature policy stays StrictSign. */
  readonly gossipsub?: MeshLibp2pInit['gossipsub']
  /** The libp2p layer's per-call fast path (`MeshLibp2pInit.fastPath`). Default on. */
  readonly fastPath?: boolean
  /**
   * Who may call what and who may serve what (`loadPolicyFile`, node/security/). With one, calls to services that
   * touch data are refused unless a rule allows them, and only peers the serve rules admit are routed to. None:
   * every peer may call everything and serve anything. This node's own calls are never checked.
   */
  readonly policy?: Policy
  /** This node's member certificate (its text, from `wasmesh key sign-member`), presented to peers that ask; it must name this node's peer id. */
  readonly memberCert?: string
  /** Admin public keys whose member certificates this node trusts: the only source of peers' labels a policy or a label filter believes. */
  readonly trustAdmins?: readonly KeyObject[]
  /**
   * Labels this node trusts for a peer from elsewhere than member certificates (a trust file of peer ids and labels);
   * they win over a certificate's. When what it answers changes, `setPolicy` again drops the verdicts made with it.
   */
  readonly trustedLabels?: (peer: string) => Readonly<Record<string, string>> | undefined
  readonly securityLimits?: Partial<SecurityLimits>
  readonly logger?: Logger
  /** An HTTP/1.1 gateway on this node: its requests go to servers of wrpc:http/incoming-handler in the mesh (node/http/). */
  readonly http?: HttpGatewayConfig
  /** The gateway's limits (node/http/limits.ts), and the body buffering of this node's HTTP components. */
  readonly httpLimits?: Partial<HttpLimits>
  /** Told about every call this node makes or serves: metrics and simulations listen here. */
  readonly observer?: NodeObserver
  /**
   * Turns on `wasmcloud:messaging` over the lattice's gossip (node/messaging/README.md): this node serves
   * `consumer` to its own components and hands messages to the subscribed ones' `handler`. Off by default.
   */
  readonly messaging?: MessagingInit
  /** Limits of messaging by name (what `--limit` sets); `messaging.limits` wins over them. Used only when `messaging` is on. */
  readonly messagingLimits?: Partial<MessagingLimits>
  /** Where OCI references are pulled from: plain-HTTP registries, credentials by registry (node/artifacts/). */
  readonly artifacts?: ArtifactsConfig
  /** The artifact cache's size, registry and peer-transfer limits (node/artifacts/limits.ts). */
  readonly artifactLimits?: Partial<ArtifactLimits>
  /**
   * The control interface (`wasmesh:lattice/control`, node/control/) every node serves: `open` lets peers use it
   * when there is no policy (`wasmesh node --control`); with a policy, its rules decide. Its limits by name.
   */
  readonly control?: ControlInit
  /** The control interface's limits by name (what `--limit` sets); `control.limits` wins over them. */
  readonly controlLimits?: Partial<ControlLimits>
  /** Limits and timings of applications (node/apps/README.md), by name (what `--limit` sets). */
  readonly appLimits?: Partial<AppLimits>
}

export interface CallEvent {
  /** `outbound`: this node called (its own code or a component's import); `inbound`: a peer called this node. */
  readonly direction: 'inbound' | 'outbound'
  readonly iface: string
  readonly func: string
  /** `ok`, or the error's code. */
  readonly outcome: string
  readonly durationMs: number
  /** Outbound: how many servers were tried. */
  readonly attempts?: number
}

export interface NodeObserver {
  call? (event: CallEvent): void
}

export interface StopOptions {
  /** After withdrawing and refusing new calls, wait this long at most for calls in flight to finish. Default 0. */
  readonly drainTimeoutMs?: number
}

export interface CallOptions {
  /** A resource handle the call passes: the call goes only to the peer that issued it. */
  readonly handle?: Uint8Array
  /** Only this peer. */
  readonly target?: string
  /** Only servers with all of these labels. */
  readonly labels?: Readonly<Record<string, string>>
  /** Only exports of this component, by its name or digest. */
  readonly component?: string
  readonly timeoutMs?: number
  readonly signal?: AbortSignal
}

/** Something this node serves: a component today, a native provider later. */
export interface LocalService {
  /** Content digest: the component's sha256, by which callers fetch its WIT. */
  readonly digest: string
  readonly name: string
  /** Exported interfaces, resolved. */
  readonly interfaces: readonly Interface[]
  /** Complete WIT of what it exports and imports (answered to describe requests). */
  readonly wit: string
  /** It holds or reaches data (a database, a store): under a policy, no peer may call it unless a rule allows it. */
  readonly touchesData?: boolean
  /** False: served to callers that name this node (`CallOptions.target`), but left out of its adverts (the control interface). Default true. */
  readonly advertised?: boolean
  readonly capacity: number
  /** Byte arrays of 64 KiB and more in the results are sent as they are (no copy): do not change them afterwards. */
  call (iface: string, func: string, params: unknown[], ctx: ServiceCallContext): Promise<unknown[]>
  /** A peer disconnected: release what it held (resource handles owned per caller). */
  peerGone? (peer: string): void
}

export interface ServiceCallContext {
  /** The peer id of the caller; this node's own id for calls from its own components or code. */
  readonly caller: string
}

export interface NodeStats {
  /** Calls from peers in flight now. */
  readonly inbound: number
  readonly peers: number
  readonly connections: number
  /** Of `connections`, those through a circuit relay. */
  readonly relayedConnections: number
  /** How peers can reach this node: `public` (an address AutoNAT confirmed, or a public one not yet checked), `relayed`, `private`. */
  readonly reachability: Reachability
  /** Peers holding a relay slot on this node now (with `relay`). */
  readonly relayReservations?: number
  readonly adverts: AdvertStats
  readonly served: number
  readonly inflight: number
  readonly gossipsub: {
    /** Peers gossipsub knows. */
    readonly peers: number
    /** Peers subscribed to this lattice's advert topic. */
    readonly topicPeers: number
  }
  /** Bytes inbound calls hold of values their peers have not finished sending, and the streams paused for want of budget. */
  readonly inboundBuffered: InboundBudgetStats
  /** Streams given up on a path a peer can reach (reset before they were answered, a handler that failed), by reason. */
  readonly streamErrors: Partial<Record<StreamErrorReason, number>>
  /** Components refused under `trust` (`untrusted-component`), by reason. */
  readonly componentsRefused: Partial<Record<UntrustedReason, number>>
  /** Connections refused for membership (no or another lattice key, not on the allow-list), by reason. */
  readonly connectionsRefused: Partial<Record<RefusalReason, number>>
  /** Calls the policy refused, by interface and rule. */
  readonly refused: RefusalStats
  /** Peers' member certificates verified and refused. */
  readonly members: MemberStats
  /** Watchers of the control interface's events now, and those dropped for falling behind. */
  readonly control: EventHubStats
  /** Messages published, delivered and dropped (by reason), when messaging is on. */
  readonly messaging?: MessagingStats
  /** The artifact cache, where components came from, peers' refused transfers, registry requests, bytes served to peers. */
  readonly artifacts: ArtifactStats
}

/** An open libp2p connection, as `connections()` lists it. */
export interface ConnectionInfo {
  readonly peer: string
  /** `inbound`: the peer dialled this node. */
  readonly direction: 'inbound' | 'outbound'
  readonly remoteAddr: string
  /** Through a circuit relay (`/p2p-circuit` in the address), not direct. */
  readonly relayed: boolean
  /** The protocol of each open stream (`''` while one is being negotiated). */
  readonly streams: readonly string[]
}

export interface DialOptions {
  readonly signal?: AbortSignal
}

export interface MeshNode {
  readonly peerId: string
  readonly lattice: string
  /** Starts libp2p, serves, advertises and loads `components`; a failed start undoes what it did and throws. */
  start (): Promise<void>
  /**
   * Withdraws this node's adverts, stops taking calls, drains the ones in flight (up to `drainTimeoutMs`),
   * then closes; undoes everything `start` did, so the node can be started again.
   */
  stop (opts?: StopOptions): Promise<void>
  /** Multiaddrs other nodes can dial, each ending in `/p2p/<peer-id>`. */
  addresses (): string[]
  /** Loads a component, serves its exports and advertises them. */
  load (spec: ComponentSpec): Promise<LoadedComponent>
  /** Stops serving a component; the next advert no longer lists its exports. */
  unload (id: string): Promise<void>
  /** Serves and advertises native code (a provider) exactly like a component's exports. */
  serve (service: LocalService): void
  /** Stops serving what `serve` added under this digest. */
  unserve (digest: string): void
  components (): LoadedComponent[]
  /** The instance pool of a loaded component: live instances, busy ones, calls waiting. */
  componentStats (id: string): PoolStats
  /** The links binding components' imports to some servers. */
  links (): readonly Link[]
  /** Adds a link in force from the next call on (`invalid-link` when it does not parse or contradicts others). */
  putLink (link: Link): void
  /** Removes the links of `component` to `target` named `name` (undefined: default); returns how many went. */
  deleteLinks (component: string, target: string, name?: string): number
  /** This node's labels, as it advertises them. */
  labels (): Readonly<Record<string, string>>
  /** Replaces this node's labels; advertised at once when started (`invalid-config` for reserved `wasmesh.` keys). */
  setLabels (labels: Readonly<Record<string, string>>): void
  /**
   * Calls `func` of whichever server of `iface` the router picks. Large byte lists in `params` are
   * sent from the arrays given (no copy): leave them unchanged until the call settles.
   */
  call (iface: string, func: string, params: unknown[], opts?: CallOptions): Promise<unknown[]>
  /** The signature of `iface#func` as the mesh serves it (from a local import, or fetched from a server by digest). */
  describe (iface: string, func: string, opts?: CallOptions): Promise<Func>
  /** Who serves `iface` (any compatible version), this node included, healthy or backing off, as the router sees them. */
  servers (iface: string, filter?: RegistryFilter): Server[]
  /** Every peer known from its adverts, and this node itself (`local: true`). */
  peers (): PeerView[]
  peer (id: string): PeerView | undefined
  /** Every exported interface id -> the peers (this node included) exporting exactly it. */
  interfaces (): Map<string, string[]>
  /** Open libp2p connections, all of them or those to one peer. */
  connections (peer?: string): ConnectionInfo[]
  /** Connects to a multiaddr (bootstrap peers are dialled, and re-dialled, by the node itself). */
  dial (addr: string, opts?: DialOptions): Promise<void>
  /** `change`: what the registry knows changed (a peer's advert, this node's exports); `connection`: a connection opened. Returns the unsubscribe. */
  on (event: 'change', listener: (change: RegistryChange) => void): () => void
  on (event: 'connection', listener: (connection: ConnectionInfo) => void): () => void
  stats (): NodeStats
  /**
   * Reads the trust file again (as a change to it does by itself): peers no longer on it are
   * disconnected; a file that does not parse keeps the old list (logged). Returns whether the new
   * list is in force; true without a trust file.
   */
  reloadTrust (): Promise<boolean>
  /**
   * The labels the trust file gives `peer` (`{}` when allowed by id only); undefined for a peer not on
   * the allow-list, or when there is no allow-list. Unlike a peer's advertised labels, these are the operator's word.
   */
  trustedLabels (peer: string): Readonly<Record<string, string>> | undefined
  /** Puts a new policy in force (or none), e.g. after its file changed; cached verdicts are dropped. */
  setPolicy (policy: Policy | undefined): void
  /** The HTTP gateway's address (`http://host:port`) when `init.http` is set and the node started. */
  httpUrl (): string | undefined
  /** The HTTP gateway's counters (requests in flight, answers by status, refusals by limit) when `init.http` is set. */
  httpStats (): GatewayStats | undefined
  /** Applications from wadm manifests: deploy, undeploy, list, status, history (node/apps/README.md). */
  readonly apps: Apps
}
