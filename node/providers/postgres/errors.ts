// Failures as the contract's error variants: the server's message (with its detail, hint and SQLSTATE), sorted into invalid-params, invalid-query or unexpected.

import pg from 'pg'
import { ParamError } from './values.ts'

export type QueryError =
  | { tag: 'invalid-params', val: string }
  | { tag: 'invalid-query', val: string }
  | { tag: 'unexpected', val: string }

/** SQLSTATEs caused by the values given rather than by the statement. */
const PARAM_STATES = new Set(['08P01', '42P18', '42804', '42P08'])
/** SQLSTATE classes of a statement that cannot run as written (syntax, unknown names, privileges, unsupported features). */
const QUERY_CLASSES = new Set(['42', '0A', '26', '34', '3D', '3F'])

/** The server's message, then its DETAIL and HINT, then `SQLSTATE: xxxxx`; other errors by their own message. */
export function describeError (err: unknown): string {
  if (err instanceof pg.DatabaseError) {
    const lines = [err.message]
    if (err.detail !== undefined && err.detail !== '') lines.push(`DETAIL: ${err.detail}`)
    if (err.hint !== undefined && err.hint !== '') lines.push(`HINT: ${err.hint}`)
    if (err.code !== undefined) lines.push(`SQLSTATE: ${err.code}`)
    return lines.join('\n')
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code
    return typeof code === 'string' && !err.message.includes(code) ? `${err.message} (${code})` : err.message
  }
  return String(err)
}

export function queryError (err: unknown): QueryError {
  const message = describeError(err)
  if (err instanceof ParamError) return { tag: 'invalid-params', val: message }
  if (err instanceof pg.DatabaseError && typeof err.code === 'string') {
    if (err.code.startsWith('22') || PARAM_STATES.has(err.code)) return { tag: 'invalid-params', val: message }
    if (QUERY_CLASSES.has(err.code.slice(0, 2))) return { tag: 'invalid-query', val: message }
  }
  return { tag: 'unexpected', val: message }
}

/**
 * Whether the connection that gave `err` must not go back to the pool: anything but an error the
 * server reported for a statement (after which the session is still good).
 */
export function connectionBroken (err: unknown): boolean {
  if (err instanceof ParamError) return false
  if (!(err instanceof pg.DatabaseError)) return true
  // Class 08 (connection exception), 57P0x (shutdown, crash), XX (internal error).
  return err.code === undefined || (err.code.startsWith('08') && err.code !== '08P01') || err.code.startsWith('57P') || err.code.startsWith('XX')
}
