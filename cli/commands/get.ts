// `wasmesh get hosts` and `wasmesh get inventory [peer]`: the nodes of the mesh, and what one node runs (its control interface's inventory).

import type { CommandContext } from '../context.ts'
import { controlOptionsHelp, forEachTarget, openControl, pairsText, parseControlArgs } from '../control.ts'
import { CliError } from '../errors.ts'
import { table, toJson } from '../output.ts'

export const getHelp = `Usage: wasmesh get hosts [options]
       wasmesh get inventory [peer-id] [options]

hosts: every node of the mesh (from their adverts) with its labels and
addresses, and the version and uptime of those that answer this client's
control calls ('-' for those that refuse them).
inventory: what a node runs: its labels, components (name, digest, instances
now / most at once, the reference it was scaled from, exports), providers,
links and named configs. A peer id given is the same as --peer.

Options:
${controlOptionsHelp}

Examples:
  wasmesh get hosts --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...
  wasmesh get inventory 12D3KooWB... --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW... --json`

interface Inventory {
  peer: string
  version: string
  uptimeMs: bigint
  labels: Array<[string, string]>
  components: Array<{ name: string, digest: string, reference: string, instances: number, maxInstances: number, exports: string[], config: string[] }>
  providers: Array<{ name: string, digest: string, reference: string, exports: string[] }>
  links: Array<{ component: string, target: string, name: string, labels: Array<[string, string]>, peer: string }>
  configs: string[]
}

const digestPrefixChars = 12

interface Host {
  peer: string
  labels: Record<string, string>
  addresses: string[]
  version?: string
  uptimeMs?: number
  components?: number
  /** Why it did not answer the control call (refused, unreachable). */
  control?: string
}

export function formatUptime (ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
}

export function formatInventory (inv: Inventory): string {
  const lines = [`node ${inv.peer}: wasmesh ${inv.version}, up ${formatUptime(Number(inv.uptimeMs))}, labels ${pairsText(inv.labels)}`, '']
  const c = [['COMPONENT', 'DIGEST', 'INSTANCES', 'REFERENCE', 'EXPORTS']]
  for (const x of inv.components) c.push([x.name, x.digest.slice(0, digestPrefixChars), `${x.instances}/${x.maxInstances}`, x.reference || '-', x.exports.join(',') || '-'])
  if (inv.components.length === 0) c.push(['(none)', '', '', '', ''])
  const p = [['PROVIDER', 'REFERENCE', 'EXPORTS']]
  for (const x of inv.providers) p.push([x.name, x.reference || '-', x.exports.join(',') || '-'])
  if (inv.providers.length === 0) p.push(['(none)', '', ''])
  const l = [['LINK', 'NAME', 'TO']]
  for (const x of inv.links) l.push([`${x.component}:${x.target}`, x.name || 'default', x.peer || pairsText(x.labels)])
  if (inv.links.length === 0) l.push(['(none)', '', ''])
  lines.push(...table(c), '', ...table(p), '', ...table(l), '', `configs: ${inv.configs.join(', ') || '(none)'}`)
  return lines.join('\n')
}

export async function getCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseControlArgs(argv)
  const [what, ...rest] = args.positionals
  if (what === 'hosts') {
    if (rest.length > 0) throw new CliError('usage', `get hosts takes no arguments (got ${JSON.stringify(rest[0])})\n\n${getHelp}`)
    const session = await openControl({ ...args, values: { ...args.values, all: true } }, ctx, getHelp)
    try {
      // asked all at once: one slow or unreachable node costs one timeout, not one per node
      const hosts: Host[] = await Promise.all(session.targets.map(async peer => {
        const view = session.node.peer(peer)
        let inv: Inventory | undefined
        let refused: string | undefined
        try { inv = await session.call(peer, 'get-inventory') as Inventory } catch (err) { refused = (err as Error).message }
        return {
          peer,
          labels: { ...view?.labels },
          addresses: [...view?.addresses ?? []],
          ...(inv !== undefined ? { version: inv.version, uptimeMs: Number(inv.uptimeMs), components: inv.components.length } : { control: refused })
        }
      }))
      if (args.json) {
        ctx.out(JSON.stringify(toJson(hosts), null, 2))
      } else {
        const rows = [['PEER', 'VERSION', 'UPTIME', 'COMPONENTS', 'LABELS', 'ADDRESS']]
        for (const h of hosts) rows.push([h.peer, h.version ?? '-', h.uptimeMs === undefined ? '-' : formatUptime(h.uptimeMs), h.components === undefined ? '-' : String(h.components), pairsText(Object.entries(h.labels)), h.addresses[0] ?? '-'])
        ctx.out(table(rows).join('\n'))
      }
      return 0
    } finally {
      await session.stop()
    }
  }
  if (what === 'inventory') {
    if (rest.length > 1) throw new CliError('usage', `get inventory takes at most one peer id\n\n${getHelp}`)
    const values = rest.length === 1 ? { ...args.values, peer: [...(args.values.peer as string[] | undefined ?? []), rest[0]] } : args.values
    const session = await openControl({ ...args, values }, ctx, getHelp)
    try {
      return await forEachTarget(session, ctx, args.json, async peer => {
        const inv = await session.call(peer, 'get-inventory') as Inventory
        return { text: formatInventory(inv), json: toJson(inv) }
      })
    } finally {
      await session.stop()
    }
  }
  throw new CliError('usage', `get what? hosts or inventory${what === undefined ? '' : ` (got ${JSON.stringify(what)})`}\n\n${getHelp}`)
}
