// The SQLite key-value backend (node:sqlite): one table, WAL, every write a committed transaction before it is acknowledged.

import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import type { StatementSync } from 'node:sqlite'
import { counterValue, KeyvalueError } from './backend.ts'
import type { KeyPage, KeyvalueBackend } from './backend.ts'

export interface SqliteOptions {
  readonly path: string
  /**
   * `full` (default): every commit is fsynced before it returns, so an acknowledged write survives a
   * process crash, an OS crash and power loss. `normal`: in WAL mode survives a process crash (the
   * WAL is in the OS's page cache) but the last commits may be lost on power loss or an OS crash.
   */
  readonly synchronous?: 'full' | 'normal'
  /** How long a write waits for another process holding the database's write lock. Default 5,000 ms. */
  readonly busyTimeoutMs?: number
}

const SCHEMA_VERSION = 1

function fail (what: string, err: unknown): KeyvalueError {
  return new KeyvalueError(`${what}: ${err instanceof Error ? err.message : String(err)}`)
}

/** A copy that owns its memory: node:sqlite hands out views that the next read may reuse. */
function own (v: Uint8Array): Uint8Array {
  return new Uint8Array(v)
}

export function openSqlite (opts: SqliteOptions): KeyvalueBackend {
  mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 })
  const db = new DatabaseSync(opts.path)
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5_000))}`)
    db.exec('PRAGMA journal_mode = WAL')
    db.exec(`PRAGMA synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`)
    const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version
    if (version > SCHEMA_VERSION) throw new KeyvalueError(`${opts.path} has key-value schema ${version}, this provider knows ${SCHEMA_VERSION}: use a newer wasmesh`)
    // AUTOINCREMENT: ids are never reused, so a list-keys cursor (an id) never lands on a newer key.
    db.exec(`CREATE TABLE IF NOT EXISTS kv (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      bucket TEXT NOT NULL,
      key TEXT NOT NULL,
      value BLOB NOT NULL,
      UNIQUE (bucket, key)
    )`)
    db.exec('CREATE INDEX IF NOT EXISTS kv_bucket_id ON kv (bucket, id)')
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`)
  } catch (err) {
    db.close()
    throw err instanceof KeyvalueError ? err : fail(`cannot open ${opts.path}`, err)
  }

  const q = {
    get: db.prepare('SELECT value FROM kv WHERE bucket = ? AND key = ?'),
    set: db.prepare('INSERT INTO kv (bucket, key, value) VALUES (?, ?, ?) ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value'),
    delete: db.prepare('DELETE FROM kv WHERE bucket = ? AND key = ?'),
    exists: db.prepare('SELECT 1 AS one FROM kv WHERE bucket = ? AND key = ?'),
    list: db.prepare('SELECT id, key FROM kv WHERE bucket = ? AND id > ? ORDER BY id LIMIT ?'),
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK')
  }
  q.list.setReadBigInts(true)

  function run<T> (what: string, fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw err instanceof KeyvalueError ? err : fail(what, err)
    }
  }

  /** BEGIN IMMEDIATE takes the write lock first, so another process cannot slip a write between our read and write. */
  function transaction<T> (what: string, fn: () => T): T {
    return run(what, () => {
      q.begin.run()
      try {
        const out = fn()
        q.commit.run()
        return out
      } catch (err) {
        if (db.isTransaction) q.rollback.run()
        throw err
      }
    })
  }

  const read = (stmt: StatementSync, bucket: string, key: string): Uint8Array | undefined => {
    const row = stmt.get(bucket, key) as { value: Uint8Array } | undefined
    return row === undefined ? undefined : own(row.value)
  }

  return {
    get: (bucket, key) => run(`get ${bucket}/${key}`, () => read(q.get, bucket, key)),
    set: (bucket, key, value) => { run(`set ${bucket}/${key}`, () => q.set.run(bucket, key, value)) },
    delete: (bucket, key) => { run(`delete ${bucket}/${key}`, () => q.delete.run(bucket, key)) },
    exists: (bucket, key) => run(`exists ${bucket}/${key}`, () => q.exists.get(bucket, key) !== undefined),
    listKeys (bucket, cursor, maxKeys, maxBytes): KeyPage {
      return run(`list-keys ${bucket}`, () => {
        const rows = q.list.all(bucket, cursor ?? 0n, maxKeys + 1) as Array<{ id: bigint, key: string }>
        const keys: string[] = []
        let bytes = 0
        let last: bigint | undefined
        for (const row of rows.slice(0, maxKeys)) {
          bytes += Buffer.byteLength(row.key)
          if (keys.length > 0 && bytes > maxBytes) return { keys, cursor: last }
          keys.push(row.key)
          last = row.id
        }
        return rows.length > maxKeys ? { keys, cursor: last } : { keys }
      })
    },
    increment: (bucket, key, delta) => transaction(`increment ${bucket}/${key}`, () => {
      const { next, bytes } = counterValue(bucket, key, read(q.get, bucket, key), delta)
      q.set.run(bucket, key, bytes)
      return next
    }),
    getMany: (bucket, keys) => run(`get-many ${bucket}`, () => keys.map(k => read(q.get, bucket, k))),
    setMany: (bucket, entries) => { transaction(`set-many ${bucket}`, () => { for (const [k, v] of entries) q.set.run(bucket, k, v) }) },
    deleteMany: (bucket, keys) => { transaction(`delete-many ${bucket}`, () => { for (const k of keys) q.delete.run(bucket, k) }) },
    close: () => { if (db.isOpen) db.close() }
  }
}
