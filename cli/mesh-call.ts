// `wasmesh call '<iface>#<func>(<args>)' --bootstrap <addr>`: joins the mesh as a short-lived client, calls whoever serves the interface, prints the result.

import { parseWave } from '../protocol/wave.ts'
import type { Func, Type } from '../protocol/wit/model.ts'
import type { CallExpression } from './call-expression.ts'
import { startClient } from './client.ts'
import type { CommandContext } from './context.ts'
import { CliError } from './errors.ts'
import type { PeerView } from '../node/index.ts'
import type { Logger } from '../node/logger.ts'
import { unversioned } from '../protocol/versions.ts'
import { closest } from './suggest.ts'
import { JsonArgumentError, jsonToWave } from './json-arguments.ts'
import { formatResult } from './output.ts'

export interface MeshCallOptions {
  readonly bootstrap: readonly string[]
  readonly lattice?: string
  readonly latticeKey?: Uint8Array
  /** The client's identity directory (`ClientInit.identityDir`). */
  readonly identityDir?: string
  /** `ClientInit.memberCert`. */
  readonly memberCert?: string
  readonly target?: string
  readonly labels?: Readonly<Record<string, string>>
  /** Only this component (name or digest). */
  readonly component?: string
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
  const client = await startClient({ bootstrap: opts.bootstrap, lattice: opts.lattice, latticeKey: opts.latticeKey, identityDir: opts.identityDir, memberCert: opts.memberCert, logger: opts.logger })
  try {
    const filter = { peer: opts.target, labels: opts.labels, component: opts.component }
    const served = (): boolean => client.node.servers(expr.iface, filter).length > 0
    // Once the bootstrap peer's view of the mesh is in and no one serves the interface, waiting longer would
    // only wait for a server that is not there: fail at once, naming what is served instead.
    const known = await client.until(() => served() || client.synced(), deadline, ctx.signal)
    if (known && !served()) await client.settle(served, ctx.signal)
    if (!served()) {
      if (ctx.signal?.aborted === true) return 1
      throw client.unreachable(opts.timeoutMs) ?? noServer(expr.iface, opts, client.node.peers().filter(p => !p.local), known)
    }
    const remaining = (): number => Math.max(1, Math.round(deadline - performance.now()))
    const callOpts = { target: opts.target, labels: opts.labels, component: opts.component, signal: ctx.signal }
    const func = await client.node.describe(expr.iface, expr.func, { ...callOpts, signal: AbortSignal.any([AbortSignal.timeout(remaining()), ...(ctx.signal === undefined ? [] : [ctx.signal])]) })
    const params = parseArguments(func, expr.args, opts.json)
    const results = await client.node.call(expr.iface, expr.func, params, { ...callOpts, timeoutMs: remaining() })
    ctx.out(formatResult(func, results, opts.json))
    return 0
  } finally {
    await client.stop()
  }
}

function noServer (iface: string, opts: MeshCallOptions, peers: readonly PeerView[], synced: boolean): CliError {
  const only = [
    ...(opts.target !== undefined ? [`peer ${opts.target}`] : []),
    ...Object.entries(opts.labels ?? {}).map(([k, v]) => `label ${k}=${v}`),
    ...(opts.component !== undefined ? [`component ${opts.component}`] : [])
  ]
  const ifaces = peers.flatMap(p => p.exports.map(e => e.iface))
  // Suggest by the whole id and by the id without its version, so that a typo in either is found.
  const near = closest(unversioned(iface), ifaces.map(unversioned)).map(n => ifaces.find(i => unversioned(i) === n) ?? n)
  const hint = near.length > 0 ? `; did you mean ${near.join(' or ')}?` : ''
  const when = synced ? 'as the mesh is known now' : `within ${opts.timeoutMs} ms`
  return new CliError('no-server', `no peer in lattice ${opts.lattice ?? 'default'} serves ${iface}${only.length > 0 ? ` (only ${only.join(', ')})` : ''} ` +
    `${when}${hint} (${peers.length} other peer${peers.length === 1 ? '' : 's'} seen: 'wasmesh mesh --bootstrap ...' lists what they serve)`)
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
