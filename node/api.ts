// The public types of a mesh node: what createNode takes (NodeInit, limits), what it gives (MeshNode), calls, events and served code.

import type { PrivateKey } from '@libp2p/interface'
import type { AdvertLimits } from '../protocol/advert.ts'
import type { SessionLimits } from '../protocol/limits.ts'
import type { Func, Interface } from '../protocol/wit/model.ts'
import type { AdvertStats, AdvertTimings } from './adverts.ts'
import type { MeshConnectionLimits, MeshLibp2p, MeshLibp2pInit } from './libp2p.ts'
import type { Link } from './links.ts'
import type { Logger } from './logger.ts'
import type { PeeringOptions } from './peering.ts'
import type { Registry } from './registry.ts'
import type { Router } from './router.ts'
import type { ComponentConfig, LoadedComponent, Runtime, RuntimeLimits } from './runtime/index.ts'

export interface ComponentSpec extends ComponentConfig {
  /** A file path or the component's bytes. */
  readonly source: string | Uint8Array
  /** Bind this component's imports to some servers only (by labels or peer); `component` of each link is ignored. */
  readonly links?: readonly Omit<Link, 'component'>[]
}

/** Limits of what peers may make this node hold; each is enforced where the data enters. */
export interface NodeLimits {
  /** Concurrent inbound wRPC streams per connection. */
  readonly maxInboundStreams: number
  /** Concurrent outbound wRPC streams per connection. */
  readonly maxOutboundStreams: number
  /** The most bytes of WIT a describe answer may carry. */
  readonly maxDescribeBytes: number
  /** How long a describe exchange may take. */
  readonly describeTimeoutMs: number
}

export const defaultNodeLimits: NodeLimits = Object.freeze({
  maxInboundStreams: 256,
  maxOutboundStreams: 256,
  maxDescribeBytes: 4 * 1024 * 1024,
  describeTimeoutMs: 5_000
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
  /** Nodes of different lattices ignore each other's adverts and refuse each other's calls. Default `default`. */
  readonly lattice?: string
  readonly labels?: Readonly<Record<string, string>>
  /** Components to load at start. */
  readonly components?: readonly ComponentSpec[]
  /** Links of components' imports to some servers (`component` names a component by name or digest, or `*`). */
  readonly links?: readonly Link[]
  /** Transpile cache of the runtime. */
  readonly cacheDir?: string
  readonly runtimeLimits?: Partial<RuntimeLimits>
  readonly timings?: Partial<AdvertTimings>
  readonly advertLimits?: Partial<AdvertLimits>
  readonly routing?: { readonly localFirst?: boolean, readonly maxRetries?: number, readonly callTimeoutMs?: number }
  readonly limits?: Partial<NodeLimits>
  readonly sessionLimits?: Partial<SessionLimits>
  readonly connectionLimits?: Partial<MeshConnectionLimits>
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
  readonly logger?: Logger
  /** Told about every call this node makes or serves: metrics and simulations listen here. */
  readonly observer?: NodeObserver
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
  readonly adverts: AdvertStats
  readonly served: number
  readonly inflight: number
}

export interface MeshNode {
  readonly peerId: string
  readonly lattice: string
  readonly registry: Registry
  readonly router: Router
  readonly libp2p: MeshLibp2p
  readonly runtime: Runtime
  start (): Promise<void>
  /** Withdraws this node's adverts, stops taking calls, drains the ones in flight (up to `drainTimeoutMs`), then closes. */
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
  /** The links binding components' imports to some servers. */
  links (): readonly Link[]
  /**
   * Calls `func` of whichever server of `iface` the router picks. Large byte lists in `params` are
   * sent from the arrays given (no copy): leave them unchanged until the call settles.
   */
  call (iface: string, func: string, params: unknown[], opts?: CallOptions): Promise<unknown[]>
  /** The signature of `iface#func` as the mesh serves it (from a local import, or fetched from a server by digest). */
  describe (iface: string, func: string, opts?: CallOptions): Promise<Func>
  stats (): NodeStats
}
