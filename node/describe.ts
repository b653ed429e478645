// The WIT of a served component by its digest (`/wasmesh/<lattice>/describe/1.0.0`): answering peers' requests, and asking servers, with a cache bound to who answered.

import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p } from '@libp2p/interface'
import { parseWit } from '../protocol/wit/index.ts'
import type { Wit } from '../protocol/wit/model.ts'
import { NodeError } from './errors.ts'
import type { Server } from './registry.ts'
import { handleRequests, request } from './request.ts'

/** The describe request: "the WIT of the component with this digest". */
export function describeProtocol (lattice: string): string {
  return `/wasmesh/${lattice}/describe/1.0.0`
}

export interface DescribeLimits {
  /** The most bytes of WIT a describe answer may carry. */
  readonly maxDescribeBytes: number
  /** How long a describe exchange may take. */
  readonly describeTimeoutMs: number
  /** Answers kept (one per digest and answering peer); past it the oldest is forgotten and asked again when needed. */
  readonly maxDescribeCacheEntries: number
}

export const defaultDescribeLimits: DescribeLimits = Object.freeze({
  maxDescribeBytes: 4 * 1024 * 1024,
  describeTimeoutMs: 5_000,
  maxDescribeCacheEntries: 1024
})

/** A digest is 64 hex digits: a request carries nothing else. */
const maxDescribeRequestBytes = 128

/** Servers `firstOf` asks at most, as a call's attempts (1 + the router's default maxRetries). */
const describeAttempts = 3

export interface DescriberInit {
  readonly libp2p: Libp2p
  readonly lattice: string
  readonly limits: DescribeLimits
  /** The WIT of a component (or provider) this node itself serves under `digest`, if any. */
  readonly localWit: (digest: string) => string | undefined
}

export interface Describer {
  /** Answers peers' describe requests with `localWit` (an empty answer: not served here). */
  handle (): Promise<void>
  /** Stops answering them (what `handle` did, undone). */
  unhandle (): Promise<void>
  /**
   * The WIT `server` serves under its advertised digest. The caller's own copy when it serves that
   * digest itself; else the server's answer, cached for that digest and that peer only.
   */
  wit (server: Server, signal?: AbortSignal): Promise<Wit>
  /**
   * Asks `servers` in turn, plausible and healthy ones first (as the router picks), at most three,
   * until `use` finds what it needs in one's WIT; fails with the last error.
   */
  firstOf<T> (servers: readonly Server[], use: (wit: Wit, server: Server) => T, signal?: AbortSignal): Promise<T>
}

/**
 * A digest names the component's bytes, which a caller rarely holds, so an answer cannot be
 * checked against it. Cached per digest alone, the first server to answer would fix the types of
 * every server of that digest for the node's life, and a rogue that advertises an honest digest
 * could make calls to honest servers encode and decode with its WIT. Bound to the peer that
 * answered, a wrong answer only ever shapes calls to the peer that gave it.
 */
export function createDescriber (init: DescriberInit): Describer {
  const { libp2p, lattice, limits } = init
  const protocol = describeProtocol(lattice)
  const requestLimits = { maxRequestBytes: maxDescribeRequestBytes, maxResponseBytes: limits.maxDescribeBytes, timeoutMs: limits.describeTimeoutMs }
  // `${digest} ${peer}` -> its answer; insertion order is age
  const cache = new Map<string, Promise<Wit>>()
  // this node's own WIT by digest, parsed once (what `localWit` returns for a digest does not change)
  const own = new Map<string, { text: string, wit: Wit }>()

  function parse (digest: string, text: string): Wit {
    return parseWit({ [`${digest}.wit`]: text })
  }

  function remember (key: string, wit: Promise<Wit>): void {
    cache.set(key, wit)
    while (cache.size > limits.maxDescribeCacheEntries) cache.delete(cache.keys().next().value as string)
    wit.catch(() => { if (cache.get(key) === wit) cache.delete(key) })
  }

  async function wit (server: Server, signal?: AbortSignal): Promise<Wit> {
    const local = init.localWit(server.digest)
    if (local !== undefined) {
      let held = own.get(server.digest)
      if (held === undefined || held.text !== local) {
        held = { text: local, wit: parse(server.digest, local) }
        if (own.size >= limits.maxDescribeCacheEntries) own.clear()
        own.set(server.digest, held)
      }
      return held.wit
    }
    const key = `${server.digest} ${server.peer}`
    let answer = cache.get(key)
    if (answer === undefined) {
      answer = (async () => {
        const bytes = await request(libp2p, peerIdFromString(server.peer), protocol, new TextEncoder().encode(server.digest), requestLimits, signal)
        if (bytes.byteLength === 0) throw new NodeError('describe-failed', `${server.peer} does not know component ${server.digest}`)
        return parse(server.digest, new TextDecoder().decode(bytes))
      })()
      remember(key, answer)
    }
    return await answer
  }

  let handling = false
  return {
    async handle () {
      if (handling) return
      handling = true
      await handleRequests(libp2p, protocol, async (_peer, body) => {
        const text = init.localWit(new TextDecoder().decode(body))
        return text === undefined ? new Uint8Array(0) : new TextEncoder().encode(text)
      }, requestLimits)
    },

    async unhandle () {
      if (!handling) return
      handling = false
      await libp2p.unhandle(protocol)
    },

    wit,

    async firstOf (servers, use, signal) {
      const rank = (s: Server): number => (s.local ? 0 : 4) + (s.plausible ? 0 : 2) + (s.healthy ? 0 : 1)
      const order = [...servers].sort((a, b) => rank(a) - rank(b)).slice(0, describeAttempts)
      let last: unknown
      for (const server of order) {
        if (signal?.aborted === true) break
        try {
          return use(await wit(server, signal), server)
        } catch (err) {
          last = err
        }
      }
      throw last ?? new NodeError('describe-failed', 'no server to describe')
    }
  }
}
