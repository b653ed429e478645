// Flag values shared by the mesh commands: bootstrap peers, labels, timeouts and the log, each checked with an error naming the flag.

import { LimitError, SettingError, parseLabelArg, parseLimitArg, parseLogFormatArg, parseLogLevelArg, parseMsArg, parseMultiaddrArg } from './config.ts'
import type { LogFormat } from './config.ts'
import { createLogger } from '../node/logger.ts'
import type { LogEntry, LogLevel, Logger } from '../node/logger.ts'
import type { CommandContext } from './context.ts'
import { CliError } from './errors.ts'
import { SecurityError, readLatticeKey, readPublicKey } from '../node/security/index.ts'
import type { KeyObject } from 'node:crypto'

/** Runs a setting's parser; a value it refuses is a usage error naming the flag. */
export function flag<T> (name: string, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    if (err instanceof SettingError) throw new CliError('usage', `--${name}: ${err.message}`, { cause: err })
    throw err
  }
}

/** `--bootstrap` flags, else `WASMESH_BOOTSTRAP` (comma-separated); undefined when neither is given. */
export function bootstrapOf (flags: readonly string[] | undefined, env: CommandContext['env']): string[] | undefined {
  const fromEnv = env.WASMESH_BOOTSTRAP?.split(',').map(s => s.trim()).filter(s => s !== '')
  const list = flags !== undefined && flags.length > 0 ? flags : fromEnv !== undefined && fromEnv.length > 0 ? fromEnv : undefined
  if (list === undefined) return undefined
  const name = flags !== undefined && flags.length > 0 ? 'bootstrap' : 'bootstrap (from WASMESH_BOOTSTRAP)'
  return list.map(a => flag(name, () => parseMultiaddrArg(a, { peerId: true })))
}

export function labelsOf (flags: readonly string[] | undefined): Record<string, string> | undefined {
  if (flags === undefined || flags.length === 0) return undefined
  return Object.fromEntries(flags.map(l => flag('label', () => parseLabelArg(l))))
}

/** `--limit <name>=<value>` flags by limit name, the last of a name winning; a limit the node cannot take is `invalid-config`. */
export function limitFlagsOf (flags: readonly string[] | undefined): Record<string, number> | undefined {
  if (flags === undefined || flags.length === 0) return undefined
  const out: Record<string, number> = {}
  for (const text of flags) {
    try {
      const [name, value] = parseLimitArg(text)
      out[name] = value
    } catch (err) {
      if (err instanceof LimitError) throw new CliError('invalid-config', `--limit ${text}: ${err.message}`, { cause: err })
      throw err
    }
  }
  return out
}

export function positiveMsOf (name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const ms = flag(name, () => parseMsArg(text))
  if (ms === 0) throw new CliError('usage', `--${name}: must be more than 0 ms`)
  return ms
}

/** The command's log on standard error: text on a terminal, JSON lines elsewhere, unless told. */
export function loggerOf (ctx: CommandContext, level: LogLevel, format: LogFormat | undefined, tap?: (entry: LogEntry) => void): Logger {
  return createLogger({ level, format: format ?? (ctx.errIsTTY ? 'text' : 'json'), write: line => { ctx.err(line) }, ...(tap !== undefined ? { tap } : {}) })
}

export function logLevelOf (text: string | undefined, fallback: LogLevel): LogLevel {
  return text === undefined ? fallback : flag('log-level', () => parseLogLevelArg(text))
}

export function logFormatOf (text: string | undefined): LogFormat | undefined {
  return text === undefined ? undefined : flag('log-format', () => parseLogFormatArg(text))
}

/** `--trust-key` files: the Ed25519 public keys whose component signatures are trusted; a file that is not one is `bad-key`. */
export async function trustKeysOf (files: readonly string[]): Promise<KeyObject[]> {
  return await Promise.all(files.map(async file => {
    try {
      return await readPublicKey(file)
    } catch (err) {
      throw asKeyError(err, ` (--trust-key ${file})`)
    }
  }))
}

/**
 * The flags of every command that joins a mesh as a short-lived client (`call`, `mesh`, `app`, the control
 * commands), as `parseArgs` options: one table, so that they are spelled and typed alike everywhere.
 */
export const clientFlags = {
  bootstrap: { type: 'string', multiple: true },
  lattice: { type: 'string' },
  'lattice-key': { type: 'string' },
  'data-dir': { type: 'string' },
  'member-cert': { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' }
} as const

/** The environment variable naming the lattice key file when no --lattice-key (or config key) is given. */
export const latticeKeyEnv = 'WASMESH_LATTICE_KEY_FILE'

/** The lattice key file in effect: the flag (or config key), else `WASMESH_LATTICE_KEY_FILE`; undefined for an open lattice. */
export function latticeKeyFileOf (given: string | undefined, env: CommandContext['env']): string | undefined {
  const fromEnv = env[latticeKeyEnv]
  return given ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined)
}

/**
 * Reads the lattice key file in effect; one that is missing, unreadable, readable by others or not
 * a lattice key is `bad-key` (exit 1) with what to do.
 */
export async function latticeKeyOf (given: string | undefined, env: CommandContext['env']): Promise<Uint8Array | undefined> {
  const file = latticeKeyFileOf(given, env)
  if (file === undefined) return undefined
  try {
    return await readLatticeKey(file)
  } catch (err) {
    throw asKeyError(err, given === undefined ? ` (from ${latticeKeyEnv})` : '')
  }
}

/** A security layer's error as the CLI's: a key, certificate or trust file that cannot be used is `bad-key`, a policy file `invalid-config`; anything else as it is. */
export function asKeyError (err: unknown, where = ''): unknown {
  if (err instanceof SecurityError) return new CliError(err.code === 'bad-policy' ? 'invalid-config' : 'bad-key', `${err.message}${where}`, { cause: err })
  return err
}

/** Whether a listen address is this machine's loopback only (other machines cannot dial it). */
export function isLoopbackAddress (addr: string): boolean {
  return /^\/ip4\/127\.|^\/ip6\/::1\/|^\/dns[46]?\/localhost\//.test(addr)
}

/** Listening beyond loopback without a lattice key: a warning on standard error that names the risk and the remedy. */
export function warnIfOpen (ctx: CommandContext, listen: readonly string[], privateLattice: boolean): void {
  const open = listen.filter(a => !isLoopbackAddress(a))
  if (privateLattice || open.length === 0) return
  ctx.err(`warning: listening on ${open.join(', ')} without a lattice key: anyone who can reach this port joins the lattice, reads every advert and calls every export (providers and their data included). Make the lattice private: wasmesh key new --out lattice.key, and start every node with --lattice-key lattice.key`)
}
