// The built-in key-value provider: wasi:keyvalue@0.2.0-draft store, atomics and batch over SQLite (default) or memory.

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ProviderContext, ProviderModule } from '../sdk.ts'
import { KeyvalueError } from './backend.ts'
import type { KeyvalueBackend } from './backend.ts'
import { openMemory } from './memory.ts'
import { openSqlite } from './sqlite.ts'

export const STORE = 'wasi:keyvalue/store@0.2.0-draft'
export const ATOMICS = 'wasi:keyvalue/atomics@0.2.0-draft'
export const BATCH = 'wasi:keyvalue/batch@0.2.0-draft'

/** The settings a key-value provider takes from its config (every value a string, as config files and flags give them). */
export interface KeyvalueSettings {
  /** `sqlite` (default) or `memory`. */
  readonly backend: 'sqlite' | 'memory'
  /** The SQLite file; default `<dataDir>/keyvalue.sqlite` (`.wasmesh/keyvalue.sqlite` without a data directory). */
  readonly path: string
  /** `full` (default) or `normal`: see sqlite.ts. */
  readonly synchronous: 'full' | 'normal'
  /** The largest value `set`/`set-many` take; larger ones fail with `other("value too large: ...")`. Default 1 MiB. */
  readonly maxValueBytes: number
  /** The longest key, in UTF-8 bytes. Default 4 KiB. */
  readonly maxKeyBytes: number
  /** Keys per `list-keys` page. Default 1,000. */
  readonly listPageKeys: number
  /** Bytes of keys per `list-keys` page (at least one key is always returned). Default 1 MiB. */
  readonly listPageBytes: number
  /** The buckets `open` recognizes; undefined = any valid identifier (created on first write). */
  readonly buckets?: ReadonlySet<string>
}

const MAX_IDENTIFIER_BYTES = 255
const CONTROL = /[\u0000-\u001f\u007f]/ // eslint-disable-line no-control-regex

function positive (config: Readonly<Record<string, string>>, key: string, fallback: number): number {
  const text = config[key]
  if (text === undefined) return fallback
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new KeyvalueError(`config ${key}: ${JSON.stringify(text)} is not a positive integer`)
  return n
}

/** Reads the provider's config; an unknown key or a bad value fails the start, naming it. */
export function keyvalueSettings (ctx: Pick<ProviderContext, 'config' | 'dataDir'>): KeyvalueSettings {
  const c = ctx.config
  const known = ['backend', 'path', 'synchronous', 'max-value-bytes', 'max-key-bytes', 'list-page-keys', 'list-page-bytes', 'buckets']
  for (const k of Object.keys(c)) if (!known.includes(k)) throw new KeyvalueError(`unknown config ${k} (known: ${known.join(', ')})`)
  const backend = c.backend ?? 'sqlite'
  if (backend !== 'sqlite' && backend !== 'memory') throw new KeyvalueError(`config backend: ${JSON.stringify(backend)} is not sqlite or memory`)
  const synchronous = c.synchronous ?? 'full'
  if (synchronous !== 'full' && synchronous !== 'normal') throw new KeyvalueError(`config synchronous: ${JSON.stringify(synchronous)} is not full or normal`)
  const buckets = c.buckets === undefined ? undefined : new Set(c.buckets.split(',').map(b => b.trim()).filter(b => b !== ''))
  for (const b of buckets ?? []) {
    const why = identifierProblem(b)
    if (why !== undefined) throw new KeyvalueError(`config buckets: ${why}`)
  }
  return {
    backend,
    path: c.path ?? join(ctx.dataDir ?? '.wasmesh', 'keyvalue.sqlite'),
    synchronous,
    maxValueBytes: positive(c, 'max-value-bytes', 1024 * 1024),
    maxKeyBytes: positive(c, 'max-key-bytes', 4096),
    listPageKeys: positive(c, 'list-page-keys', 1000),
    listPageBytes: positive(c, 'list-page-bytes', 1024 * 1024),
    ...(buckets !== undefined ? { buckets } : {})
  }
}

function identifierProblem (id: string): string | undefined {
  const bytes = Buffer.byteLength(id)
  if (bytes === 0 || bytes > MAX_IDENTIFIER_BYTES) return `bucket identifier ${JSON.stringify(id)} must be 1-${MAX_IDENTIFIER_BYTES} bytes of UTF-8`
  if (CONTROL.test(id)) return `bucket identifier ${JSON.stringify(id)} has a control character`
  return undefined
}

/** The WIT sources: this provider's world and the wasi:keyvalue deps it exports, read from wit/deps. */
function witSources (): Record<string, string> {
  const deps = new URL('../../../wit/deps/wasi-keyvalue-0.2.0-draft/', import.meta.url)
  const files: Record<string, string> = { 'keyvalue.wit': readFileSync(new URL('./keyvalue.wit', import.meta.url), 'utf8') }
  for (const f of readdirSync(deps)) if (f.endsWith('.wit')) files[`deps/wasi-keyvalue/${f}`] = readFileSync(new URL(f, deps), 'utf8')
  return files
}

/** An opened bucket, as the provider's code sees it; callers hold only an opaque handle to it. */
class Bucket {
  readonly name: string
  constructor (name: string) { this.name = name }
}

type Err = { tag: 'no-such-store' } | { tag: 'access-denied' } | { tag: 'other', val: string }
type Result<T> = { tag: 'ok', val: T } | { tag: 'err', val: Err }

const ok = <T>(val: T): Result<T> => ({ tag: 'ok', val })
const other = (message: string): Result<never> => ({ tag: 'err', val: { tag: 'other', val: message } })

/**
 * A fresh key-value provider module (each has its own backend once started). The default export,
 * so `loadProviderModule('builtin:keyvalue')` gives a new instance each time.
 */
export function createKeyvalueModule (): ProviderModule & { readonly settings: () => KeyvalueSettings | undefined } {
  let backend: KeyvalueBackend | undefined
  let settings: KeyvalueSettings | undefined

  /** Runs a backend operation; the contract's errors come back as `err`, never thrown. */
  function op<T> (fn: (b: KeyvalueBackend, s: KeyvalueSettings) => T): Result<T> {
    if (backend === undefined || settings === undefined) return other('the key-value provider is not started')
    try {
      return ok(fn(backend, settings))
    } catch (err) {
      if (err instanceof KeyvalueError) return other(err.message)
      throw err
    }
  }

  function checkKey (s: KeyvalueSettings, key: unknown): string {
    if (typeof key !== 'string') throw new KeyvalueError('a key must be a string')
    const bytes = Buffer.byteLength(key)
    if (bytes > s.maxKeyBytes) throw new KeyvalueError(`key too large: ${bytes} bytes, the most is ${s.maxKeyBytes} (max-key-bytes)`)
    return key
  }

  function checkValue (s: KeyvalueSettings, key: string, value: unknown): Uint8Array {
    if (!(value instanceof Uint8Array)) throw new KeyvalueError(`the value of ${key} must be bytes`)
    if (value.byteLength > s.maxValueBytes) throw new KeyvalueError(`value too large: ${key} has ${value.byteLength} bytes, the most is ${s.maxValueBytes} (max-value-bytes)`)
    return value
  }

  return {
    name: 'keyvalue',
    // a store of whatever callers put in it: default-deny under a policy
    touchesData: true,
    wit: witSources(),
    world: 'wasmesh:keyvalue-provider/provider@0.1.0',
    settings: () => settings,

    start (ctx) {
      const s = keyvalueSettings(ctx)
      backend = s.backend === 'memory' ? openMemory() : openSqlite({ path: s.path, synchronous: s.synchronous })
      settings = s
      ctx.log.info(s.backend === 'memory' ? 'in memory' : `sqlite ${s.path} (synchronous=${s.synchronous})`)
    },

    stop () {
      backend?.close()
      backend = undefined
    },

    exports: {
      [STORE]: {
        /**
         * An identifier `buckets` does not list is `no-such-store`; without `buckets`, any valid
         * identifier is a bucket (empty until written). A malformed one is `other` saying why.
         */
        open (identifier: string): Result<Bucket> {
          const why = identifierProblem(identifier)
          if (why !== undefined) return other(why)
          if (settings?.buckets !== undefined && !settings.buckets.has(identifier)) return { tag: 'err', val: { tag: 'no-such-store' } }
          return ok(new Bucket(identifier))
        },
        '[method]bucket.get': (self: Bucket, key: string) => op((b, s) => b.get(self.name, checkKey(s, key))),
        '[method]bucket.set': (self: Bucket, key: string, value: Uint8Array) => op((b, s) => {
          const k = checkKey(s, key)
          b.set(self.name, k, checkValue(s, k, value))
        }),
        '[method]bucket.delete': (self: Bucket, key: string) => op((b, s) => { b.delete(self.name, checkKey(s, key)) }),
        '[method]bucket.exists': (self: Bucket, key: string) => op((b, s) => b.exists(self.name, checkKey(s, key))),
        '[method]bucket.list-keys': (self: Bucket, cursor: bigint | undefined) => op((b, s) => {
          const page = b.listKeys(self.name, cursor === undefined ? undefined : BigInt(cursor), s.listPageKeys, s.listPageBytes)
          return { keys: page.keys, cursor: page.cursor }
        }),
        '[resource-drop]bucket': (_self: Bucket) => {}
      },
      [ATOMICS]: {
        // A QuickJS guest may pass the u64 as a number: BigInt takes either.
        increment: (bucket: Bucket, key: string, delta: bigint | number) => op((b, s) => b.increment(bucket.name, checkKey(s, key), BigInt(delta)))
      },
      [BATCH]: {
        'get-many': (bucket: Bucket, keys: string[]) => op((b, s) => {
          const values = b.getMany(bucket.name, keys.map(k => checkKey(s, k)))
          return values.map((v, i) => v === undefined ? undefined : [keys[i], v] as [string, Uint8Array])
        }),
        // Every key and value is checked before anything is written, so a bad entry writes nothing.
        'set-many': (bucket: Bucket, keyValues: Array<[string, Uint8Array]>) => op((b, s) => {
          const entries = keyValues.map(([k, v]) => [checkKey(s, k), checkValue(s, k, v)] as const)
          b.setMany(bucket.name, entries)
        }),
        'delete-many': (bucket: Bucket, keys: string[]) => op((b, s) => { b.deleteMany(bucket.name, keys.map(k => checkKey(s, k))) })
      }
    }
  }
}

export default createKeyvalueModule
