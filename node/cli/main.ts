// The `wasmesh` command line: picks the command, runs it, and turns any failure into one readable line and an exit status.

import { call, callHelp } from './call.ts'
import { createContext } from './context.ts'
import type { CommandContext } from './context.ts'
import { CliError } from './errors.ts'
import { inspect, inspectHelp } from './inspect.ts'
import { mesh, meshHelp } from './mesh.ts'
import { nodeCommand, nodeHelp } from './node-command.ts'
import { providerCommand, providerHelp } from './provider-command.ts'
import { simulate, simulateHelp } from '../../simulations/cli.ts'
import { formatError } from './output.ts'

type Command = (argv: string[], ctx: CommandContext) => Promise<number>

const commands: Record<string, { run: Command, help: string, summary: string }> = {
  node: { run: nodeCommand, help: nodeHelp, summary: 'run a mesh node serving components, until Ctrl-C' },
  call: { run: call, help: callHelp, summary: 'call a function through the mesh (--bootstrap) or in-process (--component)' },
  mesh: { run: mesh, help: meshHelp, summary: 'show the peers of a mesh and what they serve (--watch to follow)' },
  provider: { run: providerCommand, help: providerHelp, summary: 'run a native provider as its own process that joins the mesh' },
  simulate: { run: simulate, help: simulateHelp, summary: 'run a network simulation scenario and write a report' },
  inspect: { run: inspect, help: inspectHelp, summary: 'show a component\'s digest, imports and exports' }
}

export const usage = `Usage: wasmesh <command> [options]

Commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`).join('\n')}

Global options:
  --verbose   show the cause and stack of an error
  --help      help for wasmesh or a command

Exit status: 0 ok, 1 failure ('error [<code>]: <message>' on standard error), 2 usage mistake.
Run 'wasmesh <command> --help' for a command's options and examples.

Examples:
  wasmesh node --component examples/build/upper.wasm
  wasmesh call 'local:demo/upper#to-upper("hello")' --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...
  wasmesh mesh --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW... --watch`

export interface MainOptions {
  out?: (text: string) => void
  err?: (text: string) => void
  /** Default process.env. */
  env?: Readonly<Record<string, string | undefined>>
  /** Aborting it stops a long-running command (node, mesh --watch) as a first Ctrl-C would; given, the process's signals are left alone. */
  signal?: AbortSignal
}

/** Runs one command line; returns the exit status instead of exiting, so tests can call it. */
export async function main (argv: string[], opts: MainOptions = {}): Promise<number> {
  const verbose = argv.includes('--verbose')
  const args = argv.filter(a => a !== '--verbose')
  const ctx = createContext({ verbose, ...opts })
  const [name, ...rest] = args
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    ctx.out(usage)
    return name === undefined ? 2 : 0
  }
  const command = commands[name]
  if (command === undefined) {
    ctx.err(`error [usage]: unknown command ${JSON.stringify(name)}\n\n${usage}`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    ctx.out(command.help)
    return 0
  }
  try {
    return await command.run(rest, ctx)
  } catch (err) {
    ctx.err(formatError(usageError(err), verbose))
    return err instanceof CliError ? err.exitCode : (isUsage(err) ? 2 : 1)
  }
}

/** node:util's parseArgs throws plain TypeErrors with codes like ERR_PARSE_ARGS_UNKNOWN_OPTION: report them as usage mistakes. */
function isUsage (err: unknown): boolean {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')
}

function usageError (err: unknown): unknown {
  return isUsage(err) ? new CliError('usage', (err as Error).message) : err
}
