// The pool behind the provider: queries, batches, prepared-statement tokens and transactions that hold one connection each.

import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Connection, FieldDef, PoolClient, QueryArrayConfig, Submittable } from 'pg'
import type { Logger } from '../../logger.ts'
import type { PostgresSettings } from './config.ts'
import { connectionBroken, describeError, queryError } from './errors.ts'
import type { QueryError } from './errors.ts'
import { ParamError, fromText, isBuiltin, toParam } from './values.ts'
import type { Param, PgValue } from './values.ts'

export type Result<T, E> = { tag: 'ok', val: T } | { tag: 'err', val: E }
export interface ResultRowEntry { columnName: string, value: PgValue }
export type ResultRow = ResultRowEntry[]
export type StatementPrepareError = { tag: 'unexpected', val: string }
export type PreparedStatementExecError =
  | { tag: 'unknown-prepared-query' }
  | { tag: 'query-error', val: QueryError }
  | { tag: 'unexpected', val: string }

const ok = <T>(val: T): { tag: 'ok', val: T } => ({ tag: 'ok', val })
const err = <const E>(val: E): { tag: 'err', val: E } => ({ tag: 'err', val })

/** pg's transaction status from the last ReadyForQuery: I idle, T in a transaction, E in a failed one. */
function txStatus (client: PoolClient): string | undefined {
  return (client as unknown as { _txStatus?: string | null })._txStatus ?? undefined
}

function params (values: readonly PgValue[]): Param[] {
  if (!Array.isArray(values)) throw new ParamError('params: expected a list of pg-value')
  return values.map((v, i) => toParam(v, i))
}

/**
 * Parse + Describe of one statement, nothing executed: what `prepare` checks (syntax, tables,
 * columns, parameter types), as libpq's PQprepare does, through pg's Submittable hook.
 */
class DescribeStatement implements Submittable {
  readonly #text: string
  readonly #done: PromiseWithResolvers<void> = Promise.withResolvers<void>()
  #settled = false
  readonly done: Promise<void> = this.#done.promise

  constructor (text: string) {
    this.#text = text
  }

  submit (connection: Connection): void {
    connection.parse({ text: this.#text, name: '', types: [] }, true)
    connection.describe({ type: 'S', name: '' }, true)
    connection.sync()
  }

  handleError (error: Error): void {
    if (this.#settled) return
    this.#settled = true
    this.#done.reject(error)
  }

  handleReadyForQuery (): void {
    if (this.#settled) return
    this.#settled = true
    this.#done.resolve()
  }

  // A Describe answers with these, or none of them; nothing to keep.
  handleRowDescription (): void {}
  handleDataRow (): void {}
  handleCommandComplete (): void {}
  handleEmptyQuery (): void {}
  handlePortalSuspended (): void {}
  handleCopyInResponse (): void {}
  handleCopyData (): void {}
}

export class Database {
  readonly #pool: pg.Pool
  readonly #log: Logger
  readonly #maxPrepared: number
  /** Prepared-statement token -> its text, oldest first (Map order), so the oldest goes when full. */
  readonly #prepared = new Map<string, string>()
  readonly #transactions = new Set<Transaction>()
  /** Names of types whose OID is not built in (extensions such as hstore), '' when unknown. */
  readonly #typeNames = new Map<number, string>()
  #closed = false

  constructor (settings: PostgresSettings, log: Logger) {
    this.#pool = new pg.Pool(settings.pool)
    this.#log = log
    this.#maxPrepared = settings.maxPreparedStatements
    // An idle pooled connection the server closes (restart, failover) emits here; without a listener it would crash the process.
    this.#pool.on('error', e => { this.#log.warn(`an idle connection failed: ${describeError(e)}`) })
  }

  get openTransactions (): number {
    return this.#transactions.size
  }

  get preparedStatements (): number {
    return this.#prepared.size
  }

  /** Opens one connection and gives it back; throws what connecting threw. */
  async check (): Promise<void> {
    const client = await this.#pool.connect()
    client.release()
  }

  async connect (): Promise<PoolClient> {
    if (this.#closed) throw new Error('the Postgres provider is stopped')
    return await this.#pool.connect()
  }

  /** Runs `fn` on a pooled connection; a connection that failed (not just its statement) is discarded, not reused. */
  async #withClient<T> (fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect()
    let broken: Error | undefined
    try {
      return await fn(client)
    } catch (e) {
      if (connectionBroken(e)) broken = e instanceof Error ? e : new Error(String(e))
      throw e
    } finally {
      client.release(broken)
    }
  }

  /** One statement, extended protocol (so `$n` parameters and never several statements), rows mapped by column type. */
  async query (text: string, values: readonly PgValue[]): Promise<Result<ResultRow[], QueryError>> {
    try {
      const args = params(values)
      return ok(await this.#withClient(async client => {
        const result = await client.query({ text, values: args, rowMode: 'array', queryMode: 'extended' } as QueryArrayConfig)
        await this.#resolveTypeNames(client, result.fields)
        return result.rows.map(row => result.fields.map((f, i) => ({ columnName: f.name, value: fromText(f.dataTypeID, row[i] as string | null, this.#typeNames) })))
      }))
    } catch (e) {
      return err(queryError(e))
    }
  }

  /** Several statements, simple protocol, no parameters. A batch that leaves a transaction open is rolled back: a pooled connection must come back clean. */
  async queryBatch (text: string): Promise<Result<undefined, QueryError>> {
    let leftOpen = false
    try {
      await this.#withClient(async client => {
        await client.query(text)
        if (txStatus(client) !== undefined && txStatus(client) !== 'I') {
          leftOpen = true
          await client.query('ROLLBACK')
        }
      })
    } catch (e) {
      return err(queryError(e))
    }
    if (leftOpen) return err({ tag: 'invalid-query', val: 'the batch left a transaction open, so it was rolled back: use the transaction interface for transactions' })
    return ok(undefined)
  }

  /** Checks the statement on the server now; the token runs it as a named prepared statement on whichever connection `exec` gets. */
  async prepare (text: string): Promise<Result<string, StatementPrepareError>> {
    if (typeof text !== 'string') return err({ tag: 'unexpected', val: 'statement: expected a string' })
    try {
      await this.#withClient(async client => {
        const describe = new DescribeStatement(text)
        client.query(describe)
        await describe.done
      })
    } catch (e) {
      return err({ tag: 'unexpected', val: describeError(e) })
    }
    const token = `prepared-statement-${randomBytes(16).toString('hex')}`
    this.#prepared.set(token, text)
    while (this.#prepared.size > this.#maxPrepared) {
      const oldest = this.#prepared.keys().next().value
      if (oldest === undefined) break
      this.#prepared.delete(oldest)
    }
    return ok(token)
  }

  /** Rows affected (rows returned, for a SELECT). */
  async exec (token: string, values: readonly PgValue[]): Promise<Result<bigint, PreparedStatementExecError>> {
    const text = typeof token === 'string' ? this.#prepared.get(token) : undefined
    if (text === undefined) return err({ tag: 'unknown-prepared-query' })
    try {
      const args = params(values)
      // pg parses a named statement once per connection and reuses it there.
      const name = `wasmesh_${token.slice(-32)}`
      const result = await this.#withClient(async client => await client.query({ name, text, values: args, rowMode: 'array' } as QueryArrayConfig))
      return ok(BigInt(result.rowCount ?? 0))
    } catch (e) {
      return err({ tag: 'query-error', val: queryError(e) })
    }
  }

  /** A transaction; it takes a connection at its first statement, so making one cannot fail. */
  begin (): Transaction {
    const tx = new Transaction(this, () => { this.#transactions.delete(tx) })
    this.#transactions.add(tx)
    return tx
  }

  /** Rolls back every open transaction, then closes the pool. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#transactions].map(async tx => { await tx.rollback() }))
    this.#prepared.clear()
    await this.#pool.end()
  }

  async #resolveTypeNames (client: PoolClient, fields: readonly FieldDef[]): Promise<void> {
    const unknown = [...new Set(fields.map(f => f.dataTypeID))].filter(oid => !isBuiltin(oid) && !this.#typeNames.has(oid))
    if (unknown.length === 0) return
    try {
      const r = await client.query({ text: 'SELECT oid::int8, typname::text FROM pg_type WHERE oid = ANY($1::oid[])', values: [`{${unknown.join(',')}}`], rowMode: 'array' } as QueryArrayConfig)
      for (const oid of unknown) this.#typeNames.set(oid, '')
      for (const [oid, name] of r.rows as Array<[string, string]>) this.#typeNames.set(Number(oid), name)
    } catch (e) {
      // Unnamed types come back as text; the next query tries again.
      this.#log.debug(`looking up type names failed: ${describeError(e)}`)
    }
  }
}

/**
 * One transaction on one pooled connection, taken and BEGun at its first statement and given back at
 * commit or rollback (the latter is what dropping the resource does, including when its caller vanishes).
 */
export class Transaction {
  readonly #db: Database
  readonly #forget: () => void
  #client: Promise<PoolClient> | undefined
  /** The first statement that failed: the server has aborted the transaction since. */
  #failure: string | undefined
  #finished = false

  constructor (db: Database, forget: () => void) {
    this.#db = db
    this.#forget = forget
  }

  async #connection (): Promise<PoolClient> {
    if (this.#finished) throw new Error('the transaction has ended')
    this.#client ??= (async () => {
      const client = await this.#db.connect()
      try {
        await client.query('BEGIN')
      } catch (e) {
        client.release(e instanceof Error ? e : true)
        throw e
      }
      return client
    })()
    try {
      return await this.#client
    } catch (e) {
      // Nothing began, so a later statement may try again (the database may be back by then).
      this.#client = undefined
      throw e
    }
  }

  async #run (fn: (client: PoolClient) => Promise<unknown>): Promise<Result<undefined, QueryError>> {
    let client: PoolClient
    try {
      client = await this.#connection()
    } catch (e) {
      return err(queryError(e))
    }
    try {
      await fn(client)
      return ok(undefined)
    } catch (e) {
      const error = queryError(e)
      this.#failure ??= error.val
      return err(error)
    }
  }

  async query (text: string, values: readonly PgValue[]): Promise<Result<undefined, QueryError>> {
    let args: Param[]
    try {
      args = params(values)
    } catch (e) {
      // Refused before reaching the server: the transaction is still good.
      return err(queryError(e))
    }
    return await this.#run(async client => await client.query({ text, values: args, rowMode: 'array', queryMode: 'extended' } as QueryArrayConfig))
  }

  async queryBatch (text: string): Promise<Result<undefined, QueryError>> {
    return await this.#run(async client => await client.query(text))
  }

  /** COMMIT; a transaction the server had aborted (a statement failed) is rolled back and reported as an error. */
  async commit (): Promise<Result<undefined, QueryError>> {
    if (this.#finished) return err({ tag: 'unexpected', val: 'the transaction has already ended' })
    const pending = this.#client
    this.#finish()
    if (pending === undefined) return ok(undefined)
    let client: PoolClient
    try {
      client = await pending
    } catch (e) {
      return err(queryError(e))
    }
    try {
      const result = await client.query('COMMIT')
      client.release()
      if (result.command === 'ROLLBACK' || this.#failure !== undefined) {
        return err({ tag: 'unexpected', val: `the transaction was rolled back because a statement in it failed: ${this.#failure ?? 'unknown error'}` })
      }
      return ok(undefined)
    } catch (e) {
      client.release(e instanceof Error ? e : true)
      return err(queryError(e))
    }
  }

  /** ROLLBACK and give the connection back; nothing to do for a transaction that never ran a statement. */
  async rollback (): Promise<void> {
    if (this.#finished) return
    const pending = this.#client
    this.#finish()
    if (pending === undefined) return
    const client = await pending.catch(() => undefined)
    if (client === undefined) return
    try {
      await client.query('ROLLBACK')
      client.release()
    } catch (e) {
      client.release(e instanceof Error ? e : true)
    }
  }

  #finish (): void {
    this.#finished = true
    this.#forget()
  }
}
