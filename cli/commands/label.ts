// `wasmesh label put|del`: the labels nodes advertise, changed through their control interface.

import type { CommandContext } from '../context.ts'
import { controlOptionsHelp, forEachTarget, openControl, parseControlArgs } from '../control.ts'
import { CliError } from '../errors.ts'
import { parseLabelArg } from '../config.ts'
import { flag } from '../options.ts'

export const labelHelp = `Usage: wasmesh label put <key=value>... [options]
       wasmesh label del <key>... [options]

Sets or removes labels of each node picked (--peer, --label, --all; default the
first bootstrap peer); the nodes advertise them at once. Keys starting with
wasmesh. are reserved. Labels a node advertises are its own word: policies and
label filters believe only labels from member certificates or trust files.

Options:
${controlOptionsHelp}

Examples:
  wasmesh label put zone=eu-1 tier=cache --peer 12D3KooWB... --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...`

export async function labelCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseControlArgs(argv)
  const [op, ...items] = args.positionals
  if (!['put', 'del'].includes(op) || items.length === 0) throw new CliError('usage', `label put <key=value>... or label del <key>...\n\n${labelHelp}`)
  const pairs = op === 'put' ? items.map(kv => flag('label', () => parseLabelArg(kv))) : []
  const session = await openControl(args, ctx, labelHelp)
  try {
    return await forEachTarget(session, ctx, args.json, async peer => {
      if (op === 'put') {
        for (const [k, v] of pairs) await session.call(peer, 'put-label', k, v)
        return { text: `${peer}: ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')} set`, json: Object.fromEntries(pairs) }
      }
      const gone: string[] = []
      for (const k of items) if (await session.call(peer, 'delete-label', k) === true) gone.push(k)
      return { text: `${peer}: ${gone.length === 0 ? 'no such label' : `${gone.join(' ')} deleted`}`, json: { deleted: gone } }
    })
  } finally { await session.stop() }
}
