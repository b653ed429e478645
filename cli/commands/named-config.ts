// `wasmesh config put|get|del`: named configs on nodes (what `wasmesh scale --config` feeds components' wasi:config), through their control interface.

import type { CommandContext } from '../context.ts'
import { controlOptionsHelp, forEachTarget, openControl, parseControlArgs } from '../control.ts'
import { CliError } from '../errors.ts'
import { table } from '../output.ts'

export const configHelp = `Usage: wasmesh config put <name> <key=value>... [options]
       wasmesh config get <name> [options]
       wasmesh config del <name> [options]

A named config is a set of key/value pairs a node holds; wasmesh scale
--config <name> merges it into what the component reads with wasi:config
(read when the component is scaled). put replaces the whole set.

Options:
${controlOptionsHelp}

Examples:
  wasmesh config put greeting lang=en --all --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...`

export async function configCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseControlArgs(argv)
  const [op, name, ...rest] = args.positionals
  if (name === undefined || !['put', 'get', 'del'].includes(op)) throw new CliError('usage', `config put, get or del, then a config name\n\n${configHelp}`)
  if (op !== 'put' && rest.length > 0) throw new CliError('usage', `config ${op} takes only the config name\n\n${configHelp}`)
  const pairs = rest.map(kv => {
    const i = kv.indexOf('=')
    if (i <= 0) throw new CliError('usage', `config value ${JSON.stringify(kv)} is not key=value\n\n${configHelp}`)
    return [kv.slice(0, i), kv.slice(i + 1)] as [string, string]
  })
  const session = await openControl(args, ctx, configHelp)
  try {
    return await forEachTarget(session, ctx, args.json, async peer => {
      if (op === 'put') {
        await session.call(peer, 'put-config', name, pairs)
        return { text: `${peer}: config ${name} set (${pairs.length} key${pairs.length === 1 ? '' : 's'})`, json: Object.fromEntries(pairs) }
      }
      if (op === 'del') {
        const gone = await session.call(peer, 'delete-config', name) as boolean
        return { text: `${peer}: config ${name} ${gone ? 'deleted' : 'was not there'}`, json: { deleted: gone } }
      }
      const values = await session.call(peer, 'get-config', name) as Array<[string, string]> | undefined
      if (values === undefined) throw new CliError('control-failed', `${peer}: [not-found] no named config ${name} there`)
      return { text: [`node ${peer}, config ${name}:`, ...table([['KEY', 'VALUE'], ...values])].join('\n'), json: Object.fromEntries(values) }
    })
  } finally { await session.stop() }
}
