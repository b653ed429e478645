// `wasmesh simulate <scenario>`: runs a scenario with a progress bar on stderr and writes the report; Ctrl-C stops cleanly and still reports.

import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { CliError } from '../errors.ts'
import { stopRequests } from '../signals.ts'
import type { CommandContext } from '../context.ts'
import { loadScenario, runSimulation, shippedScenarios, writeReport } from '../../simulations/index.ts'
import type { Progress, RunOptions } from '../../simulations/index.ts'

export const simulateHelp = `Usage: wasmesh simulate <scenario> [--seed N] [--nodes N] [--duration S] [--out DIR] [--real-time]

Runs real wasmesh nodes in this process over a simulated network (latency,
jitter, loss, bandwidth, crashes, partitions) and writes a report:
report.json (every figure), report.md (a summary) and SVG charts.

The nodes run in virtual time: their clocks and timers are the simulation's,
which jumps to the next timer whenever every node is idle, so the figures
measure the mesh, not this machine, and the same seed gives the same report.
A node's CPU work takes no simulated time. --real-time runs them on the
host's clock instead (figures then include the host's load).

<scenario> is a YAML or JSON file, or a shipped scenario:
  ${shippedScenarios.join(', ')}

Options:
  --seed N        another random seed (the same seed gives the same events)
  --nodes N       another node count
  --duration S    another duration, in seconds
  --out DIR       where to write the report (default: sim-<name>-<seed>)
  --real-time     the host's clock instead of virtual time
  --quiet         no progress bar

Ctrl-C stops the run; what was measured so far is still reported. A second
Ctrl-C exits at once (status 130), without a report.

Examples:
  wasmesh simulate smoke
  wasmesh simulate mesh-100 --seed 2 --out /tmp/mesh
  wasmesh simulate my-scenario.yaml --nodes 50 --duration 30`

export interface SimulateOptions {
  /** Where progress goes; default a bar on stderr when it is a terminal, else a line every 5 s through ctx.err. */
  readonly progress?: (p: Progress) => void
}

function numberOption (name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n)) throw new CliError('usage', `--${name} takes a number, got ${JSON.stringify(v)}`)
  return n
}

/** The progress line: phase, simulated and wall time and their ratio, nodes up of those that should be, events and calls. */
export function progressLine (p: Progress, width = 24): string {
  const frac = p.durationMs > 0 ? Math.min(1, p.simulatedMs / p.durationMs) : 0
  const filled = Math.round(frac * width)
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)}s`
  // wall seconds per simulated second since the run began (setup included): under 1 runs ahead of real time
  const ratio = p.clockMs > 0 ? `${(p.wallMs / p.clockMs).toFixed(2)} wall/sim` : '- wall/sim'
  return `${bar} ${p.phase.padEnd(8)} ${p.mode} sim ${s(p.simulatedMs)}/${s(p.durationMs)} wall ${s(p.wallMs)} (${ratio})  nodes ${p.nodesUp}/${p.nodesExpected}  events ${p.eventsDone}/${p.eventsTotal}  calls ${p.callsMade} (${p.callsFailed} failed)`
}

export async function simulate (argv: string[], ctx: CommandContext, opts: SimulateOptions = {}): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      seed: { type: 'string' },
      nodes: { type: 'string' },
      duration: { type: 'string' },
      out: { type: 'string' },
      quiet: { type: 'boolean' },
      'real-time': { type: 'boolean' }
    }
  })
  if (positionals.length !== 1) throw new CliError('usage', `simulate takes one scenario\n\n${simulateHelp}`)
  const scenario = await loadScenario(positionals[0], {
    seed: numberOption('seed', values.seed),
    nodes: numberOption('nodes', values.nodes),
    durationS: numberOption('duration', values.duration)
  })
  const out = resolve(values.out ?? `sim-${scenario.name}-${scenario.seed}`)

  // a stop request (ctx.signal, or Ctrl-C / SIGTERM when the caller does not own stopping) ends the run early;
  // a second Ctrl-C exits at once, without a report
  const controller = new AbortController()
  const stop = stopRequests(ctx, () => { ctx.err('\nsecond signal: exiting at once, no report') })
  void stop.requested.then(() => {
    ctx.err('\nstopping: reporting what was measured so far (wait for the nodes to stop; Ctrl-C again to exit at once)')
    controller.abort(new Error('interrupted'))
  })

  const tty = ctx.errIsTTY
  let lastLine = 0
  const progress: RunOptions['onProgress'] = values.quiet === true
    ? undefined
    : opts.progress ?? (p => {
      if (tty) {
        process.stderr.write(`\r${progressLine(p)}\u001b[K`)
      } else if (p.wallMs - lastLine >= 5_000) {
        lastLine = p.wallMs
        ctx.err(progressLine(p))
      }
    })

  const time = values['real-time'] === true ? 'real' : 'virtual'
  ctx.err(`simulating ${scenario.name}: ${scenario.nodes} nodes, ${scenario.durationS} s, seed ${scenario.seed}, ${scenario.encryption}, ${time} time`)
  try {
    const report = await runSimulation(scenario, { signal: controller.signal, onProgress: progress, time })
    if (tty && progress !== undefined && opts.progress === undefined) process.stderr.write('\n')
    const files = await writeReport(report, out)
    const c = report.calls
    const ratio = c.successRatio === null ? 'n/a' : `${(c.successRatio * 100).toFixed(3)} %`
    ctx.out(`${report.interrupted ? 'interrupted: ' : ''}${c.made} calls, ${ratio} succeeded; advert convergence p99 ${report.convergence.exportChange.p99 ?? 'n/a'} ms; ${(report.time.wallMs / 1000).toFixed(1)} s wall, ${report.time.mode} time`)
    ctx.out(`report: ${files.find(f => f.endsWith('report.md')) ?? out}`)
    return report.interrupted ? 130 : 0
  } finally {
    stop.dispose()
  }
}
