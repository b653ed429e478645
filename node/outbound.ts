// A call to a peer: the function's signature (local imports, or the server's WIT by digest, from describe.ts), the dial and the wRPC invoke.

import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { invoke } from '../protocol/session.ts'
import type { SessionLimits } from '../protocol/limits.ts'
import type { Func, Type } from '../protocol/wit/model.ts'
import type { CallOptions, NodeObserver } from './api.ts'
import type { Describer } from './describe.ts'
import type { HandleLedger } from './handles.ts'
import type { MeshLibp2p } from './libp2p.ts'
import type { Registry, Server } from './registry.ts'
import { RouterError } from './router.ts'
import type { CallOptions as RouterCallOptions, CallResult } from './router.ts'
import { functionOf } from '../protocol/wit/index.ts'
import type { Services } from './services.ts'
import { dialWrpc } from './wrpc-server.ts'
import { NodeError } from './errors.ts'
import { componentInstance } from './instance.ts'

/** The function types a caller needs to encode a call and decode its answer. */
interface Signature { readonly params: readonly Type[], readonly results: readonly Type[] }

function signatureOf (func: Func): Signature {
  return { params: func.params.map(p => p.type), results: func.results }
}

export interface OutboundInit {
  readonly libp2p: MeshLibp2p
  readonly registry: Registry
  readonly lattice: string
  readonly sessionLimits?: Partial<SessionLimits>
  readonly services: Services
  readonly handles: HandleLedger
  /** Servers' WIT by digest, for calls from code that holds none. */
  readonly describer: Describer
  readonly observer?: NodeObserver
  /** The router's call (created after this module: the router calls `callServer`). */
  readonly route: (iface: string, func: string, params: unknown[], opts: RouterCallOptions) => Promise<CallResult>
}

export interface Outbound {
  /** `MeshNode.call`: pins the call to the issuer of a handle it passes, routes it, tells the observer. */
  call (iface: string, func: string, params: unknown[], opts?: CallOptions): Promise<unknown[]>
  /** The router's `callServer`: this node's own service, or a wRPC call to the peer (to one of its components, `component`, when given). */
  callServer (server: Server, iface: string, func: string, params: unknown[], signal: AbortSignal, component?: string): Promise<unknown[]>
  /** `MeshNode.describe`. */
  describe (iface: string, func: string, opts?: CallOptions): Promise<Func>
  /** Feeds peers' advertised addresses to the peer store, so that a call can dial a peer this node has never met. */
  start (): void
  stop (): void
}

export function createOutbound (init: OutboundInit): Outbound {
  const { libp2p, registry, lattice, services, handles } = init
  let unwatch: (() => void) | undefined

  async function signature (server: Server, iface: string, func: string, signal: AbortSignal): Promise<Signature> {
    const imported = functionOf(services.imported(iface), func)
    if (imported !== undefined) return signatureOf(imported)
    const wit = await init.describer.wit(server, signal)
    const f = functionOf(wit.findInterface(server.iface), func)
    if (f === undefined) throw new NodeError('no-such-function', `${server.iface} as served by ${server.peer} has no function ${func}`)
    return signatureOf(f)
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

  async function callServer (server: Server, iface: string, func: string, params: unknown[], signal: AbortSignal, component?: string): Promise<unknown[]> {
    if (server.local) return await services.callSelf(iface, func, params, component)
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
    const results = await invoke(transport, componentInstance(server.iface, component), func, sig.params, params, sig.results, { signal, limits: init.sessionLimits })
    handles.rememberResults({ results: sig.results }, results, server.peer)
    return results
  }

  /** A call that passes a resource handle must go to the peer that issued it. */
  function pinToHandle (iface: string, func: string, params: unknown[], opts: CallOptions): CallOptions {
    const handle = handles.passed(functionOf(services.imported(iface) ?? services.find(iface)?.iface, func), params)
    return handle === undefined ? opts : { ...opts, handle }
  }

  async function call (iface: string, func: string, params: unknown[], callOpts: CallOptions = {}): Promise<unknown[]> {
    const opts = pinToHandle(iface, func, params, callOpts)
    const observe = init.observer?.call
    if (observe === undefined) return (await init.route(iface, func, params, opts)).results
    const began = performance.now()
    try {
      const { results, attempts } = await init.route(iface, func, params, opts)
      observe({ direction: 'outbound', iface, func, outcome: 'ok', durationMs: performance.now() - began, attempts })
      return results
    } catch (err) {
      const e = err as { code?: unknown, attempts?: number }
      observe({ direction: 'outbound', iface, func, outcome: typeof e.code === 'string' ? e.code : 'internal', durationMs: performance.now() - began, attempts: e.attempts })
      throw err
    }
  }

  return {
    call,
    callServer,

    async describe (iface, func, opts = {}) {
      const imported = functionOf(services.imported(iface), func) ?? functionOf(services.find(iface)?.iface, func)
      if (imported !== undefined) return imported
      const servers = registry.servers(iface, { peer: opts.target, labels: opts.labels, component: opts.component })
      if (servers.length === 0) throw new RouterError('no-server', `no peer in lattice ${lattice} serves ${iface}`, { attempts: 0, tried: [], resultStarted: false })
      return await init.describer.firstOf(servers, (wit, server) => {
        const f = functionOf(wit.findInterface(server.iface), func)
        if (f === undefined) throw new NodeError('no-such-function', `${server.iface} has no function ${func}`)
        return f
      }, opts.signal)
    },

    start () {
      if (unwatch !== undefined) return
      unwatch = registry.on('change', change => {
        if (change.kind !== 'peer' || (change.change !== 'new' && change.change !== 'updated')) return
        const view = registry.peer(change.peer)
        if (view === undefined || view.addresses.length === 0) return
        const multiaddrs = view.addresses.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } })
        void libp2p.peerStore.merge(peerIdFromString(change.peer), { multiaddrs }).catch(() => {})
      })
    },

    stop () {
      unwatch?.()
      unwatch = undefined
    }
  }
}
