// The short-lived node behind `wasmesh call` and `wasmesh mesh`: an ephemeral identity, no components, no listener; joins through the bootstrap peers.

import { createNode } from '../node/index.ts'
import { loadOrCreateIdentity } from '../node/identity.ts'
import type { MeshNode } from '../node/index.ts'
import type { Logger } from '../node/logger.ts'
import { CliError } from './errors.ts'

export interface ClientInit {
  readonly bootstrap: readonly string[]
  readonly lattice?: string
  /** The lattice key's bytes, for a private lattice. */
  readonly latticeKey?: Uint8Array
  /**
   * Where the client's identity lives (`identity.key`, made on first use) instead of a fresh one per
   * run: a node with an allow-list lets in only the peer ids it lists.
   */
  readonly identityDir?: string
  /** The member certificate issued to that identity, presented to nodes that trust its admin. */
  readonly memberCert?: string
  readonly logger: Logger
}

export interface Client {
  readonly node: MeshNode
  /** Why each bootstrap address could not be dialled (empty once one answered). */
  readonly dialErrors: Map<string, string>
  /**
   * Resolves true as soon as `ready()` holds (checked on every registry change and new connection),
   * false once `deadline` (a `performance.now()` time) passes, `signal` aborts, or every bootstrap
   * address has refused the dial (waiting longer would only wait for a node that is not there).
   */
  until (ready: () => boolean, deadline: number, signal?: AbortSignal): Promise<boolean>
  /** Whether a bootstrap peer's own advert has arrived: its sync reply, the mesh as it sees it, is coming in. */
  synced (): boolean
  /**
   * Waits until no peer's advert has changed for `settleMs` (the rest of a sync reply, at most 8 times that
   * in a busy mesh), or until `ready()` holds.
   */
  settle (ready: () => boolean, signal?: AbortSignal): Promise<void>
  /** The error to report when no peer was reached at all (every address refused, or the deadline passed), else undefined. */
  unreachable (timeoutMs: number): CliError | undefined
  stop (): Promise<void>
}

/** After a bootstrap peer's own advert arrives, the rest of its sync reply follows within this quiet time. */
export const syncSettleMs = 250

/** Starts a client node and dials every bootstrap address once (the node keeps retrying on its own). */
export async function startClient (init: ClientInit): Promise<Client> {
  const node = await createNode({
    ...(init.identityDir !== undefined ? { privateKey: await loadOrCreateIdentity(init.identityDir) } : {}),
    // Listens on nothing: it only dials out, so it needs no port and is reachable over the connections it opens.
    listen: [],
    bootstrap: init.bootstrap,
    lattice: init.lattice,
    latticeKey: init.latticeKey,
    memberCert: init.memberCert,
    logger: init.logger,
    // its adverts say so: nodes log its coming and going at debug, and `wasmesh mesh` does not list it as a peer
    role: 'client'
  })
  await node.start()
  const dialErrors = new Map<string, string>()
  const dials = new AbortController()
  const bootstrapPeers = new Set(init.bootstrap.map(a => a.slice(a.lastIndexOf('/p2p/') + '/p2p/'.length)))
  /** Woken when a dial fails, so that a wait ends as soon as every address has refused. */
  const failed = new EventTarget()
  const refused = (): boolean => dialErrors.size === new Set(init.bootstrap).size && node.connections().length === 0
  for (const addr of init.bootstrap) {
    node.dial(addr, { signal: dials.signal }).then(() => { dialErrors.clear() }, (err: Error) => {
      if (dials.signal.aborted || node.connections().length > 0) return
      dialErrors.set(addr, err.message)
      failed.dispatchEvent(new Event('failed'))
    })
  }

  return {
    node,
    dialErrors,

    async until (ready, deadline, signal) {
      if (ready()) return true
      if (refused()) return false
      const { promise, resolve } = Promise.withResolvers<boolean>()
      const check = (): void => { if (ready()) resolve(true) }
      const off = node.on('change', check)
      const offConnection = node.on('connection', check)
      const onFailed = (): void => { if (refused()) resolve(false) }
      failed.addEventListener('failed', onFailed)
      const timer = setTimeout(() => { resolve(ready()) }, Math.max(0, deadline - performance.now()))
      const onAbort = (): void => { resolve(false) }
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        return await promise
      } finally {
        clearTimeout(timer)
        off()
        offConnection()
        failed.removeEventListener('failed', onFailed)
        signal?.removeEventListener('abort', onAbort)
      }
    },

    synced () {
      return [...bootstrapPeers].some(p => node.peer(p) !== undefined)
    },

    async settle (ready, signal) {
      if (ready()) return
      const { promise, resolve } = Promise.withResolvers<void>()
      let timer = setTimeout(resolve, syncSettleMs)
      // A busy mesh never goes quiet: give up waiting after a few quiet times.
      const cap = setTimeout(resolve, 8 * syncSettleMs)
      const off = node.on('change', change => {
        if (ready()) resolve()
        if (change.kind !== 'peer') return
        clearTimeout(timer)
        timer = setTimeout(resolve, syncSettleMs)
      })
      const onAbort = (): void => { resolve() }
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        await promise
      } finally {
        signal?.removeEventListener('abort', onAbort)
        off()
        clearTimeout(timer)
        clearTimeout(cap)
      }
    },

    unreachable (timeoutMs) {
      if (node.connections().length > 0) return undefined
      const why = [...dialErrors].map(([a, e]) => `\n  ${a}: ${e}`).join('')
      const when = refused() ? `: ${dialErrors.size === 1 ? 'the address' : 'every address'} refused` : ` within ${timeoutMs} ms${why === '' ? '' : ':'}`
      // a private lattice's node ends the handshake of a client without its key (or with another one)
      const key = init.latticeKey === undefined
        ? '; a node of a private lattice (its banner says "private: lattice key required") takes only clients with its key: give --lattice-key <file>'
        : '; a node of another private lattice, or of an open one, refuses this lattice key: is it the same key file?'
      return new CliError('unreachable', `could not reach any bootstrap peer${when}${why}\ncheck the addresses (copy them from the 'listening on:' lines of a running node) and that the node is up and reachable from here${key}`)
    },

    async stop () {
      dials.abort()
      await node.stop()
    }
  }
}
