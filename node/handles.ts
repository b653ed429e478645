// The one ledger of the resource handles this node's calls were given: which peer issued each, so that every call passing it goes back there.

import type { Func } from '../protocol/wit/model.ts'
import { forEachHandle, funcHandles, handleKey } from './runtime/values.ts'

export interface HandleLedgerLimits {
  /** The most handles remembered; past it the oldest are forgotten (a call passing one then fails `resource-lost`). */
  readonly maxHandles: number
}

export const defaultHandleLedgerLimits: HandleLedgerLimits = Object.freeze({
  maxHandles: 100_000
})

export interface HandleLedger {
  /** Records that `peer` issued `handle`. */
  remember (handle: Uint8Array, peer: string): void
  forget (handle: Uint8Array): void
  /** The peer that issued `handle`, if it is remembered. */
  owner (handle: Uint8Array): string | undefined
  /** Remembers every handle in a call's results as issued by `peer` (the router does not know result types; this node does). */
  rememberResults (func: Pick<Func, 'results'> | undefined, results: unknown[], peer: string): void
  /**
   * The first remembered handle a call passes, whether it is a method (`[method]bucket.get`) or a plain
   * function taking a borrow (`atomics.increment(bucket, ...)`): the call must go to the peer that issued it.
   */
  passed (func: Func | undefined, params: unknown[]): Uint8Array | undefined
  readonly size: number
}

export function createHandleLedger (limits: Partial<HandleLedgerLimits> = {}): HandleLedger {
  const maxHandles = limits.maxHandles ?? defaultHandleLedgerLimits.maxHandles
  // hex(handle) -> issuing peer; insertion order is age, for eviction
  const handles = new Map<string, string>()

  function remember (handle: Uint8Array, peer: string): void {
    const key = handleKey(handle)
    handles.delete(key)
    handles.set(key, peer)
    for (const k of handles.keys()) {
      if (handles.size <= maxHandles) break
      handles.delete(k)
    }
  }

  return {
    remember,
    forget (handle) {
      handles.delete(handleKey(handle))
    },
    owner (handle) {
      return handles.get(handleKey(handle))
    },
    rememberResults (func, results, peer) {
      const type = func?.results[0]
      if (type === undefined) return
      forEachHandle(type, results[0], (_, v) => { if (v instanceof Uint8Array) remember(v, peer) })
    },
    passed (func, params) {
      if (func === undefined || !funcHandles(func).params) return undefined
      let handle: Uint8Array | undefined
      func.params.forEach((p, i) => forEachHandle(p.type, params[i], (_, v) => {
        if (handle === undefined && v instanceof Uint8Array && handles.has(handleKey(v))) handle = v
      }))
      return handle
    },
    get size () { return handles.size }
  }
}
