// The Postgres provider's settings from its config and secrets: connection, TLS, pool and limits, each checked at start.

import { readFileSync } from 'node:fs'
import type { PoolConfig } from 'pg'
import { ProviderError } from '../errors.ts'
import type { ProviderContext } from '../sdk.ts'

export interface PostgresSettings {
  /** What `new pg.Pool` takes (the password included, when the `password` secret is set). */
  readonly pool: PoolConfig
  /** Prepared-statement tokens kept at once; the oldest is forgotten past it (its `exec` then answers unknown-prepared-query). */
  readonly maxPreparedStatements: number
  /** For logs: where it connects, never the password. */
  readonly describe: string
}

export const configKeys = [
  'host', 'port', 'database', 'user', 'ssl', 'ssl-ca-file', 'pool-size', 'connect-timeout-ms',
  'idle-timeout-ms', 'statement-timeout-ms', 'application-name', 'timezone', 'max-prepared-statements'
] as const

/**
 * Session settings the value mapping relies on: ISO dates, hex bytea, floats that round-trip. Sent
 * as startup options, so every pooled connection has them from its first statement.
 */
const SESSION_OPTIONS = ['DateStyle=ISO', 'IntervalStyle=postgres', 'extra_float_digits=3', 'bytea_output=hex']

function fail (message: string): never {
  throw new ProviderError('invalid-config', message)
}

function integer (config: Readonly<Record<string, string>>, key: string, fallback: number, min: number, max: number): number {
  const text = config[key]
  if (text === undefined) return fallback
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) fail(`config ${key}: ${JSON.stringify(text)} is not an integer in ${min}..${max}`)
  return n
}

function tls (config: Readonly<Record<string, string>>): PoolConfig['ssl'] {
  const mode = config.ssl ?? 'disable'
  const ca = config['ssl-ca-file']
  const caText = (): string | undefined => {
    if (ca === undefined) return undefined
    try {
      return readFileSync(ca, 'utf8')
    } catch (err) {
      return fail(`config ssl-ca-file: cannot read ${ca}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
    }
  }
  switch (mode) {
    case 'disable': return false
    // Encrypted, the server's certificate not checked (libpq's sslmode=require).
    case 'require': return { rejectUnauthorized: false }
    // The certificate chain checked, the host name not (libpq's verify-ca).
    case 'verify-ca': return { rejectUnauthorized: true, ca: caText(), checkServerIdentity: () => undefined }
    case 'verify-full': return { rejectUnauthorized: true, ca: caText() }
    default: return fail(`config ssl: ${JSON.stringify(mode)} is not disable, require, verify-ca or verify-full`)
  }
}

/** Reads the provider's config; an unknown key or a bad value fails the start, naming it. The password is the secret `password`, never config. */
export function postgresSettings (ctx: Pick<ProviderContext, 'config' | 'secret'>): PostgresSettings {
  const c = ctx.config
  for (const k of Object.keys(c)) {
    if (k === 'password') fail('config password: a password is a secret (secrets: { password: "env:NAME" | "file:/path" }), never config')
    if (!(configKeys as readonly string[]).includes(k)) fail(`unknown config ${k} (known: ${configKeys.join(', ')})`)
  }
  const host = c.host ?? 'localhost'
  const port = integer(c, 'port', 5432, 1, 65535)
  const user = c.user ?? 'postgres'
  const database = c.database ?? user
  const statementTimeoutMs = integer(c, 'statement-timeout-ms', 0, 0, 2 ** 31 - 1)
  const timezone = c.timezone
  if (timezone !== undefined && !/^[A-Za-z0-9_+\-/:.]+$/.test(timezone)) fail(`config timezone: ${JSON.stringify(timezone)} is not a time zone name or offset`)
  const options = [...SESSION_OPTIONS, ...(timezone !== undefined ? [`TimeZone=${timezone}`] : [])]
  const password = ctx.secret('password')
  const pool: PoolConfig = {
    host,
    port,
    user,
    database,
    ...(password !== undefined ? { password } : {}),
    ssl: tls(c),
    max: integer(c, 'pool-size', 10, 1, 10_000),
    // pg uses one timeout for opening a connection and for waiting for a free pooled one.
    connectionTimeoutMillis: integer(c, 'connect-timeout-ms', 10_000, 1, 3_600_000),
    idleTimeoutMillis: integer(c, 'idle-timeout-ms', 30_000, 1, 86_400_000),
    application_name: c['application-name'] ?? 'wasmesh',
    options: options.map(o => `-c ${o}`).join(' '),
    ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
    // Every column arrives as the server's text (or raw bytes): values.ts maps each by its type OID, losslessly.
    types: { getTypeParser: () => (value: string | Buffer) => value } as unknown as PoolConfig['types']
  }
  return {
    pool,
    maxPreparedStatements: integer(c, 'max-prepared-statements', 10_000, 1, 10_000_000),
    describe: `postgres://${user}@${host}:${port}/${database} (pool ${pool.max ?? 10}, ssl ${c.ssl ?? 'disable'})`
  }
}
