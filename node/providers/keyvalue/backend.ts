// What a key-value backend does (SQLite or memory): synchronous operations, so that no await can split a read-modify-write.

/** A failure the caller sees as `error::other(message)`. */
export class KeyvalueError extends Error {
  override readonly name: string = 'KeyvalueError'
}

export interface KeyPage {
  readonly keys: string[]
  /** Where the next page starts; undefined on the last page. */
  readonly cursor?: bigint
}

/**
 * Every method is synchronous on purpose: JavaScript runs one at a time, so an `increment` (read,
 * add, write) is atomic with respect to every other call, from any peer, without locks.
 */
export interface KeyvalueBackend {
  get (bucket: string, key: string): Uint8Array | undefined
  set (bucket: string, key: string, value: Uint8Array): void
  delete (bucket: string, key: string): void
  exists (bucket: string, key: string): boolean
  /** Keys after `cursor` (an entry's id: ids grow with each new key, so a page never repeats or skips a key that stayed). */
  listKeys (bucket: string, cursor: bigint | undefined, maxKeys: number, maxBytes: number): KeyPage
  /** Adds `delta` to the decimal u64 stored at `key` (absent = 0) and returns the sum. */
  increment (bucket: string, key: string, delta: bigint): bigint
  getMany (bucket: string, keys: readonly string[]): Array<Uint8Array | undefined>
  /** All or nothing (stronger than wasi:keyvalue/batch asks). */
  setMany (bucket: string, entries: ReadonlyArray<readonly [string, Uint8Array]>): void
  deleteMany (bucket: string, keys: readonly string[]): void
  close (): void
}

const U64_MAX = (1n << 64n) - 1n
const DECIMAL = /^(0|[1-9][0-9]{0,19})$/

/** The value a counter holds, as Redis INCRBY keeps it: decimal ASCII, readable with `get`. */
export function counterValue (bucket: string, key: string, stored: Uint8Array | undefined, delta: bigint): { next: bigint, bytes: Uint8Array } {
  let current = 0n
  if (stored !== undefined) {
    const text = new TextDecoder().decode(stored)
    if (!DECIMAL.test(text) || BigInt(text) > U64_MAX) throw new KeyvalueError(`cannot increment ${bucket}/${key}: its value is not a decimal u64`)
    current = BigInt(text)
  }
  const next = current + delta
  if (next > U64_MAX) throw new KeyvalueError(`cannot increment ${bucket}/${key}: ${current} + ${delta} overflows u64`)
  return { next, bytes: new TextEncoder().encode(next.toString()) }
}
