// The simulated network: @libp2p/memory wrapped to add per-link latency, jitter, loss (as retransmission delay), per-node uplink bandwidth, crashes and partitions, counting every byte.

import { ConnectionFailedError, serviceCapabilities, transportSymbol } from '@libp2p/interface'
import type { ComponentLogger, Connection, CreateListenerOptions, DialTransportOptions, Listener, MultiaddrConnection, PeerId, Transport, Upgrader } from '@libp2p/interface'
import { memory } from '@libp2p/memory'
import { AbstractMultiaddrConnection } from '@libp2p/utils'
import type { SendResult } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { Prng } from './prng.ts'
import type { NetworkModel } from './scenario.ts'

/** What one node sent and received through its links. */
export interface SlotTraffic {
  sentBytes: number
  sentChunks: number
  recvBytes: number
  /** Chunks that needed at least one retransmission. */
  retransmitted: number
  /** Dials refused by a partition or because an end was down. */
  refusedDials: number
}

export interface SimNetworkInit {
  readonly model: NetworkModel
  readonly rng: Prng
  /** Region of each slot. */
  readonly regionOf: (slot: number) => string
  /** Prefix of the memory addresses, unique per run in the process. */
  readonly runId: string
}

export interface SimNetwork {
  /** The listen address of a slot (stable across restarts). */
  address (slot: number): string
  /** Tells the network which slot a peer id is (so that inbound connections are attributed). */
  register (slot: number, peerId: string): void
  /** The libp2p transport of a slot, for `createNode({ customTransport })`. */
  transport (slot: number): (components: { peerId: PeerId, logger: ComponentLogger }) => Transport
  /** A crash: every link of the slot is cut at once and no dial reaches it or leaves it. */
  down (slot: number): void
  /** The slot's links work again (before it restarts). */
  up (slot: number): void
  /** Splits the network: connections across groups are closed, dials across are refused. Slots in no group form their own. */
  partition (groups: readonly (readonly number[])[]): void
  heal (): void
  /** The group of a slot while partitioned, else undefined. */
  groupOf (slot: number): number | undefined
  /** Whether two slots can reach each other now. */
  reachable (a: number, b: number): boolean
  traffic (slot: number): SlotTraffic
  /** Open links (each counted at both ends). */
  links (slot: number): number
  /** The one-way delay a chunk would have between two slots, without jitter, loss or queueing. */
  latencyMs (a: number, b: number): number
}

const ADDRESS = /^\/memory\/(.+)-(\d+)$/

export function createSimNetwork (init: SimNetworkInit): SimNetwork {
  const { model, rng } = init
  const slotOfPeer = new Map<string, number>()
  const downSlots = new Set<number>()
  let groups: Map<number, number> | undefined
  const traffic = new Map<number, SlotTraffic>()
  const open = new Map<number, Set<ShapedConnection>>()
  /** When each slot's uplink is free again (bandwidth model). */
  const uplinkFreeAt = new Map<number, number>()

  const trafficOf = (slot: number): SlotTraffic => {
    let t = traffic.get(slot)
    if (t === undefined) traffic.set(slot, t = { sentBytes: 0, sentChunks: 0, recvBytes: 0, retransmitted: 0, refusedDials: 0 })
    return t
  }

  const latencyMs = (a: number, b: number): number =>
    init.regionOf(a) === init.regionOf(b) ? model.latencyMs.intra : model.latencyMs.inter

  const groupOf = (slot: number): number | undefined => {
    if (groups === undefined) return undefined
    return groups.get(slot) ?? -1
  }

  const reachable = (a: number, b: number): boolean =>
    !downSlots.has(a) && !downSlots.has(b) && groupOf(a) === groupOf(b)

  const slotOfAddress = (ma: Multiaddr): number | undefined => {
    const m = ADDRESS.exec(ma.toString().split('/p2p/')[0])
    return m !== null && m[1] === init.runId ? Number(m[2]) : undefined
  }

  /**
   * When a chunk sent now from `from` to `to` arrives. Bandwidth: the chunk waits for the sender's
   * uplink and occupies it bytes/bandwidth. Loss: each lost transmission costs a retransmission
   * timeout, doubling as TCP backs off. The caller keeps arrivals in order (a stream is FIFO).
   */
  const arrival = (from: number, to: number, bytes: number, now: number): { at: number, lost: number } => {
    let sent = now
    if (model.bandwidthBytesPerS > 0) {
      const start = Math.max(now, uplinkFreeAt.get(from) ?? 0)
      sent = start + (bytes * 1000) / model.bandwidthBytesPerS
      uplinkFreeAt.set(from, sent)
    }
    const oneWay = latencyMs(from, to)
    let at = sent + oneWay + (model.jitterMs > 0 ? rng.next() * model.jitterMs : 0)
    let lost = 0
    if (model.lossRate > 0) {
      // RTO as TCP computes it from a steady RTT: RTT + 4 x its variation, with a floor
      let rto = Math.max(model.minRtoMs, 2 * oneWay + 4 * model.jitterMs)
      while (lost < 8 && rng.next() < model.lossRate) {
        at += rto
        rto *= 2
        lost++
      }
    }
    return { at, lost }
  }

  const track = (conn: ShapedConnection, add: boolean): void => {
    let set = open.get(conn.local)
    if (set === undefined) open.set(conn.local, set = new Set())
    if (add) set.add(conn)
    else set.delete(conn)
  }

  const cut = (pred: (c: ShapedConnection) => boolean, why: string): void => {
    for (const set of open.values()) {
      for (const c of [...set]) if (pred(c)) c.abort(new ConnectionFailedError(why))
    }
  }

  const net: SimNetwork = {
    address: slot => `/memory/${init.runId}-${slot}`,
    register (slot, peerId) { slotOfPeer.set(peerId, slot) },

    transport (slot) {
      return (components) => {
        const inner = memory({ maxMessageSize: 65_536 })(components)
        const shape = (maConn: MultiaddrConnection, remote: number): MultiaddrConnection => {
          const conn = new ShapedConnection(maConn, slot, remote, {
            arrival: (bytes, now) => arrival(slot, remote, bytes, now),
            sent: (bytes, lost) => {
              const t = trafficOf(slot)
              t.sentBytes += bytes
              t.sentChunks++
              if (lost > 0) t.retransmitted++
            },
            received: bytes => { trafficOf(slot).recvBytes += bytes },
            closed: c => { track(c, false) }
          })
          track(conn, true)
          return conn
        }
        const refuse = (remote: number | undefined, what: string): Error | undefined => {
          if (remote === undefined) return new ConnectionFailedError(`${what}: not a node of this simulation`)
          if (!reachable(slot, remote)) {
            trafficOf(slot).refusedDials++
            return new ConnectionFailedError(`${what}: node ${remote} is unreachable from node ${slot} (${downSlots.has(remote) || downSlots.has(slot) ? 'down' : 'partitioned'})`)
          }
          return undefined
        }
        const wrapUpgrader = (upgrader: Upgrader, remoteOf: (maConn: MultiaddrConnection) => number | undefined): Upgrader => ({
          upgradeOutbound: async (maConn: MultiaddrConnection, opts: Parameters<Upgrader['upgradeOutbound']>[1]) => {
            const remote = remoteOf(maConn)
            const err = refuse(remote, 'dial')
            if (err !== undefined || remote === undefined) { maConn.abort(err ?? new Error('unknown peer')); throw err }
            return await upgrader.upgradeOutbound(shape(maConn, remote), opts)
          },
          upgradeInbound: async (maConn: MultiaddrConnection, opts: Parameters<Upgrader['upgradeInbound']>[1]) => {
            const remote = remoteOf(maConn)
            const err = refuse(remote, 'inbound')
            if (err !== undefined || remote === undefined) { maConn.abort(err ?? new Error('unknown peer')); throw err }
            await upgrader.upgradeInbound(shape(maConn, remote), opts)
          },
          createInboundAbortSignal: signal => upgrader.createInboundAbortSignal(signal),
          getStreamMuxers: () => upgrader.getStreamMuxers(),
          getConnectionEncrypters: () => upgrader.getConnectionEncrypters()
        }) as Upgrader

        const transport: Transport & { [serviceCapabilities]: string[] } = {
          [transportSymbol]: true,
          [Symbol.toStringTag]: '@wasmesh/sim-memory',
          [serviceCapabilities]: ['@libp2p/transport'],
          async dial (ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
            const remote = slotOfAddress(ma)
            const err = refuse(remote, `dial ${ma.toString()}`)
            if (err !== undefined || remote === undefined) throw err
            // the TCP handshake's round trip before the first byte
            const rtt = 2 * latencyMs(slot, remote)
            if (rtt > 0) await sleep(rtt, options.signal)
            return await inner.dial(ma, { ...options, upgrader: wrapUpgrader(options.upgrader, () => remote) })
          },
          createListener (options: CreateListenerOptions): Listener {
            return inner.createListener({
              ...options,
              upgrader: wrapUpgrader(options.upgrader, maConn => {
                const peer = maConn.remoteAddr.getComponents().findLast(c => c.name === 'p2p')?.value
                return peer === undefined ? undefined : slotOfPeer.get(peer)
              })
            })
          },
          listenFilter: addrs => inner.listenFilter(addrs),
          dialFilter: addrs => inner.dialFilter(addrs)
        }
        return transport
      }
    },

    down (slot) {
      downSlots.add(slot)
      cut(c => c.local === slot || c.remote === slot, `node ${slot} crashed`)
    },
    up (slot) { downSlots.delete(slot) },

    partition (list) {
      groups = new Map()
      list.forEach((g, i) => { for (const s of g) groups!.set(s, i) })
      cut(c => groupOf(c.local) !== groupOf(c.remote), 'network partitioned')
    },
    heal () { groups = undefined },
    groupOf,
    reachable,
    traffic: slot => ({ ...trafficOf(slot) }),
    links: slot => open.get(slot)?.size ?? 0,
    latencyMs
  }
  return net
}

function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) { reject(signal.reason); return }
    const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason) }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

interface LinkHooks {
  arrival (bytes: number, now: number): { at: number, lost: number }
  sent (bytes: number, lost: number): void
  received (bytes: number): void
  closed (conn: ShapedConnection): void
}

/**
 * One end of a link: what this end sends waits until its modelled arrival time, then goes through
 * the memory connection underneath. Arrivals are never earlier than the previous one, so the byte
 * stream stays in order (jitter and retransmissions hold up what follows, as on TCP).
 */
class ShapedConnection extends AbstractMultiaddrConnection {
  readonly local: number
  readonly remote: number
  readonly #inner: MultiaddrConnection
  readonly #hooks: LinkHooks
  readonly #queue: { data: Uint8ArrayList, at: number }[] = []
  #timer: ReturnType<typeof setTimeout> | undefined
  #lastAt = 0
  #flushed: PromiseWithResolvers<void> | undefined

  constructor (inner: MultiaddrConnection, local: number, remote: number, hooks: LinkHooks) {
    super({ remoteAddr: inner.remoteAddr, direction: inner.direction, log: inner.log })
    this.local = local
    this.remote = remote
    this.#inner = inner
    this.#hooks = hooks
    inner.addEventListener('message', evt => {
      hooks.received(evt.data.byteLength)
      this.onData(evt.data)
    })
    inner.addEventListener('close', evt => {
      this.#drop()
      if (evt.error !== undefined) this.abort(evt.error)
      else this.onTransportClosed()
    })
    this.addEventListener('close', () => { hooks.closed(this) })
  }

  sendData (data: Uint8ArrayList): SendResult {
    const bytes = data.byteLength
    const now = performance.now()
    const { at, lost } = this.#hooks.arrival(bytes, now)
    this.#hooks.sent(bytes, lost)
    const when = Math.max(at, this.#lastAt)
    this.#lastAt = when
    this.#queue.push({ data, at: when })
    this.#arm()
    return { sentBytes: bytes, canSendMore: true }
  }

  #arm (): void {
    if (this.#timer !== undefined || this.#queue.length === 0) return
    const wait = Math.max(0, this.#queue[0].at - performance.now())
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#deliver()
    }, wait)
  }

  #deliver (): void {
    const now = performance.now()
    while (this.#queue.length > 0 && this.#queue[0].at <= now + 0.5) {
      const { data } = this.#queue.shift()!
      if (this.#inner.status !== 'open') { this.#drop(); return }
      this.#inner.send(data)
    }
    if (this.#queue.length === 0) this.#flushed?.resolve()
    else this.#arm()
  }

  #drop (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#queue.length = 0
    this.#flushed?.resolve()
  }

  sendReset (err: Error): void {
    this.#drop()
    this.#inner.abort(err)
  }

  sendPause (): void {}
  sendResume (): void {}

  async sendClose (options?: { signal?: AbortSignal }): Promise<void> {
    if (this.#queue.length > 0) {
      this.#flushed = Promise.withResolvers<void>()
      await this.#flushed.promise
    }
    await this.#inner.close(options)
  }
}
