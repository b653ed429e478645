// The mesh node's libp2p configuration (transports, security, muxing, services, limits) and the bootstrap keeper.

import { randomUUID } from 'node:crypto'
import { autoNAT } from '@libp2p/autonat'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { mdns } from '@libp2p/mdns'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub, GossipsubOpts } from '@libp2p/gossipsub'
import type { RPC } from '@libp2p/gossipsub/message'
import { identify } from '@libp2p/identify'
import type { Identify } from '@libp2p/identify'
import { memory } from '@libp2p/memory'
import { noise } from '@libp2p/noise'
import { plaintext } from '@libp2p/plaintext'
import { ping } from '@libp2p/ping'
import type { Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import type { Libp2pOptions } from 'libp2p'
import type { ConnectionGater, ConnectionProtector, Libp2p, PrivateKey, Startable } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createFlushGroup, fastMuxer } from './libp2p/fast-muxer.ts'
import { throttleProtocolMerges } from './libp2p/protocol-merges.ts'
import { quietLogger } from './libp2p/quiet-logger.ts'
import type { StreamErrors } from './libp2p/stream-errors.ts'
import { wholeMessages } from './libp2p/whole-messages.ts'

/** The wRPC protocol id: one stream per invocation carrying the wRPC framed stream. */
export const WRPC_PROTOCOL = '/wrpc/0.0.1'

export type MeshServices = {
  identify: Identify
  ping: Ping
  pubsub: GossipSub
  /** With `natTraversal`: AutoNAT (peers dial our addresses back) and DCUtR (relayed connections upgraded to direct ones). */
  autoNAT?: unknown
  dcutr?: unknown
  /** With `relay`: a circuit relay v2 server for peers that cannot be dialled. */
  relay?: unknown
}

/** What this node lets peers use of it as a circuit relay (`--relay`); each bound is enforced by the relay server. */
export interface RelayLimits {
  /** Peers holding a reservation (a relayed address through this node) at once. */
  readonly maxRelayReservations: number
  /** How long a reservation lasts before the peer must renew it. */
  readonly relayReservationTtlMs: number
  /**
   * How long one relayed connection may stay open, and how many bytes it may carry (each way); 0: no bound.
   * A bounded connection is a "limited" one to libp2p: then only the protocols that opt in run on it, so by
   * default relayed connections are not bounded (members only: a private lattice's key or allow-list) and the
   * reservation count bounds what a relay carries.
   */
  readonly relayConnectionDurationMs: number
  readonly relayConnectionDataBytes: number
  /** Relay (hop) requests being handled at once. */
  readonly maxRelayHopStreams: number
}

export const defaultRelayLimits: RelayLimits = Object.freeze({
  maxRelayReservations: 32,
  relayReservationTtlMs: 2 * 60 * 60 * 1000,
  relayConnectionDurationMs: 0,
  relayConnectionDataBytes: 0,
  maxRelayHopStreams: 64
})

export type MeshLibp2p = Libp2p<MeshServices>

/** Connection limits; each default is chosen for a mesh where any node may call any other directly. */
export interface MeshConnectionLimits {
  /**
   * The most open connections. Calls go straight to the serving peer and gossipsub keeps up to
   * Dhi (12) mesh peers per topic plus gossip targets, so a node needs one connection per peer it
   * calls; 256 covers a lattice of a few hundred nodes while bounding what idle connections cost
   * (a yamux session each, and a keep-alive ping every 30 s). libp2p's default is 300.
   */
  readonly maxConnections: number
  /**
   * Inbound connections still in their noise/yamux handshake at once. Handshakes cost CPU before
   * the peer is authenticated, so this is small; 32 (libp2p: 10) lets a bootstrap node take a
   * burst of joiners after a restart, the rest retry with backoff.
   */
  readonly maxIncomingPendingConnections: number
  /**
   * New inbound connections per second from one IP address. libp2p's 5 rejects a legitimate
   * restart of a handful of nodes behind one NAT or on one machine; 16 still caps what one host
   * can make us spend on handshakes. Memory-transport connections have no IP and are not limited.
   */
  readonly inboundConnectionThreshold: number
  /**
   * How long a dial (all addresses, including the upgrade) may take. A dial is on the path of a
   * call's first attempt: a peer unreachable within 5 s (libp2p: 10 s) is treated as down so the
   * router can fail over inside the call's deadline.
   */
  readonly dialTimeoutMs: number
  /**
   * How long an inbound connection may take from accept to a muxed connection: a private lattice's
   * nonce exchange, noise, the muxer. A peer that connects and sends nothing (or a byte at a time)
   * holds one of `maxIncomingPendingConnections` this long, then is closed (and counted as a
   * `handshake` refusal in a private lattice). libp2p's default, 10 s.
   */
  readonly inboundUpgradeTimeoutMs: number
}

export const defaultConnectionLimits: MeshConnectionLimits = Object.freeze({
  maxConnections: 256,
  maxIncomingPendingConnections: 32,
  inboundConnectionThreshold: 16,
  dialTimeoutMs: 5_000,
  inboundUpgradeTimeoutMs: 10_000
})

/** Per-stream buffering of the muxer: bounds what one stream can make us hold. */
export interface MeshStreamLimits {
  /**
   * The most receive window one yamux stream may grow to. While a reader is paused the peer can
   * still send this much, so it must stay below `maxReadBufferLength` or a slow reader's stream
   * is reset instead of slowed down. 4 MiB (yamux: 16 MiB) keeps a 1 MiB payload to one round trip.
   */
  readonly maxStreamWindowBytes: number
  /** Unread bytes one stream may hold while paused before the muxer resets it. */
  readonly maxReadBufferBytes: number
  /**
   * Inbound streams a connection may open before this node's libp2p has finished setting the
   * connection up (yamux's `maxEarlyStreams`); one more aborts the whole connection. A dialer on
   * the fast path opens its streams without waiting for negotiation, so a burst of calls on a
   * fresh connection arrives in that window: yamux's default of 10 cut every call of a burst of
   * 20 off (found by the negotiation tests). 256, as the wRPC streams allowed per connection.
   */
  readonly maxEarlyStreams: number
}

export const defaultStreamLimits: MeshStreamLimits = Object.freeze({
  maxStreamWindowBytes: 4 * 1024 * 1024,
  maxReadBufferBytes: 8 * 1024 * 1024,
  maxEarlyStreams: 256
})

/** What is wrong with these stream limits together, if anything: a window past the read buffer resets a paused stream instead of slowing it. */
export function streamLimitsProblem (streams: MeshStreamLimits): string | undefined {
  if (streams.maxStreamWindowBytes <= streams.maxReadBufferBytes) return undefined
  return `maxStreamWindowBytes (${streams.maxStreamWindowBytes}) must not exceed maxReadBufferBytes (${streams.maxReadBufferBytes}): a paused stream would be reset`
}

export interface MeshLibp2pInit {
  readonly privateKey: PrivateKey
  /** `memory` connects nodes of one process (simulations); default `tcp`. */
  readonly transport?: 'tcp' | 'memory'
  /** Listen multiaddrs; default all interfaces on a free TCP port, or a fresh `/memory/<uuid>`. */
  readonly listen?: readonly string[]
  /** Addresses to announce instead of the listen addresses (e.g. a public address behind NAT). */
  readonly announce?: readonly string[]
  /** Bootstrap peers' multiaddrs, each ending in `/p2p/<peer-id>`; enables `@libp2p/bootstrap`. */
  readonly bootstrap?: readonly string[]
  readonly connectionLimits?: Partial<MeshConnectionLimits>
  readonly streamLimits?: Partial<MeshStreamLimits>
  /** Overrides of the gossipsub options (the signature policy stays StrictSign). */
  readonly gossipsub?: Partial<Omit<GossipsubOpts, 'globalSignaturePolicy'>>
  /** Fixed latency per buffer of the memory transport, in ms (simulations). */
  readonly memoryLatencyMs?: number
  /**
   * A libp2p transport to use instead of TCP or memory: simulations wrap `@libp2p/memory` to model
   * loss, jitter and partitions. Its listen addresses must be given in `listen`.
   */
  readonly customTransport?: NonNullable<Libp2pOptions<MeshServices>['transports']>[number]
  /** `plaintext` skips encryption: only for simulations of hundreds of nodes in one process, never on a network. */
  readonly encryption?: 'noise' | 'plaintext'
  /**
   * The per-call fast path of the libp2p layer (see node/libp2p/): yamux frames coalesced into one
   * write per event-loop turn, each noise message written whole, `/wrpc/0.0.1` negotiated without a
   * round trip, the per-stream peer-store write throttled, libp2p's loggers disabled unless DEBUG is
   * set. Default on; off gives stock js-libp2p behaviour (the benchmarks' before).
   */
  readonly fastPath?: boolean
  /** Protocols the fast path negotiates without a round trip (see `fastMuxer`). Default `/wrpc/0.0.1`. */
  readonly optimisticProtocols?: readonly string[]
  /** Where the fast path counts streams it gave up while negotiating them (the node's `stats().streamErrors`). */
  readonly streamErrors?: StreamErrors
  /** A private lattice's protector (node/security): applied to the raw connection before noise, on every transport. */
  readonly connectionProtector?: () => ConnectionProtector
  /** Who may connect (node/security's allow-list gater). */
  readonly connectionGater?: ConnectionGater
  /** Offer a circuit relay v2 to peers that cannot be dialled (TCP only). */
  readonly relay?: Partial<RelayLimits> | false
  /**
   * Dial and listen through circuit relays: with `reserve`, also take a slot on a relay the node is connected
   * to and advertise the relayed address (a node behind NAT). TCP only.
   */
  readonly relayClient?: { readonly reserve: boolean } | false
  /** AutoNAT (is this node reachable?) and DCUtR (hole punching over relayed connections). TCP only; default on. */
  readonly natTraversal?: boolean
  /** Find peers on the LAN by multicast DNS, under this service tag (one per lattice). TCP only. */
  readonly mdns?: { readonly serviceTag: string, readonly intervalMs?: number } | false
}

/**
 * Gossipsub for adverts: the defaults of the gossipsub spec for the mesh degree (D 6, 4..12,
 * Dout 2) and a 1 s heartbeat; no floodsub fallback (every wasmesh node speaks gossipsub, and a
 * floodsub peer would bypass mesh limits); publishing with no topic peers is not an error (a lone
 * node still publishes its adverts); inbound RPCs are capped at 1 MiB (adverts are small). The IP
 * colocation penalty is off: every `wasmesh call` is a fresh peer id, so a dozen calls from one
 * machine (or one NAT) would get every real node there graylisted, and adverts are signed and
 * checked one by one, so that Sybil defence buys nothing here.
 */
/** How long gossipsub remembers a message id it saw (its own default, pinned): copies within it are dropped unseen. */
export const gossipSeenTtlMs = 120_000

const defaultGossipsub: Partial<GossipsubOpts> = {
  seenTTL: gossipSeenTtlMs,
  fastMsgIdFn: signedMessageKey,
  D: 6,
  Dlo: 4,
  Dhi: 12,
  Dout: 2,
  heartbeatInterval: 1_000,
  fallbackToFloodsub: false,
  allowPublishToZeroTopicPeers: true,
  emitSelf: false,
  maxInboundDataLength: 1024 * 1024,
  scoreParams: { IPColocationFactorWeight: 0 }
}

/**
 * The key duplicates are told by before gossipsub verifies anything: the author and seqno, which is what
 * StrictSign's message id is made of too. Without it gossipsub checks the Ed25519 signature of every copy
 * that arrives, duplicates included (about 4 per advert in a mesh of D 6), and only then finds it has seen
 * the message: that was a fifth of a 100-node simulation's CPU. A copy is recognised only after one with
 * the same key passed the signature check (gossipsub caches the key of valid messages only), so a forged
 * copy arriving first cannot shadow the real one; what changes is that a tampered duplicate of a message
 * already held is ignored as a duplicate instead of costing its forwarder score. The two fields are a
 * multihash (self-delimiting) and 8 bytes, so the binary string cannot collide across messages; a message
 * missing either is refused by StrictSign, so its key is never cached.
 */
export function signedMessageKey (msg: RPC.Message): string {
  const from = msg.from ?? new Uint8Array(0)
  const seqno = msg.seqno ?? new Uint8Array(0)
  let key = ''
  for (const b of from) key += String.fromCharCode(b)
  for (const b of seqno) key += String.fromCharCode(b)
  return key
}

/**
 * A libp2p 3 node for the mesh: TCP or memory, noise, yamux, identify, ping, gossipsub
 * (StrictSign) as `services.pubsub`, and bootstrap discovery when bootstrap peers are given. It is
 * NOT started: the mesh node starts it after registering its handlers.
 */
export async function createMeshLibp2p (init: MeshLibp2pInit): Promise<MeshLibp2p> {
  const conn = { ...defaultConnectionLimits, ...init.connectionLimits }
  const streams = { ...defaultStreamLimits, ...init.streamLimits }
  const problem = streamLimitsProblem(streams)
  if (problem !== undefined) throw new RangeError(problem)
  const useMemory = init.transport === 'memory'
  const listen = init.listen != null
    ? [...init.listen]
    : [useMemory ? `/memory/${randomUUID()}` : '/ip4/0.0.0.0/tcp/0']
  const fast = init.fastPath ?? true
  // relays, AutoNAT, DCUtR and mDNS are about real networks: simulations (memory, custom transports) get none of them
  const real = !useMemory && init.customTransport === undefined
  const relayClient = real && typeof init.relayClient === 'object'
  if (relayClient && typeof init.relayClient === 'object' && init.relayClient.reserve) listen.push('/p2p-circuit')
  const relay = real && init.relay !== undefined && init.relay !== false ? { ...defaultRelayLimits, ...init.relay } : undefined
  const natTraversal = real && (init.natTraversal ?? true)
  const muxer = yamux({
    maxEarlyStreams: streams.maxEarlyStreams,
    streamOptions: {
      maxStreamWindowSize: streams.maxStreamWindowBytes,
      maxReadBufferLength: streams.maxReadBufferBytes
    }
  })
  const logger = fast ? quietLogger() : undefined
  const flushGroup = createFlushGroup()
  const options: Libp2pOptions<MeshServices> = {
    start: false,
    ...(logger !== undefined ? { logger } : {}),
    privateKey: init.privateKey,
    addresses: {
      listen,
      ...(init.announce != null && init.announce.length > 0 ? { announce: [...init.announce] } : {})
    },
    ...(init.connectionProtector !== undefined ? { connectionProtector: init.connectionProtector } : {}),
    ...(init.connectionGater !== undefined ? { connectionGater: init.connectionGater } : {}),
    transports: [
      init.customTransport ?? (useMemory ? memory({ latency: init.memoryLatencyMs }) : tcp()),
      ...(relayClient ? [circuitRelayTransport()] : [])
    ],
    connectionEncrypters: [init.encryption === 'plaintext' ? plaintext() : fast ? wholeMessages(noise()) : noise()],
    streamMuxers: [fast ? fastMuxer(muxer, { optimistic: init.optimisticProtocols ?? [WRPC_PROTOCOL], group: flushGroup, errors: init.streamErrors }) : muxer],
    connectionManager: {
      maxConnections: conn.maxConnections,
      maxIncomingPendingConnections: conn.maxIncomingPendingConnections,
      inboundConnectionThreshold: conn.inboundConnectionThreshold,
      dialTimeout: conn.dialTimeoutMs,
      inboundUpgradeTimeout: conn.inboundUpgradeTimeoutMs
    },
    peerDiscovery: [
      ...(init.bootstrap != null && init.bootstrap.length > 0 ? [bootstrap({ list: [...init.bootstrap], timeout: 0 })] : []),
      ...(real && init.mdns !== undefined && init.mdns !== false ? [mdns({ serviceTag: init.mdns.serviceTag, interval: init.mdns.intervalMs ?? 10_000 })] : [])
    ],
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        ...defaultGossipsub,
        ...init.gossipsub,
        globalSignaturePolicy: 'StrictSign'
      }),
      ...(natTraversal ? { autoNAT: autoNAT(), dcutr: dcutr() } : {}),
      ...(relay !== undefined
        ? {
            relay: circuitRelayServer({
              maxInboundHopStreams: relay.maxRelayHopStreams,
              reservations: {
                maxReservations: relay.maxRelayReservations,
                reservationTtl: relay.relayReservationTtlMs,
                applyDefaultLimit: relay.relayConnectionDurationMs > 0 || relay.relayConnectionDataBytes > 0,
                ...(relay.relayConnectionDurationMs > 0 ? { defaultDurationLimit: relay.relayConnectionDurationMs } : {}),
                ...(relay.relayConnectionDataBytes > 0 ? { defaultDataLimit: BigInt(relay.relayConnectionDataBytes) } : {})
              }
            })
          }
        : {})
    }
  }
  const libp2p = await createLibp2p(options)
  if (fast) {
    throttleProtocolMerges(libp2p)
    // what the muxers hold for the end of the turn leaves before stop closes sockets (see FlushGroup)
    const stop = libp2p.stop.bind(libp2p)
    libp2p.stop = async () => {
      flushGroup.stop()
      await stop()
    }
    const start = libp2p.start.bind(libp2p)
    libp2p.start = async () => {
      flushGroup.stopping = false
      await start()
    }
  }
  return libp2p
}

export interface KeepConnectedOptions {
  /** Delay before the second round of dials when none succeeded; doubles per failed round. */
  readonly initialRetryDelayMs?: number
  /** The longest delay between rounds. */
  readonly maxRetryDelayMs?: number
  /** How long one dial may take before it counts as failed. */
  readonly dialTimeoutMs?: number
  /** Told about every failed dial (for logging). */
  readonly onDialError?: (addr: Multiaddr, err: Error) => void
}

export interface BootstrapKeeper extends Startable {
  isStarted(): boolean
}

const defaultKeepConnected = {
  initialRetryDelayMs: 500,
  maxRetryDelayMs: 30_000,
  dialTimeoutMs: 5_000
}

/**
 * Keeps the node attached to the mesh through its bootstrap peers. `@libp2p/bootstrap` tags them
 * and dials each once; this adds what it lacks: every bootstrap address is dialled at start,
 * again after a backoff (doubling, capped, jittered) while none could be reached, and again
 * whenever the node is left with zero connections. `stop()` cancels timers and dials in flight.
 */
export function keepConnected (libp2p: Libp2p, bootstrapAddrs: readonly Multiaddr[], opts: KeepConnectedOptions = {}): BootstrapKeeper {
  return new BootstrapKeeperImpl(libp2p, bootstrapAddrs, { ...defaultKeepConnected, ...opts })
}

type KeeperOptions = Required<Omit<KeepConnectedOptions, 'onDialError'>> & Pick<KeepConnectedOptions, 'onDialError'>

class BootstrapKeeperImpl implements BootstrapKeeper {
  readonly #libp2p: Libp2p
  readonly #addrs: readonly Multiaddr[]
  readonly #opts: KeeperOptions
  #controller: AbortController | null = null
  #timer: ReturnType<typeof setTimeout> | undefined
  #failedRounds = 0
  #dialing = false
  /** Until one bootstrap dial succeeded, rounds go on even when other peers connected to us. */
  #reachedBootstrap = false
  #connectedAt = 0

  constructor (libp2p: Libp2p, addrs: readonly Multiaddr[], opts: KeeperOptions) {
    this.#libp2p = libp2p
    const self = libp2p.peerId.toString()
    // a bootstrap node may list itself
    this.#addrs = addrs.filter(a => a.getComponents().findLast(c => c.name === 'p2p')?.value !== self)
    this.#opts = opts
  }

  isStarted (): boolean {
    return this.#controller != null
  }

  start (): void {
    if (this.#controller != null) return
    this.#controller = new AbortController()
    this.#failedRounds = 0
    this.#reachedBootstrap = false
    this.#libp2p.addEventListener('connection:close', this.#onConnectionClose)
    this.#schedule(0)
  }

  stop (): void {
    if (this.#controller == null) return
    this.#libp2p.removeEventListener('connection:close', this.#onConnectionClose)
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#controller.abort(new Error('bootstrap keeper stopped'))
    this.#controller = null
  }

  readonly #onConnectionClose = (): void => {
    if (this.#dialing || this.#timer !== undefined) return
    // a peer that accepts and drops us at once must not make us redial in a tight loop: the
    // backoff only starts over once we stayed connected for a while
    if (performance.now() - this.#connectedAt > this.#opts.maxRetryDelayMs) this.#failedRounds = 0
    // the closed connection may still be listed while the event is dispatched: look once it is gone
    this.#schedule(this.#failedRounds === 0 ? 0 : this.#backoffMs())
  }

  #backoffMs (): number {
    const ceiling = Math.min(this.#opts.maxRetryDelayMs, this.#opts.initialRetryDelayMs * 2 ** Math.min(this.#failedRounds, 30))
    // jitter keeps nodes that lost the same bootstrap peer from redialling it in lockstep
    return ceiling / 2 + Math.random() * ceiling / 2
  }

  #schedule (delayMs: number): void {
    if (this.#controller == null || this.#timer !== undefined) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.#round()
    }, delayMs)
  }

  #isolated (): boolean {
    // a connection the peer just hung up on can still be listed, closing, when the round runs;
    // counting it would end the round with nothing scheduled and leave the node isolated for good
    return !this.#libp2p.getConnections().some(c => c.status === 'open')
  }

  async #round (): Promise<void> {
    const controller = this.#controller
    if (controller == null || this.#dialing || this.#addrs.length === 0) return
    if (this.#reachedBootstrap && !this.#isolated()) return
    this.#dialing = true
    let reached = false
    try {
      const results = await Promise.allSettled(this.#addrs.map(async addr => {
        const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(this.#opts.dialTimeoutMs)])
        try {
          await this.#libp2p.dial(addr, { signal })
        } catch (err) {
          if (!controller.signal.aborted) this.#opts.onDialError?.(addr, err instanceof Error ? err : new Error(String(err)))
          throw err
        }
      }))
      reached = results.some(r => r.status === 'fulfilled')
    } finally {
      this.#dialing = false
    }
    if (this.#controller !== controller) return
    if (reached) this.#reachedBootstrap = true
    if (this.#reachedBootstrap && !this.#isolated()) {
      this.#connectedAt = performance.now()
      return
    }
    this.#schedule(this.#backoffMs())
    this.#failedRounds++
  }
}
