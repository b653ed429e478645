// The `wasmesh` command line: picks the command, runs it, and turns any failure into one readable line and an exit status.

import { createContext } from './context.ts'
import type { CommandContext } from './context.ts'
import { CliError } from './errors.ts'
import { packageVersion } from './install.ts'
import { formatError } from './output.ts'
import { closest, didYouMean } from './suggest.ts'

type Command = (argv: string[], ctx: CommandContext) => Promise<number>

/** A command's module is imported only when it runs: libp2p and the runtime cost a second to load, `--help` should not. */
const commands: Record<string, { summary: string, load: () => Promise<{ run: Command, help: string }> }> = {
  node: { summary: 'run a mesh node serving components, until Ctrl-C', load: async () => { const m = await import('./commands/node.ts'); return { run: m.nodeCommand, help: m.nodeHelp } } },
  call: { summary: 'call a function through the mesh (--bootstrap) or in-process (--component)', load: async () => { const m = await import('./commands/call.ts'); return { run: m.call, help: m.callHelp } } },
  mesh: { summary: 'show the peers of a mesh and what they serve (--watch to follow)', load: async () => { const m = await import('./commands/mesh.ts'); return { run: m.mesh, help: m.meshHelp } } },
  provider: { summary: 'run a native provider as its own process that joins the mesh', load: async () => { const m = await import('./commands/provider.ts'); return { run: m.providerCommand, help: m.providerHelp } } },
  simulate: { summary: 'run a network simulation scenario and write a report', load: async () => { const m = await import('./commands/simulate.ts'); return { run: m.simulate, help: m.simulateHelp } } },
  new: { summary: 'make a component project from a template (wasmesh new --help lists them)', load: async () => { const m = await import('./commands/new.ts'); return { run: m.newCommand, help: m.newHelp } } },
  build: { summary: 'build the component project in a folder (cached by source hash)', load: async () => { const m = await import('./commands/build.ts'); return { run: m.buildCommand, help: m.buildHelp } } },
  dev: { summary: 'serve a project on loopback, rebuilt and swapped in on every save', load: async () => { const m = await import('./commands/dev.ts'); return { run: m.devCommand, help: m.devHelp } } },
  key: { summary: 'make a lattice key or a signing key, or show a signing key\'s public half', load: async () => { const m = await import('./commands/key.ts'); return { run: m.key, help: m.keyHelp } } },
  sign: { summary: 'sign a component (writes <file>.sig) for nodes run with --require-signed', load: async () => { const m = await import('./commands/sign.ts'); return { run: m.signCommand, help: m.signHelp } } },
  push: { summary: 'upload a component to an OCI registry (the wasm artifact layout wash uses)', load: async () => { const m = await import('./commands/push.ts'); return { run: m.pushCommand, help: m.pushHelp } } },
  pull: { summary: 'fetch a component from an OCI registry into a data directory\'s cache', load: async () => { const m = await import('./commands/pull.ts'); return { run: m.pullCommand, help: m.pullHelp } } },
  get: { summary: 'list the nodes of a mesh (get hosts), or what one runs (get inventory [peer])', load: async () => { const m = await import('./commands/get.ts'); return { run: m.getCommand, help: m.getHelp } } },
  scale: { summary: 'run a component on some nodes with at most N instances (0 stops it)', load: async () => { const m = await import('./commands/scale.ts'); return { run: m.scaleCommand, help: m.scaleHelp } } },
  stop: { summary: 'stop a component on some nodes', load: async () => { const m = await import('./commands/scale.ts'); return { run: m.stopCommand, help: m.stopHelp } } },
  link: { summary: 'put, delete or list links of nodes\' components (link put|del|get)', load: async () => { const m = await import('./commands/link.ts'); return { run: m.linkCommand, help: m.linkHelp } } },
  config: { summary: 'put, get or delete named configs on nodes (config put|get|del)', load: async () => { const m = await import('./commands/named-config.ts'); return { run: m.configCommand, help: m.configHelp } } },
  label: { summary: 'put or delete labels nodes advertise (label put|del)', load: async () => { const m = await import('./commands/label.ts'); return { run: m.labelCommand, help: m.labelHelp } } },
  events: { summary: 'follow nodes\' control events (events --watch)', load: async () => { const m = await import('./commands/events.ts'); return { run: m.eventsCommand, help: m.eventsHelp } } },
  inspect: { summary: 'show a component\'s digest, imports, exports and signature', load: async () => { const m = await import('./commands/inspect.ts'); return { run: m.inspect, help: m.inspectHelp } } },
  app: { summary: 'deploy, undeploy, list and look at applications from wadm manifests', load: async () => { const m = await import('./commands/app.ts'); return { run: m.appCommand, help: m.appHelp } } }
}

export const usage = `Usage: wasmesh <command> [options]

Commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`).join('\n')}

Global options:
  --verbose      show the cause and stack of an error
  --help, -h     help for wasmesh or a command
  --version, -V  print the version of wasmesh

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
  if (name === '--version' || name === '-V' || name === 'version') {
    ctx.out(`wasmesh ${packageVersion()}`)
    return 0
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined
  if (entry === undefined) {
    const hint = name.startsWith('-') ? didYouMean(name, ['--help', '--version', '--verbose']) : didYouMean(name, Object.keys(commands))
    ctx.err(`error [usage]: unknown ${name.startsWith('-') ? 'option' : 'command'} ${JSON.stringify(name)}${hint}\n\n${usage}`)
    return 2
  }
  const command = await entry.load()
  if (rest.includes('--help') || rest.includes('-h')) {
    ctx.out(command.help)
    return 0
  }
  try {
    return await command.run(rest, ctx)
  } catch (err) {
    ctx.err(formatError(usageError(err, name, command.help), verbose))
    return err instanceof CliError ? err.exitCode : (isUsage(err) ? 2 : 1)
  }
}

/** node:util's parseArgs throws plain TypeErrors with codes like ERR_PARSE_ARGS_UNKNOWN_OPTION: report them as usage mistakes. */
function isUsage (err: unknown): boolean {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')
}

/** A flag the command does not take is named with the closest ones it does take (read from its help). */
function usageError (err: unknown, command: string, help: string): unknown {
  if (!isUsage(err)) return err
  const unknown = (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /Unknown option '(-{1,2}[^']+)'/.exec((err as Error).message)?.[1] : undefined
  if (unknown === undefined) return new CliError('usage', (err as Error).message)
  const flags = [...help.matchAll(/--[a-z][a-z0-9-]*/g)].map(m => m[0])
  const near = closest(unknown.replace(/=.*$/, ''), [...flags, '--help', '--verbose'])
  const hint = near.length > 0 ? `; did you mean ${near.join(' or ')}?` : ''
  return new CliError('usage', `wasmesh ${command} takes no option ${unknown}${hint} ('wasmesh ${command} --help' lists them)`)
}
