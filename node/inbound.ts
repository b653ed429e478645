// A peer's call: the lattice gate, the policy check, the look-up of what answers it, the in-flight count a stop drains; and the answers to describe requests.

import type { PeerId } from '@libp2p/interface'
import type { Handlers, ServedFunction } from '../protocol/session.ts'
import type { SessionLimits } from '../protocol/limits.ts'
import type { NodeLimits, NodeObserver } from './api.ts'
import type { MeshLibp2p } from './libp2p.ts'
import type { Logger } from './logger.ts'
import type { Describer } from './describe.ts'
import type { StreamErrors } from './libp2p/stream-errors.ts'
import type { InboundBudget } from '../protocol/budget.ts'
import { functionOf } from '../protocol/wit/index.ts'
import { noComponent, type ServiceEntry, type Services } from './services.ts'
import { parseInstance } from './instance.ts'
import type { Func } from '../protocol/wit/model.ts'
import type { Authorizer, Verdict } from './security/policy.ts'
import { handleWrpc } from './wrpc-server.ts'

const LATTICE_SYNC = /^\/wasmesh\/([^/]+)\/sync\/1\.0\.0$/

export interface InboundInit {
  readonly libp2p: MeshLibp2p
  readonly lattice: string
  readonly services: Services
  readonly limits: NodeLimits
  readonly sessionLimits?: Partial<SessionLimits>
  readonly observer?: NodeObserver
  readonly log: Logger
  /** Answers describe requests while calls are taken. */
  readonly describer: Describer
  /** Where a wRPC handler's failure is counted. */
  readonly streamErrors: StreamErrors
  /** What unfinished inbound values may hold, per peer and in all. */
  readonly budget: InboundBudget
  /** Who may call what (the node's policy); checked before a call's parameters are read. */
  readonly authorizer?: Authorizer
}

/** Refusals logged as warnings, one per peer, interface and rule; the rest at debug. */
const maxRefusalsWarned = 4096

export interface Inbound {
  /** Listens to peers coming and going, and serves `/wrpc/0.0.1` and describe requests. */
  start (): Promise<void>
  /** Stops taking calls and describe requests; the calls in flight go on. */
  refuse (): Promise<void>
  /** Waits up to `ms` for the calls in flight to finish. */
  drain (ms: number): Promise<void>
  /** Stops listening to peers (after libp2p stopped, so that its disconnects still release what peers held). */
  stop (): void
  /** Calls from peers in flight now. */
  readonly inflight: number
  /** Calls from peers served since creation. */
  readonly served: number
}

export function createInbound (init: InboundInit): Inbound {
  const { libp2p, lattice, services, limits, log } = init
  let served = 0
  /** Calls from peers in flight, and who waits for them to reach zero when draining. */
  let inbound = 0
  let drained: PromiseWithResolvers<void> | undefined
  let unhandleWrpc: (() => Promise<void>) | undefined
  let listening = false

  const authorizer = init.authorizer
  const warned = new Set<string>()

  /** A refused call: counted, logged, answered `refused` naming the rule; it never reaches the service. */
  function refusal (caller: string, iface: string, name: string, verdict: Verdict): Error {
    authorizer?.refused(iface, verdict.rule)
    init.observer?.call?.({ direction: 'inbound', iface, func: name, outcome: 'refused', durationMs: 0 })
    const why = verdict.rule === 'default-deny-data'
      ? 'policy default-deny-data: it touches data and no rule allows this peer'
      : verdict.rule === 'default' ? 'policy default: deny' : `policy rule "${verdict.rule}"`
    const message = `peer ${caller} may not call ${iface}#${name} on this node (${why})`
    const key = `${caller} ${iface} ${verdict.rule}`
    if (warned.has(key)) log.debug(message)
    else {
      if (warned.size >= maxRefusalsWarned) warned.clear()
      warned.add(key)
      log.warn(message)
    }
    return Object.assign(new Error(message), { code: 'refused' })
  }

  /** Serves wRPC invocations: instance = the exported interface (`<iface>#<component>` for one component), name = the function. */
  function handlers (peer: PeerId): Handlers {
    const caller = peer.toString()
    return {
      lookup (instance, name): ServedFunction | undefined | Promise<ServedFunction | undefined> {
        const { iface, component } = parseInstance(instance)
        const entry = services.pick(iface, component)
        if (entry === undefined && component !== undefined && services.find(iface) !== undefined) throw noComponent(iface, component)
        const func = functionOf(entry?.iface, name)
        if (entry === undefined || func === undefined) return undefined
        const fn = servedFunction(entry, name, func)
        if (authorizer === undefined || !authorizer.active) return fn
        const admit = (v: Verdict): ServedFunction => {
          if (!v.allowed) throw refusal(caller, entry.iface.id, name, v)
          return fn
        }
        const verdict = authorizer.call(caller, entry.iface.id, name, entry.service.touchesData === true)
        return verdict instanceof Promise ? verdict.then(admit) : admit(verdict)
      }
    }

    function servedFunction (entry: ServiceEntry, name: string, func: Func): ServedFunction {
      return {
        params: func.params.map(p => p.type),
        results: func.results,
        call: async (params) => {
          served++
          inbound++
          const began = performance.now()
          let outcome = 'ok'
          try {
            return await services.callLocal(entry.service, entry.iface.id, name, params, { caller })
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

  /**
   * Peers of another lattice are refused; plain wRPC clients (no lattice at all) are served. The
   * answer depends only on the protocols the peer store lists for the peer, so it is kept until
   * the peer's record changes (`peer:update`) or it disconnects, instead of decoding the record
   * for every inbound call.
   */
  const accepted = new Map<string, boolean>()
  const onPeerUpdate = (evt: CustomEvent<{ peer: { id: PeerId } }>): void => { accepted.delete(evt.detail.peer.id.toString()) }
  // What a peer held on this node (resource handles of providers) is released when it goes away.
  const onPeerDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString()
    accepted.delete(peer)
    for (const service of services.all()) {
      try { service.peerGone?.(peer) } catch (err) { log.warn(`${service.name} failed to release ${peer}: ${(err as Error).message}`) }
    }
  }
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

  return {
    async start () {
      if (!listening) {
        listening = true
        libp2p.addEventListener('peer:update', onPeerUpdate)
        libp2p.addEventListener('peer:disconnect', onPeerDisconnect)
      }
      await init.describer.handle()
      unhandleWrpc ??= await handleWrpc(libp2p, handlers, {
        maxInboundStreams: limits.maxInboundStreams,
        maxOutboundStreams: limits.maxOutboundStreams,
        sessionLimits: init.sessionLimits,
        accept,
        errors: init.streamErrors,
        budget: init.budget,
        onError: (peer, err) => { log.debug(`wRPC call from ${peer.toString()} failed: ${err.message}`) }
      })
    },

    async refuse () {
      await unhandleWrpc?.()
      unhandleWrpc = undefined
      await init.describer.unhandle()
    },

    async drain (ms) {
      if (inbound === 0 || ms <= 0) return
      drained = Promise.withResolvers<void>()
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([drained.promise, new Promise<void>(resolve => { timer = setTimeout(resolve, ms) })])
      clearTimeout(timer)
      drained = undefined
      if (inbound > 0) log.warn(`stopping with ${inbound} calls still in flight after ${ms} ms`)
    },

    stop () {
      if (!listening) return
      listening = false
      libp2p.removeEventListener('peer:update', onPeerUpdate)
      libp2p.removeEventListener('peer:disconnect', onPeerDisconnect)
      accepted.clear()
    },

    get inflight () { return inbound },
    get served () { return served }
  }
}
