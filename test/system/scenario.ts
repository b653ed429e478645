// The issue-5 scenario with real `wasmesh` processes, wherever they run: A alone, B (shout) and C (upper) join, C dies hard, D takes over upper, D leaves politely.
import { expect } from 'vitest'
import type { CliResult, NodeProcess, Processes } from './processes.ts'
import { until } from './processes.ts'
import { parseExposition, valueOf } from '../node/ops/exposition.ts'

/** Where the scenario's processes run: on loopback, or each in a network namespace of its own. */
export interface Placement {
  /** `--listen` of the node with this name (a, b, c, d). */
  listen (name: string): string
  /** Command prefix that puts the node with this name in its place (e.g. `ip netns exec <ns>`). */
  nodePrefix (name: string): readonly string[]
  /** The IP a node's printed addresses must carry, when the placement gives each node its own. */
  readonly host?: (name: string) => string
  /** Give C `--metrics <host>:0` and check its /metrics and /readyz (only where this test process can reach C). */
  readonly metricsHost?: string
  /** Extra state for a failure message (e.g. each namespace's TCP sockets). */
  readonly diagnose?: () => Promise<string>
  /** Where the short-lived `wasmesh call` / `wasmesh mesh` clients run. */
  readonly clientPrefix: readonly string[]
}

export interface ScenarioInit {
  readonly processes: Processes
  readonly placement: Placement
  readonly dataDir: string
  readonly cacheDir: string
  readonly components: { readonly upper: string, readonly shout: string }
  /** A node's advert TTL: how long peers may keep routing to a dead node (`advertTtlMs`). */
  readonly advertTtlMs: number
}

function describeResult (r: CliResult): string {
  return `exit ${r.code ?? r.signal}: ${r.stdout.trim()} ${r.stderr.trim().slice(-600)}`
}

export async function runScenario (init: ScenarioInit): Promise<void> {
  const { processes, placement } = init
  const nodes = new Map<string, NodeProcess>()
  const start = async (name: string, extra: readonly string[]): Promise<NodeProcess> => {
    const node = await processes.node(name, [
      '--listen', placement.listen(name),
      '--data-dir', `${init.dataDir}/${name}`,
      '--cache-dir', init.cacheDir,
      '--drain-timeout', '2000',
      '--log-level', process.env.WASMESH_SYSTEM_LOG_LEVEL ?? 'info',
      ...extra
    ], placement.nodePrefix(name))
    nodes.set(name, node)
    const host = placement.host?.(name)
    if (host !== undefined) expect(node.addresses, `${name} prints its own address`).toEqual([`/ip4/${host}/tcp/4001/p2p/${node.peerId}`])
    return node
  }
  const call = async (expression: string, bootstrap: string): Promise<CliResult> =>
    await processes.cli(['call', expression, '--bootstrap', bootstrap, '--timeout', '10000'], { prefix: placement.clientPrefix })
  /** Calls until the answer is `expected`; a failure (no server yet, a dead one) is retried. */
  const callUntil = async (expression: string, bootstrap: string, expected: string, timeoutMs: number): Promise<void> => {
    await until(`${expression} to answer ${expected}`, timeoutMs, async () => {
      const r = await call(expression, bootstrap)
      if (r.code === 0 && r.stdout.trim() === expected) return true
      throw new Error(describeResult(r))
    })
  }

  try {
    const a = await start('a', [])
    // Only A's own address: a node on another machine knows nothing else.
    const bootA = a.addresses[0]
    expect(bootA).toMatch(/\/p2p\/12D3KooW/)
    const [b, c] = await Promise.all([
      start('b', ['--bootstrap', bootA, '--component', `shout=${init.components.shout}`]),
      start('c', ['--bootstrap', bootA, '--component', `upper=${init.components.upper}`, ...(placement.metricsHost !== undefined ? ['--metrics', `${placement.metricsHost}:0`] : [])])
    ])
    expect(new Set([a.peerId, b.peerId, c.peerId]).size).toBe(3)

    // A client that only knows A reaches C directly, and B, which reaches C in turn.
    await callUntil('local:demo/upper#to-upper("hi")', bootA, '"HI"', 20_000)
    await callUntil('local:demo/shout#shout("hi")', bootA, '"HI!"', 20_000)
    if (placement.metricsHost !== undefined) await checkMetrics(c)

    // C dies without a word; D starts serving upper. Within an advert TTL the mesh routes around C.
    c.kill('SIGKILL')
    expect((await c.exited).signal).toBe('SIGKILL')
    // Counted from the kill: peers may keep routing to C for a TTL, no longer.
    const ttlEnds = Date.now() + init.advertTtlMs
    const d = await start('d', ['--bootstrap', bootA, '--component', `upper=${init.components.upper}`])
    await callUntil('local:demo/shout#shout("again")', bootA, '"AGAIN!"', ttlEnds - Date.now())
    await callUntil('local:demo/upper#to-upper("d")', bootA, '"D"', ttlEnds - Date.now())

    // SIGTERM: D withdraws before it exits, so A stops listing D's upper at once, not after a TTL.
    d.kill('SIGTERM')
    const exit = await d.exited
    expect(exit, d.output()).toEqual({ code: 0, signal: null })
    const view = await processes.cli(['mesh', '--json', '--bootstrap', bootA, '--timeout', '10000'], { prefix: placement.clientPrefix })
    expect(view.code, describeResult(view)).toBe(0)
    const mesh = JSON.parse(view.stdout) as { peers: Array<{ peer: string, exports: Array<{ iface: string }> }>, interfaces: Array<{ iface: string, peers: string[] }> }
    expect(mesh.peers.find(p => p.peer === d.peerId)).toBeUndefined()
    expect(mesh.interfaces.find(i => i.iface === 'local:demo/upper')?.peers ?? []).not.toContain(d.peerId)
    // B still serves shout: the view is real, not empty.
    expect(mesh.interfaces.find(i => i.iface === 'local:demo/shout')?.peers).toEqual([b.peerId])
  } catch (err) {
    // The nodes' own words are what explains a failure here.
    const logs = [...nodes.values()].map(n => n.output()).join('\n')
    // Each node's own view of the mesh: who knows whom.
    const views = await Promise.all([...nodes.values()].map(async n => {
      const r = await processes.cli(['mesh', '--json', '--bootstrap', n.addresses[0], '--timeout', '5000'], { prefix: placement.clientPrefix }).catch((e: Error) => e)
      return `--- mesh as ${n.name} sees it ---\n${r instanceof Error ? r.message : describeResult(r)}`
    }))
    const extra = await placement.diagnose?.().catch((e: Error) => e.message)
    throw new Error(`${(err as Error).message}\n${logs}\n${views.join('\n')}\n${extra ?? ''}`, { cause: err })
  }
}

/** C's ops listener, as `wasmesh node --metrics` serves it: ready, and counting the calls it served. */
async function checkMetrics (c: NodeProcess): Promise<void> {
  const url = await until('C to print its metrics address', 5_000, async () => /^metrics: (http:\/\/\S+)\/metrics/m.exec(c.output())?.[1])
  const ready = await fetch(`${url}/readyz`)
  expect(ready.status, await ready.text()).toBe(200)
  const families = parseExposition(await (await fetch(`${url}/metrics`)).text())
  // At least the client's direct call and B's call for shout.
  expect(valueOf(families, 'wasmesh_calls_total', { direction: 'inbound', interface: 'local:demo/upper', function: 'to-upper', outcome: 'ok' })).toBeGreaterThanOrEqual(2)
  expect(valueOf(families, 'wasmesh_component_instances', { component: 'upper' })).toBeGreaterThanOrEqual(1)
  expect(valueOf(families, 'wasmesh_libp2p_connections', { direction: 'outbound' })).toBeGreaterThanOrEqual(1)
}
