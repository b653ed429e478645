// How the CLI writes values and errors: WAVE or JSON for results, one plain line per error.

import { printWave } from '../protocol/wave.ts'
import type { Func } from '../protocol/wit/model.ts'

/** A call's result as printed: WAVE, or JSON; a function that returns nothing prints `()` (JSON: null), so a script sees the call ended. */
export function formatResult (func: Func, results: readonly unknown[], json: boolean): string {
  const type = func.results[0]
  if (type === undefined) return json ? 'null' : '()'
  return json ? JSON.stringify(toJson(results[0])) : printWave(type, results[0])
}

/** Values in jco's conventions -> plain JSON: 64-bit integers as numbers when exact, else strings; typed arrays as arrays; none (undefined) as null, so no field goes missing. */
export function toJson (value: unknown): unknown {
  if (value === undefined) return null
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number | bigint>, toJson)
  if (Array.isArray(value)) return value.map(toJson)
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = toJson(v)
    return out
  }
  return value
}

/** `error [code]: message`, with the cause chain only when asked for. */
export function formatError (err: unknown, verbose: boolean): string {
  if (!(err instanceof Error)) return `error: ${String(err)}`
  const code = (err as { code?: unknown }).code
  const head = typeof code === 'string' ? `error [${code}]: ${err.message}` : `error: ${err.message}`
  return verbose && err.stack != null ? `${head}\n${err.stack}` : head
}

/** Rows as aligned columns (the last one not padded): the CLI's tables. */
export function table (rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  return rows.map(r => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i])).join('  ').trimEnd())
}
