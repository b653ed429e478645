// A node under attack: a legitimate client's latency and failures, and the server's RSS, before, during and after an attacker sends garbage, resets, stalled values and zombie adverts at once (issue 12).
import type { MeshNode } from '../../node/index.ts'
import { startServer } from './support/child.ts'
import type { ServerProcess } from './support/child.ts'
import { ECHO_CALL_IFACE, echoClient } from './support/echo.ts'
import { percentile } from './support/latency.ts'

/** `WASMESH_ATTACK_SECONDS` (default 30): the length of each phase (before, during, after). */
const SECONDS = Number(process.env.WASMESH_ATTACK_SECONDS ?? 30)
/** The legitimate client's calls in flight. */
const CONCURRENCY = 8
const SAMPLE_EVERY_MS = 1_000

interface Phase {
  readonly name: string
  readonly latenciesMs: number[]
  readonly failures: Map<string, number>
  calls: number
  readonly rss: number[]
  readonly heap: number[]
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`

export async function run (): Promise<string> {
  const rss: number[] = []
  const heap: number[] = []
  let serverDied = false
  const server = await startServer(new URL('./support/wrpc-server.ts', import.meta.url), ['wrpc', '--heap-every-ms', String(SAMPLE_EVERY_MS)], {
    nodeArgs: ['--expose-gc'],
    onLine: line => {
      try {
        const s = JSON.parse(line) as { rss?: unknown, arrayBuffers?: unknown }
        if (typeof s.rss === 'number' && typeof s.arrayBuffers === 'number') { rss.push(s.rss); heap.push(s.arrayBuffers) }
      } catch {}
    },
    onExit: () => { serverDied = true }
  })
  let client: MeshNode | undefined
  let attacker: ServerProcess | undefined
  /** The attacker's own counts, as it last printed them. */
  let attacked: Record<string, number> = {}
  const phases: Phase[] = []
  try {
    client = await echoClient(server.address)
    const c = client
    const payload = new Uint8Array(64).fill(1)

    const measure = async (name: string): Promise<void> => {
      const phase: Phase = { name, latenciesMs: [], failures: new Map(), calls: 0, rss: [], heap: [] }
      phases.push(phase)
      const rssFrom = rss.length
      const until = performance.now() + SECONDS * 1000
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < until && !serverDied) {
          const began = performance.now()
          phase.calls++
          try {
            await c.call(ECHO_CALL_IFACE, 'echo', [payload], { timeoutMs: 5_000 })
            phase.latenciesMs.push(performance.now() - began)
          } catch (err) {
            const code = (err as { code?: string }).code ?? 'error'
            phase.failures.set(code, (phase.failures.get(code) ?? 0) + 1)
          }
        }
      }))
      phase.rss.push(...rss.slice(rssFrom))
      phase.heap.push(...heap.slice(rssFrom))
    }

    await measure('before')
    if (!serverDied) {
      attacker = await startServer(new URL('./support/attacker.ts', import.meta.url), [server.address, c.addresses()[0]], {
        onLine: line => { try { attacked = JSON.parse(line) as Record<string, number> } catch {} }
      })
      await measure('during')
      await attacker.stop()
      attacker = undefined
    }
    if (!serverDied) await measure('after')

    const row = (p: Phase): string => {
      const ok = p.latenciesMs.length
      const failed = [...p.failures.entries()].map(([code, n]) => `${n} ${code}`).join(', ') || '0'
      const sorted = [...p.latenciesMs].sort((a, b) => a - b)
      const most = (xs: number[]): string => xs.length > 0 ? mib(Math.max(...xs)) : '-'
      const last = (xs: number[]): string => xs.length > 0 ? mib(xs[xs.length - 1]) : '-'
      return `| ${p.name} | ${p.calls.toLocaleString('en')} | ${ok.toLocaleString('en')} | ${failed} | ${ok > 0 ? percentile(sorted, 0.5).toFixed(2) : '-'} | ${ok > 0 ? percentile(sorted, 0.99).toFixed(2) : '-'} | ${most(p.rss)} | ${last(p.rss)} | ${most(p.heap)} | ${last(p.heap)} |`
    }
    return [
      '## A node under attack (issue 12)',
      '',
      `\`npm run bench -- attack\` (\`WASMESH_ATTACK_SECONDS\`, default 30, per phase): a server node in its own process serving the`,
      `64 B echo; a client node making ${CONCURRENCY} calls in flight through the mesh (5 s deadline each) for one phase before, one`,
      'during and one after an attacker process with a fresh key: garbage after a valid opening, streams reset at',
      'every stage, 64 streams each declaring a 15 MiB `list<u8>` and sending all but its last bytes then a byte every 8 s,',
      'and a sync reply of 300 self-signed adverts for the echo interface at closed ports with a TTL of 2^32-1 ms, handed',
      'to both the server and the client. RSS and the memory held in ArrayBuffers (where values\' bytes live) are the\nserver\'s, sampled every second after a full GC (--expose-gc): RSS rarely shrinks once grown, the ArrayBuffers show what is held.',
      '',
      '| phase | calls | ok | failed | p50 ms | p99 ms | server RSS max | RSS at end | ArrayBuffers after GC max | ArrayBuffers at end |',
      '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|',
      ...phases.map(row),
      '',
      `What the attacker got done during its phase: ${(attacked.garbage ?? 0).toLocaleString('en')} garbage streams, ${(attacked.resets ?? 0).toLocaleString('en')} resets,`,
      `${(attacked.stalled ?? 0).toLocaleString('en')} stalled streams opened and ${mib(attacked.stalledBytes ?? 0)} written into them (as far as its own buffers took them), ${attacked.zombiesServed ?? 0} zombie sync replies served,`,
      `${(attacked.errors ?? 0).toLocaleString('en')} streams it could not open (refused, reset or timed out).`,
      ...(serverDied ? ['', `**The server process died** during the "${phases.at(-1)?.name}" phase.`] : [])
    ].join('\n')
  } finally {
    await attacker?.stop()
    await client?.stop()
    await server.stop()
  }
}
