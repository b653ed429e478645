// The built-in Postgres provider: wasmcloud:postgres@0.2.0-draft query, prepared and transaction over a `pg` pool, so wasmCloud components run unchanged.

import { readdirSync, readFileSync } from 'node:fs'
import pg from 'pg'
import { ProviderError } from '../errors.ts'
import type { ProviderModule } from '../sdk.ts'
import { postgresSettings } from './config.ts'
import { Database, Transaction } from './database.ts'
import type { PreparedStatementExecError, Result, ResultRow, StatementPrepareError } from './database.ts'
import { describeError } from './errors.ts'
import type { QueryError } from './errors.ts'
import type { PgValue } from './values.ts'

export const QUERY = 'wasmcloud:postgres/query@0.2.0-draft'
export const PREPARED = 'wasmcloud:postgres/prepared@0.2.0-draft'
export const TRANSACTION = 'wasmcloud:postgres/transaction@0.2.0-draft'
export const WORLD = 'wasmesh:postgres-provider/provider@0.1.0'

/** The WIT sources: this provider's world and the wasmcloud:postgres deps it exports, read from wit/deps. */
function witSources (): Record<string, string> {
  const deps = new URL('../../../wit/deps/wasmcloud-postgres-0.2.0-draft/', import.meta.url)
  const files: Record<string, string> = { 'postgres.wit': readFileSync(new URL('./postgres.wit', import.meta.url), 'utf8') }
  // provider.wit there is wasmCloud's own world (another package); only the wasmcloud:postgres files are needed.
  for (const f of readdirSync(deps)) if (f.endsWith('.wit') && f !== 'provider.wit') files[`deps/wasmcloud-postgres/${f}`] = readFileSync(new URL(f, deps), 'utf8')
  return files
}

/** Authentication failed or the database does not exist: no point serving. Anything else (not reachable yet) may heal. */
function fatalAtStart (e: unknown): boolean {
  return e instanceof pg.DatabaseError && typeof e.code === 'string' && (e.code.startsWith('28') || e.code === '3D000')
}

const stopped = (): { tag: 'err', val: { tag: 'unexpected', val: string } } => ({ tag: 'err', val: { tag: 'unexpected', val: 'the Postgres provider is not started' } })

/**
 * A fresh Postgres provider module (its own pool once started). The default export, so
 * `loadProviderModule` gives a new instance each time.
 */
export function createPostgresModule (): ProviderModule & { readonly stats: () => { openTransactions: number, preparedStatements: number } } {
  let db: Database | undefined

  return {
    name: 'postgres',
    // a database: default-deny under a policy
    touchesData: true,
    wit: witSources(),
    world: WORLD,
    stats: () => ({ openTransactions: db?.openTransactions ?? 0, preparedStatements: db?.preparedStatements ?? 0 }),

    async start (ctx) {
      const settings = postgresSettings(ctx)
      const opened = new Database(settings, ctx.log)
      try {
        await opened.check()
        ctx.log.info(`connected to ${settings.describe}`)
      } catch (e) {
        if (fatalAtStart(e)) {
          await opened.close()
          throw new ProviderError('invalid-config', `${settings.describe}: ${describeError(e)}`)
        }
        ctx.log.warn(`${settings.describe} is not reachable yet (${describeError(e)}); serving anyway, calls fail until it is`)
      }
      db = opened
    },

    async stop () {
      const closing = db
      db = undefined
      await closing?.close()
    },

    exports: {
      [QUERY]: {
        query: async (query: string, params: PgValue[]): Promise<Result<ResultRow[], QueryError>> => await db?.query(query, params) ?? stopped(),
        'query-batch': async (query: string): Promise<Result<undefined, QueryError>> => await db?.queryBatch(query) ?? stopped()
      },
      [PREPARED]: {
        prepare: async (statement: string): Promise<Result<string, StatementPrepareError>> => await db?.prepare(statement) ?? stopped(),
        exec: async (stmtToken: string, params: PgValue[]): Promise<Result<bigint, PreparedStatementExecError>> => await db?.exec(stmtToken, params) ?? stopped()
      },
      [TRANSACTION]: {
        '[constructor]transaction': (): Transaction => {
          if (db === undefined) throw new ProviderError('provider-stopped', 'the Postgres provider is not started')
          return db.begin()
        },
        '[method]transaction.query': async (self: Transaction, query: string, params: PgValue[]) => await self.query(query, params),
        '[method]transaction.query-batch': async (self: Transaction, query: string) => await self.queryBatch(query),
        '[static]transaction.commit': async (self: Transaction) => await self.commit(),
        // A dropped transaction, committed or not, is over: roll back whatever was not committed.
        '[resource-drop]transaction': async (self: Transaction) => { await self.rollback() }
      }
    }
  }
}

export default createPostgresModule
