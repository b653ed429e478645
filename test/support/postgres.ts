// A throwaway PostgreSQL cluster for tests (initdb + pg_ctl on a temporary directory and a free port), and the loud skip when there is no server.

import { execFile, spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { chown, writeFile, readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describeNeeding } from './needs.ts'
import { scratchDir } from './scratch.ts'
import type { ScratchDir } from './scratch.ts'

const run = promisify(execFile)

/** Where Debian's `postgresql` package puts the server binaries (one folder per major version); WASMESH_POSTGRES_ROOT overrides it. */
const PG_ROOT = process.env.WASMESH_POSTGRES_ROOT ?? '/usr/lib/postgresql'
const START_TIMEOUT_S = 60

/** The bootstrap superuser of the test cluster, trusted on the socket and on 127.0.0.1. */
export const TEST_USER = 'wasmesh'
/** A role that must authenticate with a password (scram-sha-256), for testing secrets. */
export const PASSWORD_USER = 'wasmesh_pw'
export const PASSWORD = 'correct horse battery staple'
export const TEST_DATABASE = 'wasmesh'

export interface PostgresBinaries {
  readonly bin: string
  readonly version: string
}

/** The newest server installed under /usr/lib/postgresql, or why there is none. */
export function findPostgres (): PostgresBinaries | { missing: string } {
  if (!existsSync(PG_ROOT)) return { missing: `${PG_ROOT} does not exist (apt-get install -y postgresql)` }
  const majors = readdirSync(PG_ROOT).filter(v => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
  for (const version of majors) {
    const bin = join(PG_ROOT, version, 'bin')
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl')) && existsSync(join(bin, 'postgres'))) return { bin, version }
  }
  return { missing: `no initdb/pg_ctl/postgres under ${PG_ROOT}/*/bin` }
}

export interface PostgresCluster {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly database: string
  readonly dataDir: string
  /** Provider config (`host`, `port`, `database`, `user`) for this cluster. */
  readonly config: Record<string, string>
  /** Stops the server (fast shutdown: open connections are cut), keeping the data. */
  stop (): Promise<void>
  /** Starts it again on the same port. */
  start (): Promise<void>
  /** Stops the server if it runs and deletes the whole temporary directory. Safe to call twice. */
  remove (): Promise<void>
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')) })
    })
  })
}

/** The server refuses to run as root: as root, everything runs as the `postgres` OS user. */
function asServerUser (cmd: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [cmd, args]
  return ['runuser', ['-u', 'postgres', '--', cmd, ...args]]
}

async function serverUserIds (): Promise<{ uid: number, gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim())
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim())
  return { uid, gid }
}

async function exec (cmd: string, args: string[], cwd: string): Promise<string> {
  const [c, a] = asServerUser(cmd, args)
  try {
    const { stdout } = await run(c, a, { cwd, timeout: START_TIMEOUT_S * 1000 })
    return stdout
  } catch (err) {
    const e = err as Error & { stderr?: string, stdout?: string }
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr ?? ''}${e.stdout ?? ''}${e.message}`, { cause: err })
  }
}

const live = new Map<PostgresCluster, ScratchDir>()
let exitHookInstalled = false

/** A test process that dies without afterAll must not leave a server running. */
function installExitHook (bin: string): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const [c, scratch] of live) {
      const [cmd, args] = asServerUser(join(bin, 'pg_ctl'), ['-D', c.dataDir, '-m', 'immediate', 'stop'])
      spawnSync(cmd, args, { stdio: 'ignore' })
      scratch.removeSync()
    }
  })
}

/**
 * Creates and starts a cluster in a fresh temporary directory owned by the server user: unix socket
 * in that directory, TCP on 127.0.0.1 and a free port, trust for TEST_USER, scram for PASSWORD_USER,
 * fsync off. Always pair with `remove()` (afterAll), which also runs if the process exits.
 */
export async function startPostgres (binaries?: PostgresBinaries): Promise<PostgresCluster> {
  const found = binaries ?? findPostgres()
  if ('missing' in found) throw new Error(`no PostgreSQL: ${found.missing}`)
  const { bin } = found
  const scratch = await scratchDir('pg')
  const root = scratch.path
  const dataDir = join(root, 'data')
  const socketDir = root
  const ids = await serverUserIds()
  let started = false
  let removed = false
  const port = await freePort()
  const pgCtl = join(bin, 'pg_ctl')
  const serverOptions = [
    `-p ${port}`, `-k ${socketDir}`, '-c listen_addresses=127.0.0.1', '-c fsync=off',
    '-c synchronous_commit=off', '-c full_page_writes=off', '-c max_connections=100', '-c shared_buffers=16MB'
  ].join(' ')

  const cluster: PostgresCluster = {
    host: '127.0.0.1',
    port,
    user: TEST_USER,
    database: TEST_DATABASE,
    dataDir,
    config: { host: '127.0.0.1', port: String(port), database: TEST_DATABASE, user: TEST_USER },
    async start () {
      await exec(pgCtl, ['-D', dataDir, '-l', join(root, 'server.log'), '-o', serverOptions, '-w', '-t', String(START_TIMEOUT_S), 'start'], root)
      started = true
    },
    async stop () {
      if (!started) return
      await exec(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', 'stop'], root)
      started = false
    },
    async remove () {
      if (removed) return
      removed = true
      try {
        if (started) await exec(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], root).catch(() => {})
      } finally {
        live.delete(cluster)
        await scratch.remove()
      }
    }
  }

  live.set(cluster, scratch)
  installExitHook(bin)
  try {
    if (ids !== undefined) await chown(root, ids.uid, ids.gid)
    await exec(join(bin, 'initdb'), ['-D', dataDir, '-U', TEST_USER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], root)
    // Password auth for one role (scram), trust for everyone else: first matching line wins.
    const hba = join(dataDir, 'pg_hba.conf')
    const rules = `host all ${PASSWORD_USER} 127.0.0.1/32 scram-sha-256\nlocal all all trust\nhost all all 127.0.0.1/32 trust\n`
    await writeFile(hba, rules)
    if (ids !== undefined) await chown(hba, ids.uid, ids.gid)
    await cluster.start()
    const psql = join(bin, 'psql')
    const sql = (db: string, command: string): Promise<string> => exec(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', socketDir, '-p', String(port), '-U', TEST_USER, '-d', db, '-c', command], root)
    await sql('postgres', `CREATE DATABASE ${TEST_DATABASE}`)
    await sql(TEST_DATABASE, `CREATE ROLE ${PASSWORD_USER} LOGIN PASSWORD '${PASSWORD}'; GRANT ALL ON SCHEMA public TO ${PASSWORD_USER}`)
    await sql(TEST_DATABASE, 'CREATE EXTENSION IF NOT EXISTS hstore').catch(() => {})
    return cluster
  } catch (err) {
    const log = await readFile(join(root, 'server.log'), 'utf8').catch(() => '')
    await cluster.remove()
    throw new Error(`starting the test PostgreSQL failed: ${(err as Error).message}${log === '' ? '' : `\nserver log:\n${log}`}`, { cause: err })
  }
}


/** `describe` for tests that need a real PostgreSQL server (see describeNeeding: a loud skip without one, a failure in CI). */
export function describePostgres (name: string, body: (pg: PostgresBinaries) => void): void {
  const found = findPostgres()
  describeNeeding(name, { what: 'PostgreSQL server', install: "Install Debian's postgresql package", ...('missing' in found ? { missing: found.missing } : {}) }, () => {
    if (!('missing' in found)) body(found)
  })
}
