// Exports wasmesh:pg-demo/demo: creates a table, writes a row of many types with parameters, reads it back, and runs transactions, through wasmcloud:postgres.
import { query, queryBatch } from 'wasmcloud:postgres/query@0.2.0-draft'
import { prepare, exec } from 'wasmcloud:postgres/prepared@0.2.0-draft'
import { Transaction } from 'wasmcloud:postgres/transaction@0.2.0-draft'

/** Rust's num::Float::integer_decode of an f64: (mantissa, exponent, sign), what hashable-f64 carries. */
function f64 (x) {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  const bits = view.getBigUint64(0)
  const biased = Number((bits >> 52n) & 0x7ffn)
  const fraction = bits & 0xfffffffffffffn
  return [biased === 0 ? fraction << 1n : fraction | 0x10000000000000n, biased - 1075, bits >> 63n === 0n ? 1 : -1]
}

/** The same for an f32. */
function f32 (x) {
  const view = new DataView(new ArrayBuffer(4))
  view.setFloat32(0, x)
  const bits = view.getUint32(0)
  const biased = (bits >>> 23) & 0xff
  const fraction = bits & 0x7fffff
  return [BigInt(biased === 0 ? fraction << 1 : fraction | 0x800000), biased - 150, bits >>> 31 === 0 ? 1 : -1]
}

/** An import's result<T, E>: the payload, or the error payload thrown (the engine throws errs). */
function attempt (fn) {
  try {
    return { ok: true, val: fn() }
  } catch (e) {
    return { ok: false, err: e !== null && typeof e === 'object' && 'payload' in e ? e.payload : e }
  }
}

function must (what, fn) {
  const r = attempt(fn)
  if (!r.ok) throw `${what}: ${describe(r.err)}`
  return r.val
}

/** JSON with the values JSON lacks: bigint as "<digits>n", typed arrays (bytes too) as lists. */
function toJson (value) {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === 'bigint') return `${v}n`
    if (ArrayBuffer.isView(v)) return Array.from(v, x => typeof x === 'bigint' ? `${x}n` : x)
    if (v === undefined) return null
    return v
  })
}

function describe (err) {
  return err !== null && typeof err === 'object' && 'tag' in err ? `${err.tag}${'val' in err ? `: ${typeof err.val === 'object' ? toJson(err.val) : err.val}` : ''}` : String(err)
}

function ident (table) {
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(table)) throw `table name ${table} must be lowercase letters, digits and _`
  return table
}

/** The row written: one column per kind of pg-value, as the parameter that writes it and the value that comes back. */
function sample () {
  return [
    ['small', 'int2', { tag: 'int2', val: -32768 }, { tag: 'int2', val: -32768 }],
    ['regular', 'int4', { tag: 'int4', val: 2147483647 }, { tag: 'int4', val: 2147483647 }],
    ['big', 'int8', { tag: 'int8', val: -9223372036854775808n }, { tag: 'int8', val: -9223372036854775808n }],
    ['real4', 'float4', { tag: 'float4', val: f32(Math.fround(0.1)) }, { tag: 'float4', val: f32(Math.fround(0.1)) }],
    ['double8', 'float8', { tag: 'float8', val: f64(-1 / 3) }, { tag: 'float8', val: f64(-1 / 3) }],
    ['tiny8', 'float8', { tag: 'double', val: f64(5e-324) }, { tag: 'float8', val: f64(5e-324) }],
    ['exact', 'numeric', { tag: 'numeric', val: '12345678901234567890.000000000000000001' }, { tag: 'numeric', val: '12345678901234567890.000000000000000001' }],
    ['flag', 'bool', { tag: 'bool', val: true }, { tag: 'bool', val: true }],
    ['label', 'text', { tag: 'text', val: 'héllo, wörld ✓' }, { tag: 'text', val: 'héllo, wörld ✓' }],
    ['short', 'varchar(16)', { tag: 'varchar', val: [16, new TextEncoder().encode('sized')] }, { tag: 'varchar', val: [undefined, new TextEncoder().encode('sized')] }],
    ['raw', 'bytea', { tag: 'bytea', val: new Uint8Array([0, 1, 127, 128, 255]) }, { tag: 'bytea', val: new Uint8Array([0, 1, 127, 128, 255]) }],
    ['doc', 'jsonb', { tag: 'jsonb', val: '{"a": [1, 2, {"b": null}]}' }, { tag: 'jsonb', val: '{"a": [1, 2, {"b": null}]}' }],
    ['id', 'uuid', { tag: 'uuid', val: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' }, { tag: 'uuid', val: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' }],
    ['day', 'date', { tag: 'date', val: { tag: 'ymd', val: [2024, 2, 29] } }, { tag: 'date', val: { tag: 'ymd', val: [2024, 2, 29] } }],
    ['moment', 'timestamp', {
      tag: 'timestamp', val: { date: { tag: 'ymd', val: [1999, 12, 31] }, time: { hour: 23, min: 59, sec: 59, micro: 999999 } }
    }, {
      tag: 'timestamp', val: { date: { tag: 'ymd', val: [1999, 12, 31] }, time: { hour: 23, min: 59, sec: 59, micro: 999999 } }
    }],
    // Written at UTC+05:30, read back in the session's zone (UTC on the test server).
    ['instant', 'timestamptz', {
      tag: 'timestamp-tz', val: { timestamp: { date: { tag: 'ymd', val: [2024, 1, 2] }, time: { hour: 3, min: 4, sec: 5, micro: 123456 } }, offset: { tag: 'eastern-hemisphere-secs', val: 19800 } }
    }, {
      tag: 'timestamp-tz', val: { timestamp: { date: { tag: 'ymd', val: [2024, 1, 1] }, time: { hour: 21, min: 34, sec: 5, micro: 123456 } }, offset: { tag: 'western-hemisphere-secs', val: 0 } }
    }],
    ['tags', 'text[]', { tag: 'text-array', val: ['a', 'b c', 'd"e', ''] }, { tag: 'text-array', val: ['a', 'b c', 'd"e', ''] }],
    ['counts', 'int8[]', { tag: 'int8-array', val: [1n, -2n, 9007199254740993n] }, { tag: 'int8-array', val: [1n, -2n, 9007199254740993n] }],
    ['nothing', 'text', { tag: 'null' }, { tag: 'null' }]
  ]
}

/** Reads every row of the table, oldest id first, as [{column: pg-value}]. */
function rows (table, where = '') {
  const result = must('select', () => query(`SELECT * FROM ${table}${where} ORDER BY n`, []))
  return result.map(row => Object.fromEntries(row.map(e => [e.columnName, e.value])))
}

export const demo = {
  run (tableName) {
    const table = ident(tableName)
    const columns = sample()
    const report = {}

    must('create', () => queryBatch(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (n int8 PRIMARY KEY, ${columns.map(([name, type]) => `${name} ${type}`).join(', ')})`))

    // One row with every kind, all through parameters.
    const names = columns.map(c => c[0])
    const placeholders = columns.map((_c, i) => `$${i + 2}`).join(', ')
    const inserted = must('insert', () => query(`INSERT INTO ${table} (n, ${names.join(', ')}) VALUES ($1, ${placeholders}) RETURNING n`, [{ tag: 'int8', val: 1n }, ...columns.map(c => c[2])]))
    report.returned = inserted.map(row => row.map(e => e.value))

    const [row] = rows(table)
    report.readBack = Object.fromEntries(names.map(n => [n, row[n]]))
    report.expected = Object.fromEntries(columns.map(c => [c[0], c[3]]))
    report.mismatches = names.filter(n => toJson(report.readBack[n]) !== toJson(report.expected[n]))

    // Prepared: one statement, two executions.
    const token = must('prepare', () => prepare(`INSERT INTO ${table} (n, label) VALUES ($1, $2)`))
    report.prepared = [
      must('exec', () => exec(token, [{ tag: 'int8', val: 2n }, { tag: 'text', val: 'prepared one' }])),
      must('exec', () => exec(token, [{ tag: 'int8', val: 3n }, { tag: 'text', val: 'prepared two' }]))
    ]
    const unknown = attempt(() => exec('prepared-statement-nope', []))
    report.unknownToken = unknown.ok ? 'accepted' : describe(unknown.err)

    // A transaction that commits.
    const committed = new Transaction()
    must('tx query', () => committed.query(`INSERT INTO ${table} (n, label) VALUES ($1, $2)`, [{ tag: 'int8', val: 100n }, { tag: 'text', val: 'committed' }]))
    must('tx batch', () => committed.queryBatch(`UPDATE ${table} SET flag = false WHERE n = 100`))
    const commit = attempt(() => Transaction.commit(committed))
    report.commit = commit.ok ? 'ok' : describe(commit.err)

    // A transaction that is rolled back: dropped without a commit.
    const abandoned = new Transaction()
    must('tx query', () => abandoned.query(`INSERT INTO ${table} (n, label) VALUES ($1, $2)`, [{ tag: 'int8', val: 200n }, { tag: 'text', val: 'rolled back' }]))
    abandoned[Symbol.dispose]()

    // A transaction whose second statement fails (a duplicate key): its commit fails and nothing of it stays.
    const failing = new Transaction()
    must('tx query', () => failing.query(`INSERT INTO ${table} (n, label) VALUES ($1, $2)`, [{ tag: 'int8', val: 300n }, { tag: 'text', val: 'never' }]))
    const duplicate = attempt(() => failing.query(`INSERT INTO ${table} (n) VALUES ($1)`, [{ tag: 'int8', val: 1n }]))
    report.duplicate = duplicate.ok ? 'accepted' : describe(duplicate.err)
    const failedCommit = attempt(() => Transaction.commit(failing))
    report.failedCommit = failedCommit.ok ? 'ok' : describe(failedCommit.err)

    // Errors come back as the contract's variants.
    const bad = attempt(() => query('SELEKT 1', []))
    report.syntaxError = bad.ok ? 'accepted' : describe(bad.err)
    const badParam = attempt(() => query(`SELECT * FROM ${table} WHERE n = $1`, [{ tag: 'text', val: 'not a number' }]))
    report.paramError = badParam.ok ? 'accepted' : describe(badParam.err)

    report.ids = rows(table).map(r => r.n.val)
    report.labels = rows(table, ' WHERE n > 1').map(r => r.label.val)
    return toJson(report)
  },

  dump (tableName) {
    return toJson(rows(ident(tableName)))
  }
}
