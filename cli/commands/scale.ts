// `wasmesh scale <component> --replicas N` and `wasmesh stop <component>`: load, rescale or stop a component on some nodes through their control interface.

import type { CommandContext } from '../context.ts'
import { controlOptionsHelp, forEachTarget, openControl, parseControlArgs } from '../control.ts'
import { CliError } from '../errors.ts'

export const scaleHelp = `Usage: wasmesh scale <component> --replicas <n> [--config <name>]... [options]

Loads the component on each node picked (--peer, --label, --all; default the
first bootstrap peer) with at most <n> instances running at once, or rescales
it if it runs there already (it is loaded again with the new limit); 0 stops
it. <component> is where the node reads it from: a file path on that node
(sha256: and OCI references once nodes take them). Named configs (wasmesh
config put) are merged in order into what it reads with wasi:config.

Options:
  --replicas <n>           most instances at once; 0 stops it
  --config <name>          a named config of that node (repeatable)
${controlOptionsHelp}

Examples:
  wasmesh scale /srv/components/upper.wasm --replicas 4 --label zone=a --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...`

export const stopHelp = `Usage: wasmesh stop <component> [options]

Stops a component (by name, digest or the reference it was scaled from) on
each node picked (--peer, --label, --all; default the first bootstrap peer).

Options:
${controlOptionsHelp}`

export async function scaleCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseControlArgs(argv, { replicas: { type: 'string' }, config: { type: 'string', multiple: true } })
  const [reference, ...rest] = args.positionals
  if (reference === undefined || rest.length > 0) throw new CliError('usage', `scale takes one component reference\n\n${scaleHelp}`)
  const text = args.values.replicas as string | undefined
  if (text === undefined || !/^\d{1,9}$/.test(text)) throw new CliError('usage', `give --replicas <n>, a whole number (0 stops the component)\n\n${scaleHelp}`)
  const replicas = Number(text)
  const config = (args.values.config as string[] | undefined) ?? []
  const session = await openControl(args, ctx, scaleHelp)
  try {
    return await forEachTarget(session, ctx, args.json, async peer => {
      const digest = await session.call(peer, 'scale-component', { reference, replicas, config }) as string
      const text = replicas === 0
        ? `${peer}: ${digest === '' ? `${reference} was not running` : `stopped ${reference}`}`
        : `${peer}: ${reference} scaled to ${replicas} (${digest.slice(0, 12)})`
      return { text, json: { reference, replicas, digest } }
    })
  } finally {
    await session.stop()
  }
}

export async function stopCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseControlArgs(argv)
  const [component, ...rest] = args.positionals
  if (component === undefined || rest.length > 0) throw new CliError('usage', `stop takes one component (name, digest or reference)\n\n${stopHelp}`)
  const session = await openControl(args, ctx, stopHelp)
  try {
    return await forEachTarget(session, ctx, args.json, async peer => {
      await session.call(peer, 'stop-component', component)
      return { text: `${peer}: stopped ${component}`, json: { stopped: component } }
    })
  } finally {
    await session.stop()
  }
}
