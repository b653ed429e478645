// Memory under sustained load: a node serving wRPC calls as fast as a client can make them, its heap sampled after full GCs; reports the growth per call (flat: < 1 byte per call).
import type { MeshNode } from '../../node/index.ts'
import { startServer } from './support/child.ts'
import { ECHO_CALL_IFACE, echoClient } from './support/echo.ts'

/**
 * `WASMESH_SOAK_SECONDS` (default 60) bounds the load; `WASMESH_SOAK_CONCURRENCY` (default 64) the
 * calls in flight. The 10-minute run: `WASMESH_SOAK_SECONDS=600 npm run bench -- soak`.
 */
const SECONDS = Number(process.env.WASMESH_SOAK_SECONDS ?? 60)
const CONCURRENCY = Number(process.env.WASMESH_SOAK_CONCURRENCY ?? 64)
const SAMPLE_EVERY_MS = 2_000
/** Samples before this share of the run are warm-up (JIT, pools, connection set-up) and not fitted. */
const WARMUP_SHARE = 0.2

interface HeapSample { readonly heapUsed: number, readonly served: number }

/** Least-squares slope of heapUsed over calls served: bytes kept per call. */
function slope (samples: readonly HeapSample[]): number {
  const n = samples.length
  const mx = samples.reduce((a, s) => a + s.served, 0) / n
  const my = samples.reduce((a, s) => a + s.heapUsed, 0) / n
  let num = 0
  let den = 0
  for (const s of samples) {
    num += (s.served - mx) * (s.heapUsed - my)
    den += (s.served - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`

export async function run (): Promise<string> {
  const samples: HeapSample[] = []
  const server = await startServer(new URL('./support/wrpc-server.ts', import.meta.url), ['wrpc', '--heap-every-ms', String(SAMPLE_EVERY_MS)], {
    nodeArgs: ['--expose-gc'],
    onLine: line => {
      try {
        const s = JSON.parse(line) as Partial<HeapSample>
        if (typeof s.heapUsed === 'number' && typeof s.served === 'number') samples.push({ heapUsed: s.heapUsed, served: s.served })
      } catch {}
    }
  })
  let client: MeshNode | undefined
  try {
    client = await echoClient(server.address)
    const c = client
    const payload = new Uint8Array(64).fill(1)
    const began = performance.now()
    const until = began + SECONDS * 1000
    let calls = 0
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await c.call(ECHO_CALL_IFACE, 'echo', [payload])
        calls++
      }
    }))
    const elapsed = (performance.now() - began) / 1000
    const fitted = samples.slice(Math.ceil(samples.length * WARMUP_SHARE))
    if (fitted.length < 3) throw new Error(`only ${fitted.length} heap samples after warm-up: run longer`)
    const perCall = slope(fitted)
    const first = fitted[0]
    const last = fitted[fitted.length - 1]
    return [
      '## Memory under sustained load (issue 8)',
      '',
      `\`npm run bench -- soak\` (\`WASMESH_SOAK_SECONDS=600\` for the 10-minute run): the 64 B echo of the wrpc bench, ${CONCURRENCY} calls in`,
      `flight for ${SECONDS} s from a client node to a server node in its own process (run with \`--expose-gc\`), which`,
      `reports its \`heapUsed\` after a full GC every ${SAMPLE_EVERY_MS / 1000} s; the first ${WARMUP_SHARE * 100}% of the samples are warm-up. The`,
      'slope is the least-squares fit of heap over calls served: what the server keeps per call (flat: < 1 byte).',
      '',
      '| duration | calls | calls/s | samples fitted | heap at first fitted sample | heap at last | slope |',
      '|---:|---:|---:|---:|---:|---:|---:|',
      `| ${elapsed.toFixed(0)} s | ${calls.toLocaleString('en')} | ${Math.round(calls / elapsed).toLocaleString('en')} | ${fitted.length} | ${mib(first.heapUsed)} | ${mib(last.heapUsed)} | ${perCall.toFixed(3)} bytes/call |`
    ].join('\n')
  } finally {
    await client?.stop()
    await server.stop()
  }
}
