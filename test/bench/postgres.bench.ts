// Postgres query round trip (`SELECT $1::int`) through the mesh (two nodes, TCP loopback) beside the provider called in process and pg called directly, in one run, against a throwaway local server.
import { servedPair } from './support/pair.ts'
import pg from 'pg'
import type { MeshNode } from '../../node/index.ts'
import { createProvider } from '../../node/providers/sdk.ts'
import type { Provider } from '../../node/providers/sdk.ts'
import { QUERY, createPostgresModule } from '../../node/providers/postgres/index.ts'
import { findPostgres, startPostgres } from '../support/postgres.ts'
import type { PostgresCluster } from '../support/postgres.ts'
import { measureLatency } from './support/latency.ts'
import { measureAsync } from './support/timing.ts'
import { scratchDir } from '../support/scratch.ts'

const LATENCY = { warmupMs: 300, rounds: 8, roundMs: 200 }
const RATE = { samples: 5, sampleMs: 300 }
const CONCURRENCY = [1, 16] as const
/** Pool size for both the provider and the direct pg pool, so that in-flight calls meet the same number of server sessions. */
const POOL = 8
const SQL = 'SELECT $1::int AS n'

function fmtMs (ms: number): string {
  return ms >= 10 ? ms.toFixed(1) : ms.toFixed(3)
}

function fmtRate (ops: number): string {
  return `${Math.round(ops).toLocaleString('en')} ops/s`
}

export async function run (): Promise<string> {
  const title = '### Postgres: wasmcloud:postgres/query `SELECT $1::int` round trip'
  const found = findPostgres()
  if ('missing' in found) return `${title}\n\nSKIPPED: no PostgreSQL server (${found.missing}).`
  const scratch = await scratchDir('pg-bench')
  const nodes: MeshNode[] = []
  let provider: Provider | undefined
  let cluster: PostgresCluster | undefined
  let direct: pg.Pool | undefined
  try {
    cluster = await startPostgres(found)
    provider = await createProvider(createPostgresModule(), { config: { ...cluster.config, 'pool-size': String(POOL) } })
    await provider.start()
    const { client } = await servedPair(provider.service, QUERY, scratch.path, nodes)
    direct = new pg.Pool({ ...cluster.config, port: cluster.port, max: POOL })
    const pool = direct

    let n = 0
    const param = (): Array<{ tag: string, val: number }> => [{ tag: 'int4', val: n++ % 1_000_000 }]
    const expectOk = (r: unknown[]): void => {
      if ((r[0] as { tag: string }).tag !== 'ok') throw new Error(`the query failed: ${JSON.stringify(r[0])}`)
    }
    const cases = {
      mesh: { name: 'query, mesh (2 nodes, TCP loopback)', fn: async () => { expectOk(await client.call(QUERY, 'query', [SQL, param()])) } },
      provider: { name: 'query, provider called in process', fn: async () => { expectOk(await provider!.service.call(QUERY, 'query', [SQL, param()], { caller: 'bench' })) } },
      pg: { name: 'query, pg Pool directly', fn: async () => await pool.query(SQL, [n++ % 1_000_000]) }
    }
    const all = Object.values(cases)
    const latency = await measureLatency(all, LATENCY)
    const rates = new Map<string, Map<number, number>>()
    for (const c of CONCURRENCY) {
      for (const s of await measureAsync(all.map(x => ({ ...x, concurrency: c })), RATE)) {
        const m = rates.get(s.name) ?? new Map<number, number>()
        m.set(c, s.opsPerSec)
        rates.set(s.name, m)
      }
    }

    const lines = [title, '', `PostgreSQL ${found.version} on the same machine (TCP 127.0.0.1, fsync off), pool of ${POOL} for both the provider and pg.`, '',
      'Latency, one call at a time (p50/p99 of every call, cases sampled in turns):', '',
      '| case | p50 (ms) | p99 (ms) | calls timed |', '|---|---:|---:|---:|']
    for (const l of latency) lines.push(`| ${l.name} | ${fmtMs(l.p50Ms)} | ${fmtMs(l.p99Ms)} | ${l.calls.toLocaleString('en')} |`)
    lines.push('', 'Throughput (median of samples taken in turns):', '', `| case | ${CONCURRENCY.map(c => `${c} in flight`).join(' | ')} |`, `|---|${CONCURRENCY.map(() => '---:|').join('')}`)
    for (const [name, m] of rates) lines.push(`| ${name} | ${CONCURRENCY.map(c => fmtRate(m.get(c) ?? 0)).join(' | ')} |`)
    return lines.join('\n')
  } finally {
    await Promise.allSettled(nodes.map(async node => { await node.stop() }))
    await provider?.stop()
    await direct?.end()
    await cluster?.remove()
    await scratch.remove()
  }
}
