// `wasmesh link put|del|get`: the links of nodes' components to their imports' servers, changed through the nodes' control interface.

import type { CommandContext } from '../context.ts'
import { controlOptionsHelp, forEachTarget, openControl, pairsText, parseControlArgs } from '../control.ts'
import { CliError } from '../errors.ts'
import { table } from '../output.ts'
import { parseLink } from '../../node/links.ts'

export const linkHelp = `Usage: wasmesh link put <component>:<ns:pkg[/iface][@version]>[#<name>]=<k=v[,k=v...] | peer-id> [options]
       wasmesh link del <component> <ns:pkg[/iface][@version]> [--name <link-name>] [options]
       wasmesh link get [options]

put: from the next call on, the component's imports of that interface (or
package) go only to servers with all those labels, or to that peer (the
syntax of wasmesh node --link). del: removes the links of the component to
that target with that name (default "default"). get: lists the links in force.

Options:
  --name <link-name>       del: the link's name (default "default")
${controlOptionsHelp}

Examples:
  wasmesh link put counter:wasi:keyvalue/store=tier=cache --all --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...
  wasmesh link del counter wasi:keyvalue/store --all --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...`

interface WireLink { component: string, target: string, name: string, labels: Array<[string, string]>, peer: string }

export async function linkCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseControlArgs(argv, { name: { type: 'string' } })
  const [op, ...rest] = args.positionals
  if (op === 'put') {
    if (rest.length !== 1) throw new CliError('usage', `link put takes one link\n\n${linkHelp}`)
    let l
    try { l = parseLink(rest[0]) } catch (err) { throw new CliError('usage', (err as Error).message) }
    const wire: WireLink = { component: l.component, target: l.target, name: l.name ?? '', labels: Object.entries(l.labels ?? {}), peer: l.peer ?? '' }
    const session = await openControl(args, ctx, linkHelp)
    try {
      return await forEachTarget(session, ctx, args.json, async peer => {
        await session.call(peer, 'put-link', wire)
        return { text: `${peer}: link ${rest[0]} set`, json: wire }
      })
    } finally { await session.stop() }
  }
  if (op === 'del') {
    if (rest.length !== 2) throw new CliError('usage', `link del takes a component and a target\n\n${linkHelp}`)
    const name = (args.values.name as string | undefined) ?? ''
    const session = await openControl(args, ctx, linkHelp)
    try {
      return await forEachTarget(session, ctx, args.json, async peer => {
        const n = await session.call(peer, 'delete-link', rest[0], rest[1], name) as number
        return { text: `${peer}: ${n} link${n === 1 ? '' : 's'} deleted`, json: { deleted: n } }
      })
    } finally { await session.stop() }
  }
  if (op === 'get') {
    if (rest.length > 0) throw new CliError('usage', `link get takes no arguments\n\n${linkHelp}`)
    const session = await openControl(args, ctx, linkHelp)
    try {
      return await forEachTarget(session, ctx, args.json, async peer => {
        const links = await session.call(peer, 'list-links') as WireLink[]
        const rows = [['LINK', 'NAME', 'TO']]
        for (const x of links) rows.push([`${x.component}:${x.target}`, x.name || 'default', x.peer || pairsText(x.labels)])
        if (links.length === 0) rows.push(['(none)', '', ''])
        return { text: [`node ${peer}:`, ...table(rows)].join('\n'), json: links }
      })
    } finally { await session.stop() }
  }
  throw new CliError('usage', `link put, del or get${op === undefined ? '' : ` (got ${JSON.stringify(op)})`}\n\n${linkHelp}`)
}
