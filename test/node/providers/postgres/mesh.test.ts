// The Postgres provider on the mesh: the pg-demo component on one node using the provider on another, plain calls over the wire, and a caller that vanishes mid-transaction.

import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { ensurePgDemo } from '../../../../examples/pg-demo/build.ts'
import { createProvider } from '../../../../node/providers/sdk.ts'
import type { Provider } from '../../../../node/providers/sdk.ts'
import { QUERY, TRANSACTION, createPostgresModule } from '../../../../node/providers/postgres/index.ts'
import { toHashable } from '../../../../node/providers/postgres/floats.ts'
import type { MeshNode } from '../../../../node/index.ts'
import { bootstrapOf, createMesh, eventually } from '../../../support/mesh.ts'
import type { Mesh } from '../../../support/mesh.ts'
import { describePostgres, startPostgres } from '../../../support/postgres.ts'
import type { PostgresCluster } from '../../../support/postgres.ts'

const DEMO = 'wasmesh:pg-demo/demo@0.1.0'

/** The demo's JSON: bigint as "<digits>n", lists of bytes and typed arrays as plain lists, none as null. */
function asDemoJson (v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return `${x}n`
    if (ArrayBuffer.isView(x)) return Array.from(x as unknown as ArrayLike<unknown>, e => typeof e === 'bigint' ? `${e}n` : e)
    if (x === undefined) return null
    return x
  }))
}

describePostgres('postgres provider on the mesh', () => {
  let cluster: PostgresCluster
  let mesh: Mesh
  let provider: Provider
  let server: MeshNode
  let app: MeshNode

  beforeAll(async () => {
    const demo = await ensurePgDemo()
    cluster = await startPostgres()
    mesh = await createMesh()
    provider = await createProvider(createPostgresModule(), { config: { ...cluster.config, timezone: 'UTC' } })
    await provider.start()
    server = await mesh.add()
    server.serve(provider.service)
    app = await mesh.add({ bootstrap: bootstrapOf(server) })
    await app.load({ source: demo })
    await eventually('the app node to know the provider', () => app.servers(TRANSACTION).length > 0)
  }, 300_000)

  afterAll(async () => {
    await mesh?.stop()
    await provider?.stop()
    await cluster?.remove()
  }, 60_000)

  it('runs a wasmcloud:postgres component on node A against the provider on node B', async () => {
    const [result] = await app.call(DEMO, 'run', ['demo']) as [{ tag: string, val: string }]
    expect(result.tag).toBe('ok')
    const report = JSON.parse(result.val) as Record<string, unknown>

    // Every value the component wrote came back to it equal (the component compares, and so do we).
    expect(report.mismatches).toEqual([])
    expect(report.readBack).toEqual(report.expected)
    const readBack = report.readBack as Record<string, unknown>
    expect(readBack.big).toEqual({ tag: 'int8', val: '-9223372036854775808n' })
    expect(readBack.double8).toEqual(asDemoJson({ tag: 'float8', val: toHashable(-1 / 3) }))
    expect(readBack.real4).toEqual(asDemoJson({ tag: 'float4', val: toHashable(Math.fround(0.1), 32) }))
    expect(readBack.tiny8).toEqual(asDemoJson({ tag: 'float8', val: toHashable(5e-324) }))
    expect(readBack.raw).toEqual({ tag: 'bytea', val: [0, 1, 127, 128, 255] })
    expect(readBack.counts).toEqual({ tag: 'int8-array', val: ['1n', '-2n', '9007199254740993n'] })
    expect(readBack.nothing).toEqual({ tag: 'null' })

    expect(report.prepared).toEqual(['1n', '1n'])
    expect(report.unknownToken).toBe('unknown-prepared-query')
    // Committed: visible. Dropped: rolled back. Failed: its commit fails and none of it stays.
    expect(report.commit).toBe('ok')
    expect(report.duplicate).toMatch(/^unexpected: duplicate key value violates unique constraint "demo_pkey"/)
    expect(report.failedCommit).toMatch(/^unexpected: the transaction was rolled back because a statement in it failed: duplicate key/)
    expect(report.ids).toEqual(['1n', '2n', '3n', '100n'])
    expect(report.labels).toEqual(['prepared one', 'prepared two', 'committed'])
    expect(report.syntaxError).toBe('invalid-query: syntax error at or near "SELEKT"\nSQLSTATE: 42601')
    expect(report.paramError).toBe('invalid-params: invalid input syntax for type bigint: "not a number"\nSQLSTATE: 22P02')

    // Every transaction the component made was committed or dropped back on node B.
    await eventually('the drops to arrive', () => provider.stats().handles === 0)
    expect((provider.module as ReturnType<typeof createPostgresModule>).stats().openTransactions).toBe(0)

    // The database agrees, read with pg directly.
    const direct = new pg.Client({ ...cluster.config, port: cluster.port })
    await direct.connect()
    try {
      const r = await direct.query("SELECT n::text, big::text, double8::text, real4::float8::text AS real4, exact::text, encode(raw, 'hex') AS raw, instant::text, label FROM demo ORDER BY demo.n")
      expect(r.rows.map(row => row.n)).toEqual(['1', '2', '3', '100'])
      expect(r.rows[0]).toMatchObject({
        big: '-9223372036854775808', double8: String(-1 / 3), real4: String(Math.fround(0.1)), exact: '12345678901234567890.000000000000000001',
        raw: '00017f80ff', instant: '2024-01-01 21:34:05.123456+00', label: 'héllo, wörld ✓'
      })
    } finally {
      await direct.end()
    }
  }, 120_000)

  it('answers plain calls from another node, every value through the wire encoding', async () => {
    const caller = await mesh.add({ bootstrap: bootstrapOf(server) })
    await eventually('the caller to know the provider', () => caller.servers(QUERY).length > 0)
    const params = [
      { tag: 'int8', val: -9223372036854775808n }, { tag: 'float8', val: toHashable(-0) }, { tag: 'float4', val: toHashable(Math.fround(1e-40), 32) },
      { tag: 'numeric', val: '1e-30' }, { tag: 'bytea', val: Uint8Array.of(1, 2, 3) }, { tag: 'int4-array', val: Int32Array.of(-1, 2) },
      { tag: 'timestamp', val: { date: { tag: 'ymd', val: [-99, 1, 1] }, time: { hour: 0, min: 0, sec: 0, micro: 1 } } }, { tag: 'null' }
    ]
    const [result] = await caller.call(QUERY, 'query', ['SELECT $1::int8 a, $2::float8 b, $3::float4 c, $4::numeric d, $5::bytea e, $6::int4[] f, $7::timestamp g, $8::text h', params])
    const values = (result as { val: Array<Array<{ value: unknown }>> }).val[0].map(e => e.value)
    expect(asDemoJson(values)).toEqual(asDemoJson([params[0], params[1], params[2], { tag: 'numeric', val: '0.000000000000000000000000000001' }, ...params.slice(4)]))
    expect(Object.is((values[1] as { val: [bigint, number, number] }).val[2], -1)).toBe(true)
  }, 60_000)

  it('rolls back the transaction of a node that stops before committing', async () => {
    const leaver = await mesh.add({ bootstrap: bootstrapOf(server) })
    await eventually('the leaver to know the provider', () => leaver.servers(TRANSACTION).length > 0)
    const [tx] = await leaver.call(TRANSACTION, '[constructor]transaction', [])
    expect((await leaver.call(TRANSACTION, '[method]transaction.query', [tx, 'INSERT INTO demo (n, label) VALUES (777, $1)', [{ tag: 'text', val: 'left behind' }]]))[0]).toEqual({ tag: 'ok', val: undefined })
    expect(provider.stats().handles).toBe(1)
    await leaver.stop()
    await eventually('the provider to release the leaver\'s transaction', () => provider.stats().handles === 0)
    await eventually('its connection to be back', () => (provider.module as ReturnType<typeof createPostgresModule>).stats().openTransactions === 0)
    const [dump] = await app.call(DEMO, 'dump', ['demo']) as [{ tag: string, val: string }]
    const ns = (JSON.parse(dump.val) as Array<{ n: { val: string } }>).map(r => r.n.val)
    expect(ns).toEqual(['1n', '2n', '3n', '100n'])
  }, 60_000)
})
