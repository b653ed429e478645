// What the control commands (get, scale, stop, link, config, label, events) share: their flags, joining the mesh, picking the nodes, calling control.

import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import { parseLatticeArg } from './config.ts'
import { CONTROL_IFACE } from '../node/index.ts'
import type { MeshNode } from '../node/index.ts'
import { startClient } from './client.ts'
import type { Client } from './client.ts'
import type { CommandContext } from './context.ts'
import { CliError } from './errors.ts'
import { bootstrapOf, clientFlags, flag, labelsOf, latticeKeyOf, logFormatOf, logLevelOf, loggerOf, positiveMsOf } from './options.ts'
import { clientMemberCertOf } from './security.ts'

/** The flags every control command takes, for the help texts. */
export const controlOptionsHelp = `  --peer <peer-id>         the node to act on (repeatable)
  --label <k=v>            every node advertising this label (repeatable: all of them)
  --all                    every node of the mesh
                           (none of the three: the first bootstrap peer)
  --bootstrap <multiaddr>  a peer of the mesh, ending in /p2p/<peer-id> (repeatable;
                           default: $WASMESH_BOOTSTRAP, comma-separated)
  --lattice-key <file>     the key of a private lattice (default: $WASMESH_LATTICE_KEY_FILE)
  --data-dir <dir>         keep the client's identity there (for nodes whose policy names it)
  --member-cert <file>     the member certificate issued to that identity (wasmesh key sign-member)
  --lattice <name>         the lattice (default "default")
  --json                   JSON instead of tables
  --timeout <ms>           how long to wait for the mesh and each answer (default 30000)
  --log-level <level>      debug, info, warn, error or silent (default warn)
  --log-format <fmt>       text or json (default: text on a terminal, else json)

Nodes refuse control calls (control-refused) unless they run with --control, or
their policy has a rule allowing wasmesh:lattice/control to this client's peer id
or labels (then give --data-dir and --member-cert).`

const common = {
  peer: { type: 'string', multiple: true },
  label: { type: 'string', multiple: true },
  all: { type: 'boolean' },
  ...clientFlags
} as const

type Values = Record<string, string | boolean | string[] | undefined>

export interface ControlArgs {
  readonly values: Values
  readonly positionals: string[]
  readonly json: boolean
  readonly timeoutMs: number
}

/** Parses a control command's flags: the common ones and its own. */
export function parseControlArgs (argv: string[], own: NonNullable<ParseArgsConfig['options']> = {}): ControlArgs {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...common, ...own } })
  return { values: values as Values, positionals, json: values.json === true, timeoutMs: positiveMsOf('timeout', values.timeout as string | undefined, 30_000) }
}

export interface ControlSession {
  readonly node: MeshNode
  /** The nodes picked by --peer, --label, --all (or the first bootstrap peer). */
  readonly targets: string[]
  /** Calls `func` of the control interface of `peer`; an error result becomes a `control-failed` CliError. */
  call (peer: string, func: string, ...params: unknown[]): Promise<unknown>
  stop (): Promise<void>
}

/** The peer id a bootstrap multiaddr ends with. */
function peerOfAddr (addr: string): string {
  return addr.slice(addr.lastIndexOf('/p2p/') + '/p2p/'.length)
}

/** Joins the mesh as a client, waits for its view, and picks the target nodes. */
export async function openControl (args: ControlArgs, ctx: CommandContext, help: string): Promise<ControlSession> {
  const v = args.values
  const bootstrap = bootstrapOf(v.bootstrap as string[] | undefined, ctx.env)
  if (bootstrap === undefined) throw new CliError('usage', `give a peer of the mesh with --bootstrap <multiaddr> (or WASMESH_BOOTSTRAP)\n\n${help}`)
  const lattice = v.lattice === undefined ? undefined : flag('lattice', () => parseLatticeArg(v.lattice as string))
  const labels = labelsOf(v.label as string[] | undefined)
  const peers = (v.peer as string[] | undefined) ?? []
  const dataDir = v['data-dir'] as string | undefined
  const logger = loggerOf(ctx, logLevelOf(v['log-level'] as string | undefined, 'warn'), logFormatOf(v['log-format'] as string | undefined))
  const client: Client = await startClient({
    bootstrap,
    lattice,
    latticeKey: await latticeKeyOf(v['lattice-key'] as string | undefined, ctx.env),
    identityDir: dataDir === undefined ? undefined : resolve(dataDir),
    memberCert: await clientMemberCertOf(v['member-cert'] as string | undefined, dataDir),
    logger
  })
  try {
    const node = client.node
    const synced = await client.until(() => client.synced(), performance.now() + args.timeoutMs, ctx.signal)
    if (!synced) throw client.unreachable(args.timeoutMs) ?? new CliError('sync-timeout', `connected, but no bootstrap peer sent its view of lattice ${node.lattice} within ${args.timeoutMs} ms: is it a wasmesh node of this lattice (--lattice)?`)
    await client.settle(() => false, ctx.signal)
    const hosts = node.peers().filter(p => !p.local && p.client !== true)
    const picked = new Set(peers)
    if (labels !== undefined) {
      const matching = hosts.filter(h => Object.entries(labels).every(([k, val]) => h.labels[k] === val))
      if (matching.length === 0) throw new CliError('control-failed', `no node of the mesh advertises ${Object.entries(labels).map(([k, val]) => `${k}=${val}`).join(',')} (wasmesh get hosts lists them)`)
      for (const h of matching) picked.add(h.peer)
    }
    if (v.all === true) for (const h of hosts) picked.add(h.peer)
    if (picked.size === 0) picked.add(peerOfAddr(bootstrap[0]))
    return {
      node,
      targets: [...picked].sort(),
      async call (peer, func, ...params) {
        let result: unknown
        try {
          [result] = await node.call(CONTROL_IFACE, func, params, { target: peer, timeoutMs: args.timeoutMs, signal: ctx.signal })
        } catch (err) {
          const code = (err as { code?: unknown }).code
          throw new CliError('control-failed', `${peer}: ${typeof code === 'string' ? `[${code}] ` : ''}${(err as Error).message}`, { cause: err })
        }
        if (isResult(result)) {
          if (result.tag === 'err') throw new CliError('control-failed', `${peer}: [${result.val.code}] ${result.val.message}`)
          return result.val
        }
        return result
      },
      stop: async () => { await client.stop() }
    }
  } catch (err) {
    await client.stop()
    throw err
  }
}

function isResult (v: unknown): v is { tag: 'ok', val: unknown } | { tag: 'err', val: { code: string, message: string } } {
  return typeof v === 'object' && v !== null && 'tag' in v && ((v as { tag: unknown }).tag === 'ok' || (v as { tag: unknown }).tag === 'err')
}

/**
 * Runs `each` on every target, printing what it returns (tables) or one JSON document ({peer: result}); a target
 * that fails is reported on standard error and makes the exit status 1, the others still run.
 */
export async function forEachTarget (session: ControlSession, ctx: CommandContext, json: boolean, each: (peer: string) => Promise<{ text: string, json: unknown }>): Promise<number> {
  let status = 0
  const out: Record<string, unknown> = {}
  for (const peer of session.targets) {
    try {
      const r = await each(peer)
      if (json) out[peer] = r.json
      else ctx.out(r.text)
    } catch (err) {
      status = 1
      if (json) out[peer] = { error: { code: (err as { code?: string }).code ?? 'internal', message: (err as Error).message } }
      ctx.err(`error [${(err as { code?: string }).code ?? 'internal'}]: ${(err as Error).message}`)
    }
  }
  if (json) ctx.out(JSON.stringify(out, null, 2))
  return status
}

export const pairsText = (pairs: ReadonlyArray<readonly [string, string]>): string => pairs.map(([k, v]) => `${k}=${v}`).join(',') || '-'
