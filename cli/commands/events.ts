// `wasmesh events --watch`: follows the control events of some nodes (components scaled or failed, providers, links, configs, labels, hosts) until Ctrl-C.

import type { CommandContext } from '../context.ts'
import { controlOptionsHelp, openControl, pairsText, parseControlArgs } from '../control.ts'
import { CliError } from '../errors.ts'
import { toJson } from '../output.ts'
import { CONTROL_IFACE } from '../../node/index.ts'
import type { ControlEvent } from '../../node/index.ts'
import { stopRequests } from '../signals.ts'

export const eventsHelp = `Usage: wasmesh events --watch [options]

Prints each event of the nodes picked (--peer, --label, --all; default the
first bootstrap peer) as it happens, one line each (--json: one object per
line), until Ctrl-C: component-scaled, component-failed, provider-started,
provider-stopped, provider-failed, link-set, link-deleted, config-set,
config-deleted, labels-changed, host-started, host-stopping. A node drops a
watcher that falls behind (its maxEventQueue): the line 'events from <peer>
ended' says so.

Options:
  --watch                  follow events (the only mode: events are not kept)
${controlOptionsHelp}

Examples:
  wasmesh events --watch --all --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...`

export function formatEvent (e: ControlEvent): string {
  return `${new Date(Number(e.atMs)).toISOString()}  ${e.peer}  ${e.kind}  ${e.subject}  ${pairsText(e.detail)}`
}

export async function eventsCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseControlArgs(argv, { watch: { type: 'boolean' } })
  if (args.values.watch !== true) throw new CliError('usage', `events follows events as they happen: give --watch\n\n${eventsHelp}`)
  if (args.positionals.length > 0) throw new CliError('usage', `events takes no arguments\n\n${eventsHelp}`)
  const stop = stopRequests(ctx)
  const session = await openControl(args, ctx, eventsHelp)
  const abort = new AbortController()
  try {
    let status = 0
    const watching = session.targets.map(async peer => {
      try {
        const [stream] = await session.node.call(CONTROL_IFACE, 'watch-events', [], { target: peer, timeoutMs: args.timeoutMs, signal: abort.signal }) as [AsyncIterable<ControlEvent[]>]
        // on standard error, so that a script (or a test) knows from when on it hears everything
        ctx.err(`watching events of ${peer}`)
        for await (const chunk of stream) for (const e of chunk) ctx.out(args.json ? JSON.stringify(toJson(e)) : formatEvent(e))
        if (!abort.signal.aborted) ctx.err(`events from ${peer} ended`)
      } catch (err) {
        if (abort.signal.aborted) return
        status = 1
        const code = (err as { code?: unknown }).code
        ctx.err(`error [control-failed]: ${peer}: ${typeof code === 'string' ? `[${code}] ` : ''}${(err as Error).message}`)
      }
    })
    // every watch ended (refused, dropped, the nodes stopped), or Ctrl-C
    await Promise.race([stop.requested, Promise.all(watching)])
    abort.abort()
    await Promise.allSettled(watching)
    return status
  } finally {
    stop.dispose()
    await session.stop()
  }
}
