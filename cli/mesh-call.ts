// `wasmesh call '<iface>#<func>(<args>)' --bootstrap <addr>`: joins the mesh as a short-lived client, calls whoever serves the interface, prints the result.

import { parseWave } from '../protocol/wave.ts'
import type { Func, Type } from '../protocol/wit/model.ts'
import type { CallExpression } from './call-expression.ts'
import { startClient } from './client.ts'
import type { CommandContext } from './context.ts'
import { CliError } from './errors.ts'
import type { Logger } from '../node/logger.ts'
import { JsonArgumentError, jsonToWave } from './json-arguments.ts'
import { formatResult } from './output.ts'

export interface MeshCallOptions {
  readonly bootstrap: readonly string[]
  readonly lattice?: string
  readonly target?: string
  readonly labels?: Readonly<Record<string, string>>
  readonly timeoutMs: number
  readonly json: boolean
  readonly logger: Logger
}

export async function meshCall (expr: CallExpression, opts: MeshCallOptions, ctx: CommandContext): Promise<number> {
  if (expr.iface === '') {
    throw new CliError('bad-call-expression', `the mesh serves interfaces, not world functions: name the interface, as in 'ns:pkg/iface#${expr.func}(...)'`)
  }
  const began = performance.now()
  const deadline = began + opts.timeoutMs
  const client = await startClient({ bootstrap: opts.bootstrap, lattice: opts.lattice, logger: opts.logger })
  try {
    const filter = { peer: opts.target, labels: opts.labels }
    const found = await client.until(() => client.node.servers(expr.iface, filter).length > 0, deadline, ctx.signal)
    if (!found) {
      if (ctx.signal?.aborted === true) return 1
      throw client.unreachable(opts.timeoutMs) ?? noServer(expr.iface, opts, client.node.peers().filter(p => !p.local).length)
    }
    const remaining = (): number => Math.max(1, Math.round(deadline - performance.now()))
    const callOpts = { target: opts.target, labels: opts.labels, signal: ctx.signal }
    const func = await client.node.describe(expr.iface, expr.func, { ...callOpts, signal: AbortSignal.any([AbortSignal.timeout(remaining()), ...(ctx.signal === undefined ? [] : [ctx.signal])]) })
    const params = parseArguments(func, expr.args, opts.json)
    const results = await client.node.call(expr.iface, expr.func, params, { ...callOpts, timeoutMs: remaining() })
    ctx.out(formatResult(func, results, opts.json))
    return 0
  } finally {
    await client.stop()
  }
}

function noServer (iface: string, opts: MeshCallOptions, peers: number): CliError {
  const only = [
    ...(opts.target !== undefined ? [`peer ${opts.target}`] : []),
    ...Object.entries(opts.labels ?? {}).map(([k, v]) => `label ${k}=${v}`)
  ]
  return new CliError('no-server', `no peer in lattice ${opts.lattice ?? 'default'} serves ${iface}${only.length > 0 ? ` (only ${only.join(', ')})` : ''} ` +
    `within ${opts.timeoutMs} ms; ${peers} other peer${peers === 1 ? '' : 's'} seen: 'wasmesh mesh --bootstrap ...' lists what they serve`)
}

/** The arguments are the WAVE of a tuple of the parameters, without its parentheses; with `json`, JSON values separated by commas. */
export function parseArguments (func: Func, args: string, json = false): unknown[] {
  const tuple: Type = { kind: 'tuple', elements: func.params.map(p => p.type) }
  const signature = func.params.map(p => p.name).join(', ')
  try {
    return parseWave(tuple, `(${json ? jsonArguments(func, args) : args})`) as unknown[]
  } catch (err) {
    throw new CliError('bad-arguments', `${func.name}(${signature}): ${(err as Error).message}`, { cause: err })
  }
}

function jsonArguments (func: Func, args: string): string {
  let values: unknown
  try {
    values = JSON.parse(`[${args}]`)
  } catch (err) {
    throw new JsonArgumentError(`the arguments are not JSON (--json): ${(err as Error).message}`)
  }
  const list = values as unknown[]
  if (list.length !== func.params.length) throw new JsonArgumentError(`expected ${func.params.length} argument${func.params.length === 1 ? '' : 's'}, got ${list.length}`)
  return func.params.map((p, i) => jsonToWave(p.type, list[i], p.name)).join(', ')
}
