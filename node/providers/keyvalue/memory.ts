// The in-memory key-value backend: for tests, caches and nodes without a disk; gone when the provider stops.

import { counterValue } from './backend.ts'
import type { KeyPage, KeyvalueBackend } from './backend.ts'

interface Entry { readonly id: bigint, value: Uint8Array }

export function openMemory (): KeyvalueBackend {
  const buckets = new Map<string, Map<string, Entry>>()
  // Ids grow with every new key; a Map keeps insertion order, so iteration order is id order.
  let nextId = 1n

  const bucketOf = (name: string): Map<string, Entry> => {
    let b = buckets.get(name)
    if (b === undefined) buckets.set(name, b = new Map())
    return b
  }
  const get = (bucket: string, key: string): Uint8Array | undefined => {
    const v = buckets.get(bucket)?.get(key)?.value
    return v === undefined ? undefined : new Uint8Array(v)
  }
  // Copies: the value may be a view into a network buffer that is about to be reused.
  const set = (bucket: string, key: string, value: Uint8Array): void => {
    const b = bucketOf(bucket)
    const e = b.get(key)
    if (e !== undefined) e.value = new Uint8Array(value)
    else b.set(key, { id: nextId++, value: new Uint8Array(value) })
  }
  const del = (bucket: string, key: string): void => { buckets.get(bucket)?.delete(key) }

  return {
    get,
    set,
    delete: del,
    exists: (bucket, key) => buckets.get(bucket)?.has(key) ?? false,
    listKeys (bucket, cursor, maxKeys, maxBytes): KeyPage {
      const keys: string[] = []
      let bytes = 0
      let last: bigint | undefined
      const after = cursor ?? 0n
      for (const [key, e] of buckets.get(bucket) ?? []) {
        if (e.id <= after) continue
        bytes += Buffer.byteLength(key)
        if (keys.length === maxKeys || (keys.length > 0 && bytes > maxBytes)) return { keys, cursor: last }
        keys.push(key)
        last = e.id
      }
      return { keys }
    },
    increment (bucket, key, delta) {
      const { next, bytes } = counterValue(bucket, key, buckets.get(bucket)?.get(key)?.value, delta)
      set(bucket, key, bytes)
      return next
    },
    getMany: (bucket, keys) => keys.map(k => get(bucket, k)),
    setMany: (bucket, entries) => { for (const [k, v] of entries) set(bucket, k, v) },
    deleteMany: (bucket, keys) => { for (const k of keys) del(bucket, k) },
    close: () => { buckets.clear() }
  }
}
