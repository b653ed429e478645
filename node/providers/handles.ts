// The resource handles a provider gives out: 128 random bits each, owned by the caller peer, bounded in total and per peer.

import { handleKey } from '../runtime/values.ts'
import type { Resource } from '../../protocol/wit/model.ts'
import { ProviderError } from './errors.ts'

/** Random bytes per handle: 128 bits, so handles cannot be guessed or enumerated. */
export const HANDLE_BYTES = 16

export interface HandleEntry {
  /** The peer the handle was given to; nobody else may use it. */
  readonly owner: string
  /** `owner-interface#name` of the resource, so that a bucket handle is not taken for another resource. */
  readonly resource: string
  /** What the provider's code returned for it. */
  readonly value: unknown
}

export interface HandleLimits {
  readonly maxHandles: number
  readonly maxHandlesPerPeer: number
}

export function resourceKey (r: Resource): string {
  return `${r.owner}#${r.name}`
}

export class HandleTable {
  readonly #entries = new Map<string, HandleEntry>()
  /** Handle keys by owner, so that a peer's disconnect does not scan every handle. */
  readonly #byPeer = new Map<string, Set<string>>()
  readonly #limits: HandleLimits

  constructor (limits: HandleLimits) {
    this.#limits = limits
  }

  get size (): number {
    return this.#entries.size
  }

  /** Whether `peer` may be given `n` more handles. */
  room (peer: string, n: number): ProviderError | undefined {
    if (this.#entries.size + n > this.#limits.maxHandles) {
      return new ProviderError('overloaded', `this provider holds ${this.#entries.size} resource handles, the most it keeps is maxHandles ${this.#limits.maxHandles}: drop some`)
    }
    const held = this.#byPeer.get(peer)?.size ?? 0
    if (held + n > this.#limits.maxHandlesPerPeer) {
      return new ProviderError('overloaded', `peer ${peer} holds ${held} resource handles of this provider, the most one peer may hold is maxHandlesPerPeer ${this.#limits.maxHandlesPerPeer}: drop some`)
    }
    return undefined
  }

  add (owner: string, resource: Resource, value: unknown): Uint8Array {
    const handle = crypto.getRandomValues(new Uint8Array(HANDLE_BYTES))
    const key = handleKey(handle)
    this.#entries.set(key, { owner, resource: resourceKey(resource), value })
    let keys = this.#byPeer.get(owner)
    if (keys === undefined) this.#byPeer.set(owner, keys = new Set())
    keys.add(key)
    return handle
  }

  /**
   * The entry of a handle `caller` holds. Unknown handles and handles of other peers fail alike
   * (`resource-lost`), so that a peer learns nothing about handles it was not given.
   */
  lookup (caller: string, handle: unknown, resource: Resource, where: string): HandleEntry & { key: string } {
    if (!(handle instanceof Uint8Array)) throw new ProviderError('invalid-params', `${where}: a ${resource.name} handle must be bytes`)
    const key = handleKey(handle)
    const entry = this.#entries.get(key)
    if (entry === undefined || entry.owner !== caller) {
      throw new ProviderError('resource-lost', `${where}: no ${resource.name} with this handle is held by the caller (released, never given out, or given to another peer)`)
    }
    if (entry.resource !== resourceKey(resource)) {
      throw new ProviderError('invalid-params', `${where}: the handle is a ${entry.resource}, not a ${resourceKey(resource)}`)
    }
    return { ...entry, key }
  }

  /** Forgets a handle; the entry it had, if any. */
  remove (key: string): HandleEntry | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    this.#entries.delete(key)
    const keys = this.#byPeer.get(entry.owner)
    keys?.delete(key)
    if (keys?.size === 0) this.#byPeer.delete(entry.owner)
    return entry
  }

  /** Forgets every handle of `peer` (every handle when undefined), returning their entries. */
  removeAll (peer?: string): HandleEntry[] {
    const keys = peer === undefined ? [...this.#entries.keys()] : [...(this.#byPeer.get(peer) ?? [])]
    const out: HandleEntry[] = []
    for (const key of keys) {
      const entry = this.remove(key)
      if (entry !== undefined) out.push(entry)
    }
    return out
  }
}
