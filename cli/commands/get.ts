// `wasmesh get hosts` and `wasmesh get inventory [peer]`: the nodes of the mesh, and what one node runs (its control interface's inventory).

import type { CommandContext } from '../context.ts'
import { controlOptionsHelp, forEachTarget, openControl, pairsText, parseControlArgs } from '../control.ts'
import { CliError } from '../errors.ts'
import { table, toJson } from '../output.ts'

export const getHelp = `Usage: wasmesh get hosts [options]
       wasmesh get inventory [peer-id] [options]
       wasmesh get network [peer-id] [options]

hosts: every node of the mesh (from their adverts) with its labels and
addresses, and the version, uptime and reachability of those that answer
this client's control calls ('-' for those that refuse them).
inventory: what a node runs: its labels, components (name, digest, instances
now / most at once, the reference it was scaled from, exports), providers,
links and named configs. A peer id given is the same as --peer.
network: how peers reach a node: its reachability (public, private or
relayed), the addresses it advertises, the relays it holds a reservation on,
the reservations it holds for others, and each open connection (peer,
direction, direct or relayed, address).

Options:
${controlOptionsHelp}

Examples:
  wasmesh get hosts --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...
  wasmesh get inventory 12D3KooWB... --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW... --json
  wasmesh get network 12D3KooWB... --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...`

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

interface Network {
  reachability: string
  addresses: string[]
  relays: string[]
  relayReservations: number
  connections: Array<{ peer: string, address: string, direction: string, relayed: boolean }>
}

const digestPrefixChars = 12

interface Host {
  peer: string
  labels: Record<string, string>
  addresses: string[]
  version?: string
  uptimeMs?: number
  components?: number
  reachability?: string
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

export function formatNetwork (peer: string, net: Network): string {
  const direct = net.connections.filter(c => !c.relayed).length
  const lines = [
    `node ${peer}: reachability ${net.reachability}, ${net.connections.length} connections (${direct} direct, ${net.connections.length - direct} relayed)`,
    `addresses: ${net.addresses.join(' ') || '(none advertised)'}`,
    `relays: ${net.relays.join(' ') || '(none)'}`,
    `reservations held for others: ${net.relayReservations}`,
    ''
  ]
  const rows = [['PEER', 'DIRECTION', 'PATH', 'ADDRESS']]
  for (const c of net.connections) rows.push([c.peer, c.direction, c.relayed ? 'relayed' : 'direct', c.address])
  if (net.connections.length === 0) rows.push(['(none)', '', '', ''])
  lines.push(...table(rows))
  return lines.join('\n')
}

/** What `get <what> [peer]` asks each node (the control function get-<what>) and how it is shown. */
const perNode: Record<string, (peer: string, answer: unknown) => string> = {
  inventory: (_peer, answer) => formatInventory(answer as Inventory),
  network: (peer, answer) => formatNetwork(peer, answer as Network)
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
        let net: Network | undefined
        try {
          [inv, net] = await Promise.all([
            session.call(peer, 'get-inventory') as Promise<Inventory>,
            // a node older than get-network answers the inventory only
            (session.call(peer, 'get-network') as Promise<Network>).catch(() => undefined)
          ])
        } catch (err) { refused = (err as Error).message }
        return {
          peer,
          labels: { ...view?.labels },
          addresses: [...view?.addresses ?? []],
          ...(inv !== undefined ? { version: inv.version, uptimeMs: Number(inv.uptimeMs), components: inv.components.length } : { control: refused }),
          ...(net !== undefined ? { reachability: net.reachability } : {})
        }
      }))
      if (args.json) {
        ctx.out(JSON.stringify(toJson(hosts), null, 2))
      } else {
        const rows = [['PEER', 'VERSION', 'UPTIME', 'COMPONENTS', 'REACHABILITY', 'LABELS', 'ADDRESS']]
        for (const h of hosts) rows.push([h.peer, h.version ?? '-', h.uptimeMs === undefined ? '-' : formatUptime(h.uptimeMs), h.components === undefined ? '-' : String(h.components), h.reachability ?? '-', pairsText(Object.entries(h.labels)), h.addresses[0] ?? '-'])
        ctx.out(table(rows).join('\n'))
      }
      return 0
    } finally {
      await session.stop()
    }
  }
  const format = what !== undefined && Object.hasOwn(perNode, what) ? perNode[what] : undefined
  if (format !== undefined) {
    if (rest.length > 1) throw new CliError('usage', `get ${what} takes at most one peer id\n\n${getHelp}`)
    const values = rest.length === 1 ? { ...args.values, peer: [...(args.values.peer as string[] | undefined ?? []), rest[0]] } : args.values
    const session = await openControl({ ...args, values }, ctx, getHelp)
    try {
      return await forEachTarget(session, ctx, args.json, async peer => {
        const answer = await session.call(peer, `get-${what}`)
        return { text: format(peer, answer), json: toJson(answer) }
      })
    } finally {
      await session.stop()
    }
  }
  throw new CliError('usage', `get what? hosts, inventory or network${what === undefined ? '' : ` (got ${JSON.stringify(what)})`}\n\n${getHelp}`)
}
