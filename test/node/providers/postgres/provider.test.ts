// The Postgres provider against a real server: every pg-value case through the server and back, errors, prepared statements, transactions, secrets, a dead database.

import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createProvider } from '../../../../node/providers/sdk.ts'
import type { Provider } from '../../../../node/providers/sdk.ts'
import { PREPARED, QUERY, TRANSACTION, createPostgresModule } from '../../../../node/providers/postgres/index.ts'
import { toHashable } from '../../../../node/providers/postgres/floats.ts'
import type { HashableF64 } from '../../../../node/providers/postgres/floats.ts'
import type { PgValue } from '../../../../node/providers/postgres/values.ts'
import { PASSWORD, PASSWORD_USER, describePostgres, startPostgres } from '../../../support/postgres.ts'
import type { PostgresCluster } from '../../../support/postgres.ts'

type Result = { tag: 'ok', val: unknown } | { tag: 'err', val: { tag: string, val?: unknown } }
type Row = Array<{ columnName: string, value: PgValue }>

/** Deep equality that tells -0 from 0, bigint from number, and treats typed arrays as the lists they are. */
function canonical (v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return `${x}n`
    if (typeof x === 'number') return Object.is(x, -0) ? '-0' : Number.isNaN(x) ? 'NaN' : Number.isFinite(x) ? x : String(x)
    if (ArrayBuffer.isView(x)) return Array.from(x as unknown as ArrayLike<unknown>, e => typeof e === 'bigint' ? `${e}n` : e)
    if (x === undefined) return '<none>'
    return x
  })
}

const f8 = (x: number): HashableF64 => toHashable(x)
const f4 = (x: number): HashableF64 => toHashable(Math.fround(x), 32)
const pt = (x: number, y: number): [HashableF64, HashableF64] => [f8(x), f8(y)]
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const ymd = (y: number, m: number, d: number): PgValue => ({ tag: 'ymd', val: [y, m, d] })
const time = (hour: number, min: number, sec: number, micro: number): { hour: number, min: number, sec: number, micro: number } => ({ hour, min, sec, micro })

/** [SQL type, the parameter, what comes back when it differs from the parameter]. */
const cases: Array<[string, PgValue, PgValue?]> = [
  ['int2', { tag: 'small-int', val: -32768 }, { tag: 'int2', val: -32768 }],
  ['int2', { tag: 'small-serial', val: 32767 }, { tag: 'int2', val: 32767 }],
  ['int2', { tag: 'serial2', val: 7 }, { tag: 'int2', val: 7 }],
  ['int4', { tag: 'int', val: -2147483648 }, { tag: 'int4', val: -2147483648 }],
  ['int4', { tag: 'integer', val: 2147483647 }, { tag: 'int4', val: 2147483647 }],
  ['int8', { tag: 'serial', val: 4294967295 }, { tag: 'int8', val: 4294967295n }],
  ['int8', { tag: 'serial4', val: 1 }, { tag: 'int8', val: 1n }],
  ['int8', { tag: 'big-int', val: 9223372036854775807n }, { tag: 'int8', val: 9223372036854775807n }],
  ['int8', { tag: 'big-serial', val: -9223372036854775808n }, { tag: 'int8', val: -9223372036854775808n }],
  ['int8', { tag: 'serial8', val: 9007199254740993n }, { tag: 'int8', val: 9007199254740993n }],
  ['float8', { tag: 'double', val: f8(0.1) }, { tag: 'float8', val: f8(0.1) }],
  ...[-1 / 3, -0, 0, NaN, Infinity, -Infinity, 5e-324, 2.2250738585072014e-308, Number.MAX_VALUE, 1e300].map((x): [string, PgValue] => ['float8', { tag: 'float8', val: f8(x) }]),
  ['float4', { tag: 'real', val: f4(0.1) }, { tag: 'float4', val: f4(0.1) }],
  ...[-1 / 3, -0, NaN, Infinity, 2 ** -149, 3.4028234663852886e38, 16777217].map((x): [string, PgValue] => ['float4', { tag: 'float4', val: f4(x) }]),
  ['numeric', { tag: 'numeric', val: '-12345678901234567890.123456789012345678901234567890' }],
  ['numeric', { tag: 'decimal', val: 'NaN' }, { tag: 'numeric', val: 'NaN' }],
  ['numeric(10,2)', { tag: 'numeric', val: '3.14159' }, { tag: 'numeric', val: '3.14' }],
  ['bool', { tag: 'bool', val: true }],
  ['bool', { tag: 'boolean', val: false }, { tag: 'bool', val: false }],
  ['text', { tag: 'text', val: 'héllo ✓ "quoted" \\ back\nslash' }],
  ['text', { tag: 'text', val: '' }],
  ['varchar(10)', { tag: 'varchar', val: [10, utf8('ünïcode')] }, { tag: 'varchar', val: [undefined, utf8('ünïcode')] }],
  ['char(4)', { tag: 'char', val: [2, utf8('ab')] }, { tag: 'char', val: [4, utf8('ab  ')] }],
  ['"char"', { tag: 'char', val: [1, utf8('z')] }],
  ['name', { tag: 'name', val: 'pg_class' }],
  ['xml', { tag: 'xml', val: '<a b="c">d</a>' }],
  ['json', { tag: 'json', val: '{ "kept":  "as written" }' }],
  ['jsonb', { tag: 'jsonb', val: '{"b": 1, "a": [true, null]}' }, { tag: 'jsonb', val: '{"a": [true, null], "b": 1}' }],
  ['uuid', { tag: 'uuid', val: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' }],
  ['bytea', { tag: 'bytea', val: Uint8Array.from({ length: 256 }, (_v, i) => i) }],
  ['bytea', { tag: 'bytea', val: new Uint8Array(0) }],
  ['bit(10)', { tag: 'bit', val: [10, Uint8Array.of(0b10110000, 0b01000000)] }],
  ['varbit', { tag: 'varbit', val: [5, Uint8Array.of(0b11011000)] }],
  ['varbit', { tag: 'bit-varying', val: [undefined, Uint8Array.of(0xa5)] }, { tag: 'varbit', val: [8, Uint8Array.of(0xa5)] }],
  ['cidr', { tag: 'cidr', val: '10.0.0.0/8' }],
  ['inet', { tag: 'inet', val: '2001:db8::1' }],
  ['macaddr', { tag: 'macaddr', val: { bytes: [8, 0, 0x2b, 1, 2, 3] } }],
  ['macaddr8', { tag: 'macaddr8', val: { bytes: [8, 0, 0x2b, 1, 2, 3, 4, 5] } }],
  ['point', { tag: 'point', val: pt(1.5, -0.1) }],
  ['lseg', { tag: 'lseg', val: [pt(0, 0), pt(1e-10, 3)] }],
  ['box', { tag: 'box', val: [pt(0, 1), pt(2, 3)] }],
  ['box', { tag: 'box', val: [pt(2, 3), pt(0, 1)] }, { tag: 'box', val: [pt(0, 1), pt(2, 3)] }],
  ['path', { tag: 'path', val: [pt(0, 0), pt(1, 1), pt(2, 0)] }],
  ['polygon', { tag: 'polygon', val: [pt(0, 0), pt(1, 1), pt(1, 0)] }],
  ['circle', { tag: 'circle', val: [pt(1, 2), f8(0.5)] }],
  ['line', { tag: 'line', val: [pt(0, 1), pt(1, 3)] }],
  ['date', { tag: 'date', val: ymd(2024, 2, 29) }],
  ['date', { tag: 'date', val: ymd(-43, 3, 15) }],
  ['date', { tag: 'date', val: { tag: 'positive-infinity' } }],
  ['date', { tag: 'date', val: { tag: 'negative-infinity' } }],
  ['time', { tag: 'time', val: time(23, 59, 59, 999999) }],
  ['time', { tag: 'time', val: time(24, 0, 0, 0) }],
  ['timetz', { tag: 'time-tz', val: { timesonze: '+05:30', time: time(1, 2, 3, 4) } }],
  ['timetz', { tag: 'time-tz', val: { timesonze: '-08', time: time(1, 2, 3, 0) } }],
  ['timestamp', { tag: 'timestamp', val: { date: ymd(1999, 12, 31), time: time(23, 59, 59, 999999) } }],
  ['timestamp', { tag: 'timestamp', val: { date: ymd(0, 1, 1), time: time(0, 0, 0, 1) } }],
  ['timestamp', { tag: 'timestamp', val: { date: { tag: 'positive-infinity' }, time: time(0, 0, 0, 0) } }],
  ['timestamptz', { tag: 'timestamp-tz', val: { timestamp: { date: ymd(2024, 1, 2), time: time(3, 4, 5, 123456) }, offset: { tag: 'eastern-hemisphere-secs', val: 19800 } } },
    { tag: 'timestamp-tz', val: { timestamp: { date: ymd(2024, 1, 1), time: time(21, 34, 5, 123456) }, offset: { tag: 'western-hemisphere-secs', val: 0 } } }],
  ['timestamptz', { tag: 'timestamp-tz', val: { timestamp: { date: ymd(2024, 6, 1), time: time(12, 0, 0, 0) }, offset: { tag: 'western-hemisphere-secs', val: 0 } } }],
  ['daterange', { tag: 'interval', val: { start: ymd(2024, 1, 1), startInclusive: true, end: ymd(2024, 2, 1), endInclusive: false } }],
  ['daterange', { tag: 'interval', val: { start: ymd(2024, 1, 1), startInclusive: true, end: ymd(2024, 1, 31), endInclusive: true } },
    { tag: 'interval', val: { start: ymd(2024, 1, 1), startInclusive: true, end: ymd(2024, 2, 1), endInclusive: false } }],
  ['daterange', { tag: 'interval', val: { start: { tag: 'negative-infinity' }, startInclusive: false, end: ymd(2024, 2, 1), endInclusive: false } }],
  ['money', { tag: 'money', val: '-1234567.89' }],
  ['pg_lsn', { tag: 'pg-lsn', val: 0xffffffff00000001n }],
  ['pg_snapshot', { tag: 'pg-snapshot', val: [10n, 20n, BigInt64Array.of(11n, 15n)] }],
  ['tsquery', { tag: 'ts-query', val: "'fat' & 'rat'" }],
  ['tsvector', { tag: 'ts-vector', val: [{ position: 1, weight: 'A', data: 'cat' }, { position: 2, weight: 'D', data: "it's" }] }],
  ['hstore', { tag: 'hstore', val: [['a', '1'], ['b "q"', undefined]] }],
  ['int2vector', { tag: 'int2-vector', val: Int16Array.of(1, -2, 3) }],
  ['int2[]', { tag: 'int2-array', val: Int16Array.of(-32768, 0, 32767) }],
  ['int4[]', { tag: 'int4-array', val: Int32Array.of(1, 2, 3) }],
  ['int8[]', { tag: 'int8-array', val: BigInt64Array.of(-9223372036854775808n, 9007199254740993n) }],
  ['float4[]', { tag: 'float4-array', val: [f4(0.1), f4(-0), f4(NaN)] }],
  ['float8[]', { tag: 'float8-array', val: [f8(0.1), f8(-Infinity), f8(5e-324)] }],
  ['bool[]', { tag: 'bool-array', val: [true, false] }],
  ['text[]', { tag: 'text-array', val: ['a', 'b c', 'd"e', 'NULL', '', '{x}', 'back\\slash'] }],
  ['numeric[]', { tag: 'numeric-array', val: ['1.5', '-0.000000000000000000001'] }],
  ['money[]', { tag: 'money-array', val: ['1.00', '-2.50'] }],
  ['bytea[]', { tag: 'bytea-array', val: [Uint8Array.of(0, 255), new Uint8Array(0)] }],
  ['uuid[]', { tag: 'uuid-array', val: ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'] }],
  ['json[]', { tag: 'json-array', val: ['{"a": "b,c"}', '[1]'] }],
  ['jsonb[]', { tag: 'jsonb-array', val: ['{"a": "b,c"}', 'null'] }],
  ['xml[]', { tag: 'xml-array', val: ['<a/>'] }],
  ['name[]', { tag: 'name-array', val: ['x', 'y z'] }],
  ['varchar[]', { tag: 'varchar-array', val: [[undefined, utf8('a,b')]] }],
  ['"char"[]', { tag: 'char-array', val: [[1, utf8('q')]] }],
  ['bit(3)[]', { tag: 'bit-array', val: [[3, Uint8Array.of(0b10100000)]] }],
  ['varbit[]', { tag: 'varbit-array', val: [[2, Uint8Array.of(0b01000000)], [0, new Uint8Array(0)]] }],
  ['cidr[]', { tag: 'cidr-array', val: ['192.168.0.0/16'] }],
  ['inet[]', { tag: 'inet-array', val: ['127.0.0.1', '::1'] }],
  ['macaddr[]', { tag: 'macaddr-array', val: [{ bytes: [1, 2, 3, 4, 5, 6] }] }],
  ['macaddr8[]', { tag: 'macaddr8-array', val: [{ bytes: [1, 2, 3, 4, 5, 6, 7, 8] }] }],
  ['point[]', { tag: 'point-array', val: [pt(1, 2), pt(-0.5, 1e300)] }],
  ['box[]', { tag: 'box-array', val: [[pt(0, 0), pt(1, 1)], [pt(1, 1), pt(3, 3)]] }],
  ['lseg[]', { tag: 'lseg-array', val: [[pt(0, 0), pt(1, 1)]] }],
  ['path[]', { tag: 'path-array', val: [[pt(0, 0), pt(1, 1)]] }],
  ['polygon[]', { tag: 'polygon-array', val: [[pt(0, 0), pt(1, 1), pt(1, 0)]] }],
  ['circle[]', { tag: 'circle-array', val: [[pt(0, 0), f8(2)]] }],
  ['line[]', { tag: 'line-array', val: [[pt(0, 1), pt(1, 3)]] }],
  ['date[]', { tag: 'date-array', val: [ymd(2024, 1, 1), ymd(0, 12, 31), { tag: 'positive-infinity' }] }],
  ['time[]', { tag: 'time-array', val: [time(1, 2, 3, 4)] }],
  ['timetz[]', { tag: 'time-tz-array', val: [{ timesonze: '+02', time: time(1, 2, 3, 0) }] }],
  ['timestamp[]', { tag: 'timestamp-array', val: [{ date: ymd(2024, 1, 1), time: time(0, 0, 0, 5) }] }],
  ['timestamptz[]', { tag: 'timestamp-tz-array', val: [{ timestamp: { date: ymd(2024, 1, 1), time: time(0, 0, 0, 5) }, offset: { tag: 'western-hemisphere-secs', val: 0 } }] }],
  ['daterange[]', { tag: 'interval-array', val: [{ start: ymd(2024, 1, 1), startInclusive: true, end: ymd(2024, 2, 1), endInclusive: false }] }],
  ['pg_lsn[]', { tag: 'pg-lsn-array', val: BigUint64Array.of(1n, 0xffffffffffffffffn) }],
  ['int2vector[]', { tag: 'int2-vector-array', val: [Int16Array.of(1, 2), Int16Array.of(3)] }],
  ['text', { tag: 'null' }],
  ['int8[]', { tag: 'null' }]
]

describePostgres('postgres provider', () => {
  let cluster: PostgresCluster
  let provider: Provider
  const caller = { caller: 'peer-a' }
  const call = async (iface: string, func: string, params: unknown[]): Promise<unknown> => (await provider.service.call(iface, func, params, caller))[0]
  const query = async (sql: string, params: PgValue[] = []): Promise<Result> => await call(QUERY, 'query', [sql, params]) as Result
  const rows = async (sql: string, params: PgValue[] = []): Promise<Row[]> => {
    const r = await query(sql, params)
    if (r.tag !== 'ok') throw new Error(`${sql}: ${canonical(r.val)}`)
    return r.val as Row[]
  }
  const batch = async (sql: string): Promise<Result> => await call(QUERY, 'query-batch', [sql]) as Result

  beforeAll(async () => {
    cluster = await startPostgres()
    // A small pool: transactions and queries must share it without deadlocks.
    provider = await createProvider(createPostgresModule(), { config: { ...cluster.config, 'pool-size': '3', 'connect-timeout-ms': '3000', timezone: 'UTC' } })
    await provider.start()
  }, 120_000)

  afterAll(async () => {
    await provider?.stop()
    await cluster?.remove()
  }, 60_000)

  it('sends every pg-value case to the server and reads it back as the same value', async () => {
    const failures: string[] = []
    for (const [type, param, back] of cases) {
      const r = await query(`SELECT $1::${type} AS v`, [param])
      const want = { tag: 'ok', val: [[{ columnName: 'v', value: back ?? param }]] }
      if (canonical(r) !== canonical(want)) failures.push(`${type} ${param.tag}: sent ${canonical(param)}\n  got  ${canonical(r)}\n  want ${canonical(want)}`)
    }
    expect(failures.join('\n')).toBe('')
  })

  it('stores values in typed columns and reads them back unchanged', async () => {
    expect(await batch('CREATE TABLE kinds (id int8 PRIMARY KEY, i2 int2, i8 int8, r float4, d float8, n numeric, b bytea, j jsonb, t timestamptz, a int8[])')).toEqual({ tag: 'ok', val: undefined })
    const row: PgValue[] = [
      { tag: 'int8', val: 1n }, { tag: 'int2', val: -5 }, { tag: 'int8', val: -9223372036854775808n }, { tag: 'float4', val: f4(1 / 3) },
      { tag: 'float8', val: f8(Math.PI) }, { tag: 'numeric', val: '0.1000000000000000000000000001' }, { tag: 'bytea', val: Uint8Array.of(0, 1, 2) },
      { tag: 'jsonb', val: '{"k": "v"}' },
      { tag: 'timestamp-tz', val: { timestamp: { date: ymd(2001, 2, 3), time: time(4, 5, 6, 7) }, offset: { tag: 'western-hemisphere-secs', val: 0 } } },
      { tag: 'int8-array', val: BigInt64Array.of(1n, 2n) }
    ]
    expect(await query('INSERT INTO kinds VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)', row)).toEqual({ tag: 'ok', val: [] })
    const [got] = await rows('SELECT * FROM kinds')
    expect(canonical(got.map(e => e.value))).toBe(canonical(row))
    expect(got.map(e => e.columnName)).toEqual(['id', 'i2', 'i8', 'r', 'd', 'n', 'b', 'j', 't', 'a'])
    // What pg itself reads from the table agrees: nothing was rounded on the way in.
    const direct = new pg.Client({ ...cluster.config, port: cluster.port })
    await direct.connect()
    try {
      const r = await direct.query('SELECT i8::text, r::float8::text AS r, d::text, n::text FROM kinds')
      expect(r.rows[0]).toEqual({ i8: '-9223372036854775808', r: String(Math.fround(1 / 3)), d: String(Math.PI), n: '0.1000000000000000000000000001' })
    } finally {
      await direct.end()
    }
  })

  it('keeps columns in order, names repeated, and types the contract lacks as the server text', async () => {
    const [row] = await rows("SELECT 1 AS a, 2 AS a, '1 day 2 hours'::interval AS i, '{{1,2},{3,4}}'::int4[] AS m, ARRAY[1, NULL] AS n, 'empty'::daterange AS e, 'x'::unknown AS u")
    expect(canonical(row)).toBe(canonical([
      { columnName: 'a', value: { tag: 'int4', val: 1 } }, { columnName: 'a', value: { tag: 'int4', val: 2 } },
      { columnName: 'i', value: { tag: 'text', val: '1 day 02:00:00' } }, { columnName: 'm', value: { tag: 'text', val: '{{1,2},{3,4}}' } },
      { columnName: 'n', value: { tag: 'text', val: '{1,NULL}' } }, { columnName: 'e', value: { tag: 'text', val: 'empty' } },
      { columnName: 'u', value: { tag: 'text', val: 'x' } }
    ]))
    expect(await rows('SELECT 1 WHERE false')).toEqual([])
  })

  it('answers SQL errors with the contract variant and the server message', async () => {
    expect(await query('SELEKT 1')).toEqual({ tag: 'err', val: { tag: 'invalid-query', val: 'syntax error at or near "SELEKT"\nSQLSTATE: 42601' } })
    expect(await query('SELECT * FROM no_such_table')).toEqual({ tag: 'err', val: { tag: 'invalid-query', val: 'relation "no_such_table" does not exist\nSQLSTATE: 42P01' } })
    // query runs one statement: batches belong to query-batch.
    expect(await query('SELECT 1; SELECT 2')).toMatchObject({ tag: 'err', val: { tag: 'invalid-query', val: expect.stringContaining('cannot insert multiple commands into a prepared statement') } })
    await batch('CREATE TABLE uniq (id int PRIMARY KEY)')
    await query('INSERT INTO uniq VALUES (1)')
    expect(await query('INSERT INTO uniq VALUES ($1)', [{ tag: 'int4', val: 1 }])).toEqual({
      tag: 'err', val: { tag: 'unexpected', val: 'duplicate key value violates unique constraint "uniq_pkey"\nDETAIL: Key (id)=(1) already exists.\nSQLSTATE: 23505' }
    })
    expect(await batch('CREATE TABLE uniq (id int)')).toEqual({ tag: 'err', val: { tag: 'invalid-query', val: 'relation "uniq" already exists\nSQLSTATE: 42P07' } })
  })

  it('answers wrong parameters with invalid-params: a value the type refuses, a wrong count, a case that does not fit', async () => {
    expect(await query('SELECT $1::int4', [{ tag: 'text', val: 'abc' }])).toEqual({ tag: 'err', val: { tag: 'invalid-params', val: 'invalid input syntax for type integer: "abc"\nSQLSTATE: 22P02' } })
    expect(await query('SELECT $1::int2', [{ tag: 'int8', val: 100000n }])).toEqual({ tag: 'err', val: { tag: 'invalid-params', val: 'value "100000" is out of range for type smallint\nSQLSTATE: 22003' } })
    expect(await query('SELECT $1::int4, $2::int4', [{ tag: 'int4', val: 1 }])).toEqual({ tag: 'err', val: { tag: 'invalid-params', val: 'bind message supplies 1 parameters, but prepared statement "" requires 2\nSQLSTATE: 08P01' } })
    expect(await query('SELECT $1::uuid', [{ tag: 'uuid', val: 'not-a-uuid' }])).toMatchObject({ tag: 'err', val: { tag: 'invalid-params', val: expect.stringContaining('invalid input syntax for type uuid') } })
    expect(await query('SELECT $1::date', [{ tag: 'date', val: { tag: 'ymd', val: [2024, 2, 30] } }])).toMatchObject({ tag: 'err', val: { tag: 'invalid-params', val: expect.stringContaining('date/time field value out of range') } })
    // Refused by the provider before the server sees it.
    expect(await query('SELECT $1', [{ tag: 'bit', val: [9, Uint8Array.of(1)] }])).toMatchObject({ tag: 'err', val: { tag: 'invalid-params', val: expect.stringContaining('params[0] (bit)') } })
    expect(await query('SELECT $1', [{ tag: 'varchar', val: [undefined, Uint8Array.of(0xc3)] }])).toMatchObject({ tag: 'err', val: { tag: 'invalid-params', val: expect.stringContaining('not UTF-8') } })
    // And the pool is fine afterwards.
    expect(await rows('SELECT 1 AS ok')).toHaveLength(1)
  })

  it('prepares statements once, runs them by token, and refuses unknown tokens', async () => {
    await batch('CREATE TABLE prep (id int8, note text)')
    const prepared = await call(PREPARED, 'prepare', ['INSERT INTO prep VALUES ($1, $2)']) as Result
    expect(prepared).toMatchObject({ tag: 'ok', val: expect.stringMatching(/^prepared-statement-[0-9a-f]{32}$/) })
    const token = prepared.val as string
    // More executions than pooled connections: each connection parses the statement once.
    for (let i = 0; i < 8; i++) expect(await call(PREPARED, 'exec', [token, [{ tag: 'int8', val: BigInt(i) }, { tag: 'text', val: `n${i}` }]])).toEqual({ tag: 'ok', val: 1n })
    const update = await call(PREPARED, 'prepare', ['UPDATE prep SET note = $1 WHERE id < $2']) as Result
    expect(await call(PREPARED, 'exec', [update.val, [{ tag: 'text', val: 'x' }, { tag: 'int8', val: 5n }]])).toEqual({ tag: 'ok', val: 5n })
    expect(await call(PREPARED, 'exec', ['prepared-statement-00000000000000000000000000000000', []])).toEqual({ tag: 'err', val: { tag: 'unknown-prepared-query' } })
    expect(await call(PREPARED, 'exec', [token, [{ tag: 'text', val: 'nope' }, { tag: 'null' }]])).toEqual({
      tag: 'err', val: { tag: 'query-error', val: { tag: 'invalid-params', val: 'invalid input syntax for type bigint: "nope"\nSQLSTATE: 22P02' } }
    })
    // Preparing checks the statement on the server without running it.
    expect(await call(PREPARED, 'prepare', ['INSERT INTO no_such_table VALUES ($1)'])).toEqual({ tag: 'err', val: { tag: 'unexpected', val: 'relation "no_such_table" does not exist\nSQLSTATE: 42P01' } })
    expect(await call(PREPARED, 'prepare', ['DELETE FROM prep'])).toMatchObject({ tag: 'ok' })
    expect(await rows('SELECT count(*) AS n FROM prep')).toEqual([[{ columnName: 'n', value: { tag: 'int8', val: 8n } }]])
  })

  it('runs batches of statements, and never lets one leave a transaction open on a pooled connection', async () => {
    expect(await batch('CREATE TABLE b1 (x int); INSERT INTO b1 VALUES (1), (2); UPDATE b1 SET x = x * 10')).toEqual({ tag: 'ok', val: undefined })
    expect(await rows('SELECT sum(x)::int4 AS s FROM b1')).toEqual([[{ columnName: 's', value: { tag: 'int4', val: 30 } }]])
    expect(await batch('BEGIN; INSERT INTO b1 VALUES (99)')).toMatchObject({ tag: 'err', val: { tag: 'invalid-query', val: expect.stringContaining('left a transaction open') } })
    expect(await rows('SELECT count(*) AS n FROM b1 WHERE x = 99')).toEqual([[{ columnName: 'n', value: { tag: 'int8', val: 0n } }]])
  })

  it('commits a transaction; a dropped one is rolled back; a failed statement makes the commit fail', async () => {
    await batch('CREATE TABLE tx (id int PRIMARY KEY)')
    const insert = (tx: unknown, id: number): Promise<unknown> => call(TRANSACTION, '[method]transaction.query', [tx, 'INSERT INTO tx VALUES ($1)', [{ tag: 'int4', val: id }]])
    const ids = async (): Promise<unknown> => (await rows('SELECT id FROM tx ORDER BY id')).map(r => r[0].value.val)

    const committed = await call(TRANSACTION, '[constructor]transaction', [])
    expect(await insert(committed, 1)).toEqual({ tag: 'ok', val: undefined })
    expect(await call(TRANSACTION, '[method]transaction.query-batch', [committed, 'INSERT INTO tx VALUES (2); INSERT INTO tx VALUES (3)'])).toEqual({ tag: 'ok', val: undefined })
    // Not visible outside before the commit.
    expect(await ids()).toEqual([])
    expect(await call(TRANSACTION, '[static]transaction.commit', [committed])).toEqual({ tag: 'ok', val: undefined })
    expect(await ids()).toEqual([1, 2, 3])
    // The commit consumed the handle.
    await expect(insert(committed, 4)).rejects.toMatchObject({ code: 'resource-lost' })

    const dropped = await call(TRANSACTION, '[constructor]transaction', [])
    expect(await insert(dropped, 10)).toEqual({ tag: 'ok', val: undefined })
    await call(TRANSACTION, '[resource-drop]transaction', [dropped])
    expect(await ids()).toEqual([1, 2, 3])

    const failing = await call(TRANSACTION, '[constructor]transaction', [])
    expect(await insert(failing, 20)).toEqual({ tag: 'ok', val: undefined })
    expect(await insert(failing, 1)).toMatchObject({ tag: 'err', val: { tag: 'unexpected', val: expect.stringContaining('duplicate key') } })
    expect(await insert(failing, 21)).toMatchObject({ tag: 'err', val: { val: expect.stringContaining('current transaction is aborted') } })
    expect(await call(TRANSACTION, '[static]transaction.commit', [failing])).toMatchObject({ tag: 'err', val: { tag: 'unexpected', val: expect.stringContaining('rolled back because a statement in it failed: duplicate key') } })
    expect(await ids()).toEqual([1, 2, 3])

    // A transaction that never ran a statement commits nothing and holds no connection.
    const empty = await call(TRANSACTION, '[constructor]transaction', [])
    expect(await call(TRANSACTION, '[static]transaction.commit', [empty])).toEqual({ tag: 'ok', val: undefined })
    expect(provider.stats().handles).toBe(0)
  })

  it('rolls back the open transactions of a caller that vanished and gives their connections back', async () => {
    const gone = { caller: 'peer-gone' }
    const held = []
    // As many open transactions as the pool has connections.
    for (let i = 0; i < 3; i++) {
      const [tx] = await provider.service.call(TRANSACTION, '[constructor]transaction', [], gone)
      expect((await provider.service.call(TRANSACTION, '[method]transaction.query', [tx, 'INSERT INTO tx VALUES ($1)', [{ tag: 'int4', val: 100 + i }]], gone))[0]).toEqual({ tag: 'ok', val: undefined })
      held.push(tx)
    }
    expect(provider.stats().handles).toBe(3)
    provider.service.peerGone?.('peer-gone')
    // The pool is usable again (a query would wait for connect-timeout-ms and fail otherwise), and nothing of theirs was kept.
    expect(await rows('SELECT count(*) AS n FROM tx WHERE id >= 100')).toEqual([[{ columnName: 'n', value: { tag: 'int8', val: 0n } }]])
    expect(provider.stats().handles).toBe(0)
    expect((provider.module as ReturnType<typeof createPostgresModule>).stats().openTransactions).toBe(0)
  })

  it('serves many concurrent callers through a small pool', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, async (_v, i) => await query('SELECT $1::int4 + 1 AS n', [{ tag: 'int4', val: i }])))
    expect(results.map(r => ((r.val as Row[])[0][0].value.val))).toEqual(Array.from({ length: 50 }, (_v, i) => i + 1))
  })

  it('connects with the password from a secret, and refuses to start with a wrong one', async () => {
    process.env.WASMESH_TEST_PG_PASSWORD = PASSWORD
    process.env.WASMESH_TEST_PG_WRONG = 'wrong'
    const config = { ...cluster.config, user: PASSWORD_USER }
    const good = await createProvider(createPostgresModule(), { config, secrets: { password: 'env:WASMESH_TEST_PG_PASSWORD' } })
    try {
      await good.start()
      const [r] = await good.service.call(QUERY, 'query', ['SELECT current_user::text AS u', []], caller)
      expect(r).toEqual({ tag: 'ok', val: [[{ columnName: 'u', value: { tag: 'text', val: PASSWORD_USER } }]] })
    } finally {
      await good.stop()
    }
    const bad = await createProvider(createPostgresModule(), { config, secrets: { password: 'env:WASMESH_TEST_PG_WRONG' } })
    const failure = await bad.start().then(() => undefined, (e: unknown) => e as Error & { code: string })
    expect(failure).toMatchObject({ code: 'provider-start-failed', message: expect.stringContaining(`password authentication failed for user "${PASSWORD_USER}"`) })
    expect(failure?.message).not.toContain('wrong')
    await expect(createProvider(createPostgresModule(), { config: { ...config, password: PASSWORD } }).then(async p => { await p.start() })).rejects.toThrow(/a password is a secret/)
    await expect(createProvider(createPostgresModule(), { config: { ...config, 'pool-sise': '3' } }).then(async p => { await p.start() })).rejects.toThrow(/unknown config pool-sise/)
  })

  it('fails calls with the contract error while the database is down, and recovers when it is back, without a restart', async () => {
    await cluster.stop()
    const down = await query('SELECT 1 AS one')
    expect(down).toMatchObject({ tag: 'err', val: { tag: 'unexpected', val: expect.stringMatching(/ECONNREFUSED|terminat|shut/i) } })
    expect(await batch('SELECT 1')).toMatchObject({ tag: 'err', val: { tag: 'unexpected' } })
    expect(await call(PREPARED, 'prepare', ['SELECT 1'])).toMatchObject({ tag: 'err', val: { tag: 'unexpected' } })
    const tx = await call(TRANSACTION, '[constructor]transaction', [])
    expect(await call(TRANSACTION, '[method]transaction.query', [tx, 'SELECT 1', []])).toMatchObject({ tag: 'err', val: { tag: 'unexpected' } })

    await cluster.start()
    expect(await query('SELECT 1 AS one')).toEqual({ tag: 'ok', val: [[{ columnName: 'one', value: { tag: 'int4', val: 1 } }]] })
    // The transaction made while it was down had not begun: it works now.
    expect(await call(TRANSACTION, '[method]transaction.query', [tx, 'INSERT INTO tx VALUES (500)', []])).toEqual({ tag: 'ok', val: undefined })
    expect(await call(TRANSACTION, '[static]transaction.commit', [tx])).toEqual({ tag: 'ok', val: undefined })
    expect(await rows('SELECT id FROM tx WHERE id = 500')).toHaveLength(1)
  }, 60_000)
})
