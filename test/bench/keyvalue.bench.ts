// Key-value get/set through the mesh (two nodes, TCP loopback) beside the provider called in process and node:sqlite called directly, in one run.
import { servedPair } from './support/pair.ts'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import type { MeshNode } from '../../node/index.ts'
import { createProvider } from '../../node/providers/sdk.ts'
import type { Provider } from '../../node/providers/sdk.ts'
import { STORE, createKeyvalueModule } from '../../node/providers/keyvalue/index.ts'
import { measureLatency } from './support/latency.ts'
import { measureAsync } from './support/timing.ts'
import { scratchDir } from '../support/scratch.ts'

const VALUE_BYTES = 64
const LATENCY = { warmupMs: 300, rounds: 8, roundMs: 200 }
const RATE = { samples: 5, sampleMs: 300 }
const CONCURRENCY = [1, 64] as const

/** A plain table with the provider's pragmas, written the way the provider writes (an upsert per set). */
function directSqlite (path: string, synchronous: 'FULL' | 'NORMAL'): { get: (k: string) => unknown, set: (k: string, v: Uint8Array) => void, close: () => void } {
  const db = new DatabaseSync(path)
  db.exec('PRAGMA journal_mode = WAL')
  db.exec(`PRAGMA synchronous = ${synchronous}`)
  db.exec('CREATE TABLE IF NOT EXISTS kv (id INTEGER PRIMARY KEY AUTOINCREMENT, bucket TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, UNIQUE (bucket, key))')
  const get = db.prepare('SELECT value FROM kv WHERE bucket = ? AND key = ?')
  const set = db.prepare('INSERT INTO kv (bucket, key, value) VALUES (?, ?, ?) ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value')
  return {
    get: k => get.get('bench', k),
    set: (k, v) => { set.run('bench', k, v) },
    close: () => { db.close() }
  }
}

function fmtMs (ms: number): string {
  return ms >= 10 ? ms.toFixed(1) : ms.toFixed(3)
}

function fmtRate (ops: number): string {
  return `${Math.round(ops).toLocaleString('en')} ops/s`
}

export async function run (): Promise<string> {
  const scratch = await scratchDir('kv-bench')
  const providers: Provider[] = []
  const nodes: MeshNode[] = []
  const direct: Array<ReturnType<typeof directSqlite>> = []
  try {
    const provider = await createProvider(createKeyvalueModule(), { config: { path: join(scratch.path, 'provider.sqlite') } })
    await provider.start()
    providers.push(provider)
    const { client } = await servedPair(provider.service, STORE, scratch.path, nodes)

    const value = crypto.getRandomValues(new Uint8Array(VALUE_BYTES))
    const [opened] = await client.call(STORE, 'open', ['bench']) as [{ val: Uint8Array }]
    const remote = opened.val
    const local = ((await provider.service.call(STORE, 'open', ['bench'], { caller: 'bench' }))[0] as { val: Uint8Array }).val
    const full = directSqlite(join(scratch.path, 'direct-full.sqlite'), 'FULL')
    const normal = directSqlite(join(scratch.path, 'direct-normal.sqlite'), 'NORMAL')
    direct.push(full, normal)
    let n = 0
    const key = (): string => `k${n++ % 1000}`
    for (let i = 0; i < 1000; i++) {
      await client.call(STORE, '[method]bucket.set', [remote, `k${i}`, value])
      full.set(`k${i}`, value)
      normal.set(`k${i}`, value)
    }

    const cases = {
      meshGet: { name: 'get, mesh (2 nodes, TCP loopback)', fn: async () => await client.call(STORE, '[method]bucket.get', [remote, key()]) },
      providerGet: { name: 'get, provider called in process', fn: async () => await provider.service.call(STORE, '[method]bucket.get', [local, key()], { caller: 'bench' }) },
      sqliteGet: { name: 'get, node:sqlite directly', fn: async () => full.get(key()) },
      meshSet: { name: 'set, mesh (2 nodes, TCP loopback), synchronous=FULL', fn: async () => await client.call(STORE, '[method]bucket.set', [remote, key(), value]) },
      providerSet: { name: 'set, provider called in process, synchronous=FULL', fn: async () => await provider.service.call(STORE, '[method]bucket.set', [local, key(), value], { caller: 'bench' }) },
      sqliteSetFull: { name: 'set, node:sqlite directly, synchronous=FULL', fn: async () => { full.set(key(), value) } },
      sqliteSetNormal: { name: 'set, node:sqlite directly, synchronous=NORMAL', fn: async () => { normal.set(key(), value) } }
    }
    const all = Object.values(cases)
    const latency = await measureLatency(all, LATENCY)

    const rates = new Map<string, Map<number, number>>()
    for (const c of [1, 64] as const) {
      const samples = await measureAsync([cases.meshGet, cases.meshSet, cases.sqliteGet, cases.sqliteSetFull].map(x => ({ ...x, concurrency: c })), RATE)
      for (const s of samples) {
        const m = rates.get(s.name) ?? new Map<number, number>()
        m.set(c, s.opsPerSec)
        rates.set(s.name, m)
      }
    }

    const lines = [`### Key-value: wasi:keyvalue get/set of ${VALUE_BYTES}-byte values`, '',
      'Latency, one call at a time (p50/p99 of every call, cases sampled in turns):', '',
      '| case | p50 (ms) | p99 (ms) | calls timed |', '|---|---:|---:|---:|']
    for (const l of latency) lines.push(`| ${l.name} | ${fmtMs(l.p50Ms)} | ${fmtMs(l.p99Ms)} | ${l.calls.toLocaleString('en')} |`)
    lines.push('', 'Throughput (median of samples taken in turns):', '', `| case | ${CONCURRENCY.map(c => `${c} in flight`).join(' | ')} |`, `|---|${CONCURRENCY.map(() => '---:|').join('')}`)
    for (const [name, m] of rates) lines.push(`| ${name} | ${CONCURRENCY.map(c => fmtRate(m.get(c) ?? 0)).join(' | ')} |`)
    return lines.join('\n')
  } finally {
    await Promise.allSettled(nodes.map(async node => { await node.stop() }))
    await Promise.allSettled(providers.map(async p => { await p.stop() }))
    for (const d of direct) d.close()
    await scratch.remove()
  }
}
