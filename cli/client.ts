// The short-lived node behind `wasmesh call` and `wasmesh mesh`: an ephemeral identity, no components, no listener; joins through the bootstrap peers.

import { createNode } from '../node/index.ts'
import type { MeshNode } from '../node/index.ts'
import type { Logger } from '../node/logger.ts'
import { CliError } from './errors.ts'

export interface ClientInit {
  readonly bootstrap: readonly string[]
  readonly lattice?: string
  readonly logger: Logger
}

export interface Client {
  readonly node: MeshNode
  /** Why each bootstrap address could not be dialled (empty once one answered). */
  readonly dialErrors: Map<string, string>
  /**
   * Resolves true as soon as `ready()` holds (checked on every registry change and new connection),
   * false once `deadline` (a `performance.now()` time) passes or `signal` aborts.
   */
  until (ready: () => boolean, deadline: number, signal?: AbortSignal): Promise<boolean>
  /** The error to report when the deadline passed with no peer reached at all, else undefined. */
  unreachable (timeoutMs: number): CliError | undefined
  stop (): Promise<void>
}

/** Starts a client node and dials every bootstrap address once (the node keeps retrying on its own). */
export async function startClient (init: ClientInit): Promise<Client> {
  const node = await createNode({
    // Listens on nothing: it only dials out, so it needs no port and is reachable over the connections it opens.
    listen: [],
    bootstrap: init.bootstrap,
    lattice: init.lattice,
    logger: init.logger,
    // its adverts say so: nodes log its coming and going at debug, and `wasmesh mesh` does not list it as a peer
    role: 'client'
  })
  await node.start()
  const dialErrors = new Map<string, string>()
  const dials = new AbortController()
  for (const addr of init.bootstrap) {
    node.dial(addr, { signal: dials.signal }).then(() => { dialErrors.clear() }, (err: Error) => {
      if (!dials.signal.aborted && node.connections().length === 0) dialErrors.set(addr, err.message)
    })
  }

  return {
    node,
    dialErrors,

    async until (ready, deadline, signal) {
      if (ready()) return true
      const { promise, resolve } = Promise.withResolvers<boolean>()
      const check = (): void => { if (ready()) resolve(true) }
      const off = node.on('change', check)
      const offConnection = node.on('connection', check)
      const timer = setTimeout(() => { resolve(ready()) }, Math.max(0, deadline - performance.now()))
      const onAbort = (): void => { resolve(false) }
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        return await promise
      } finally {
        clearTimeout(timer)
        off()
        offConnection()
        signal?.removeEventListener('abort', onAbort)
      }
    },

    unreachable (timeoutMs) {
      if (node.connections().length > 0) return undefined
      const why = [...dialErrors].map(([a, e]) => `\n  ${a}: ${e}`).join('')
      return new CliError('unreachable', `could not reach any bootstrap peer within ${timeoutMs} ms${why === '' ? '' : ':'}${why}\ncheck the addresses (copy them from the 'listening on:' lines of a running node) and that the node is up and reachable from here`)
    },

    async stop () {
      dials.abort()
      await node.stop()
    }
  }
}
