// The contract's pg-value both ways: a parameter as the text (or bytes) PostgreSQL parses, and a result column's text by its type OID.

import { floatText, fromHashable, parseFloatText, toHashable } from './floats.ts'
import type { FloatWidth, HashableF64 } from './floats.ts'
import {
  formatDate, formatTime, formatTimeTz, formatTimestamp,
  parseDate, parseTime, parseTimeTz, parseTimestamp, parseTimestampTz
} from './datetime.ts'
import type { DateValue, TimeTzValue, TimeValue, TimestampTzValue, TimestampValue } from './datetime.ts'
import {
  LiteralError, formatArray, formatBits, formatBytea, formatHstore, formatRange, formatTsVector,
  parseArray, parseBits, parseBytea, parseHstore, parseRange, parseTsVector
} from './literals.ts'
import type { Lexeme } from './literals.ts'

/** A `pg-value` in jco's conventions: `{ tag: 'int4', val: 42 }`, `{ tag: 'null' }`. */
export interface PgValue {
  readonly tag: string
  readonly val?: unknown
}

/** A parameter the provider cannot turn into something PostgreSQL takes; reported as `invalid-params`. */
export class ParamError extends Error {
  override readonly name: string = 'ParamError'
}

/** What `pg` sends: text the server parses by the parameter's inferred type, raw bytes (bytea), or NULL. */
export type Param = string | Buffer | null

type Point = readonly [HashableF64, HashableF64]
interface Interval { start: DateValue, startInclusive: boolean, end: DateValue, endInclusive: boolean }
interface Mac { bytes: readonly number[] }

const utf8 = new TextDecoder('utf-8', { fatal: true })
const utf8Encoder = new TextEncoder()

function list (v: unknown, what: string): unknown[] {
  if (Array.isArray(v)) return v
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<unknown>)
  throw new ParamError(`${what}: expected a list, got ${typeof v}`)
}

function int (v: unknown, what: string): string {
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number' && Number.isInteger(v)) return String(v)
  throw new ParamError(`${what}: expected an integer, got ${typeof v === 'number' ? String(v) : typeof v}`)
}

function boolean (v: unknown, what: string): string {
  if (typeof v !== 'boolean') throw new ParamError(`${what}: expected a bool, got ${typeof v}`)
  return v ? 't' : 'f'
}

function str (v: unknown, what: string): string {
  if (typeof v !== 'string') throw new ParamError(`${what}: expected a string, got ${typeof v}`)
  return v
}

function bytes (v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v
  if (Array.isArray(v) && v.every(b => Number.isInteger(b) && b >= 0 && b <= 255)) return Uint8Array.from(v as number[])
  throw new ParamError(`${what}: expected bytes`)
}

function text (v: unknown, what: string): string {
  try {
    return utf8.decode(bytes(v, what))
  } catch (err) {
    if (err instanceof ParamError) throw err
    throw new ParamError(`${what}: the bytes are not UTF-8`)
  }
}

function hashable (v: unknown, what: string): HashableF64 {
  const t = list(v, what)
  const [m, e, s] = t
  if (t.length !== 3 || (typeof m !== 'bigint' && !Number.isSafeInteger(m)) || typeof e !== 'number' || typeof s !== 'number') {
    throw new ParamError(`${what}: expected a hashable-f64 (mantissa, exponent, sign)`)
  }
  const mantissa = BigInt(m as bigint | number)
  if (mantissa < 0n) throw new ParamError(`${what}: a negative mantissa`)
  return [mantissa, e, s]
}

function float (v: unknown, width: FloatWidth, what: string): string {
  return floatText(fromHashable(hashable(v, what), width))
}

function point (v: unknown, what: string): string {
  const [x, y] = list(v, what)
  return `(${float(x, 64, what)},${float(y, 64, what)})`
}

function points (v: unknown, what: string): string {
  return list(v, what).map(p => point(p, what)).join(',')
}

function pair (v: unknown, what: string): [unknown, unknown] {
  const t = list(v, what)
  if (t.length !== 2) throw new ParamError(`${what}: expected a pair`)
  return [t[0], t[1]]
}

function bits (v: unknown, what: string, exact: boolean): string {
  const [count, data] = pair(v, what)
  const b = bytes(data, what)
  const n = count === undefined || count === null ? b.length * 8 : Number(count)
  if (exact && typeof count !== 'number') throw new ParamError(`${what}: expected a bit count`)
  return formatBits(n, b)
}

function mac (v: unknown, size: number, what: string): string {
  const b = list((v as Mac | null)?.bytes, what)
  if (b.length !== size || !b.every(x => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 255)) throw new ParamError(`${what}: expected ${size} octets`)
  return b.map(x => (x as number).toString(16).padStart(2, '0')).join(':')
}

function lsn (v: unknown, what: string): string {
  const n = BigInt(int(v, what))
  if (n < 0n || n > 0xffffffffffffffffn) throw new ParamError(`${what}: out of the u64 range`)
  return `${(n >> 32n).toString(16).toUpperCase()}/${(n & 0xffffffffn).toString(16).toUpperCase()}`
}

/** An infinite date at a range bound: exclusive means unbounded, inclusive the literal (-)infinity. */
function rangeBound (d: DateValue, inclusive: boolean): string | undefined {
  return d.tag !== 'ymd' && !inclusive ? undefined : formatDate(d)
}

function interval (v: unknown, what: string): string {
  const i = v as Interval
  if (typeof i !== 'object' || i === null) throw new ParamError(`${what}: expected an interval record`)
  return formatRange({ lower: rangeBound(i.start, i.startInclusive), upper: rangeBound(i.end, i.endInclusive), lowerInclusive: i.startInclusive, upperInclusive: i.endInclusive })
}

const one: Record<string, (v: unknown, what: string) => string> = {
  'big-int': int, int8: int, 'big-serial': int, serial8: int, 'txid-snapshot': int,
  integer: int, int: int, int4: int, serial: int, serial4: int,
  'small-int': int, int2: int, 'small-serial': int, serial2: int,
  bool: boolean, boolean,
  double: (v, w) => float(v, 64, w), float8: (v, w) => float(v, 64, w),
  real: (v, w) => float(v, 32, w), float4: (v, w) => float(v, 32, w),
  numeric: str, decimal: str, money: str,
  'int2-vector': (v, w) => list(v, w).map(x => int(x, w)).join(' '),
  bit: (v, w) => bits(v, w, true),
  'bit-varying': (v, w) => bits(v, w, false), varbit: (v, w) => bits(v, w, false),
  char: (v, w) => text(pair(v, w)[1], w), varchar: (v, w) => text(pair(v, w)[1], w),
  cidr: str, inet: str,
  macaddr: (v, w) => mac(v, 6, w), macaddr8: (v, w) => mac(v, 8, w),
  box: (v, w) => { const [a, b] = pair(v, w); return `${point(a, w)},${point(b, w)}` },
  circle: (v, w) => { const [c, r] = pair(v, w); return `<${point(c, w)},${float(r, 64, w)}>` },
  line: (v, w) => `[${points(v, w)}]`,
  lseg: (v, w) => `[${points(v, w)}]`,
  path: (v, w) => `[${points(v, w)}]`,
  point,
  polygon: (v, w) => `(${points(v, w)})`,
  date: v => formatDate(v as DateValue),
  interval,
  time: v => formatTime(v as TimeValue),
  'time-tz': v => formatTimeTz(v as TimeTzValue),
  timestamp: v => formatTimestamp(v as TimestampValue),
  'timestamp-tz': v => { const t = v as TimestampTzValue; return formatTimestamp(t.timestamp, t.offset) },
  json: str, jsonb: str,
  'pg-lsn': lsn,
  'pg-snapshot': (v, w) => {
    const [xmin, xmax, xip] = list(v, w)
    return `${int(xmin, w)}:${int(xmax, w)}:${list(xip, w).map(x => int(x, w)).join(',')}`
  },
  name: str, text: str, xml: str, 'ts-query': str, uuid: str,
  'ts-vector': (v, w) => formatTsVector(list(v, w) as Lexeme[]),
  hstore: (v, w) => formatHstore(list(v, w).map(p => { const [k, x] = pair(p, w); return [str(k, w), x === undefined || x === null ? undefined : str(x, w)] }))
}

/** `<element>-array` cases: the element's formatter, and `;` as the delimiter for boxes. */
const arrays: Record<string, { element: string, delimiter?: string }> = {
  'int8-array': { element: 'int8' },
  'bool-array': { element: 'bool' },
  'float8-array': { element: 'float8' },
  'float4-array': { element: 'float4' },
  'int4-array': { element: 'int4' },
  'numeric-array': { element: 'numeric' },
  'int2-array': { element: 'int2' },
  'int2-vector-array': { element: 'int2-vector' },
  'bit-array': { element: 'bit' },
  'varbit-array': { element: 'varbit' },
  'char-array': { element: 'char' },
  'varchar-array': { element: 'varchar' },
  'cidr-array': { element: 'cidr' },
  'inet-array': { element: 'inet' },
  'macaddr-array': { element: 'macaddr' },
  'macaddr8-array': { element: 'macaddr8' },
  'box-array': { element: 'box', delimiter: ';' },
  'circle-array': { element: 'circle' },
  'line-array': { element: 'line' },
  'lseg-array': { element: 'lseg' },
  'path-array': { element: 'path' },
  'point-array': { element: 'point' },
  'polygon-array': { element: 'polygon' },
  'date-array': { element: 'date' },
  'interval-array': { element: 'interval' },
  'time-array': { element: 'time' },
  'time-tz-array': { element: 'time-tz' },
  'timestamp-array': { element: 'timestamp' },
  'timestamp-tz-array': { element: 'timestamp-tz' },
  'json-array': { element: 'json' },
  'jsonb-array': { element: 'jsonb' },
  'money-array': { element: 'money' },
  'pg-lsn-array': { element: 'pg-lsn' },
  'name-array': { element: 'name' },
  'text-array': { element: 'text' },
  'xml-array': { element: 'xml' },
  'uuid-array': { element: 'uuid' }
}

/**
 * One parameter for `pg`: text that the server parses with the type it infers for `$n` (so a value
 * fits any column its text form suits, as in psql), raw bytes for bytea, null for `null`.
 * Throws ParamError for a value that is not the case's type or cannot be written.
 */
export function toParam (value: PgValue, index: number): Param {
  const what = `params[${index}] (${String(value?.tag)})`
  if (typeof value !== 'object' || value === null || typeof value.tag !== 'string') throw new ParamError(`params[${index}]: expected a pg-value`)
  try {
    if (value.tag === 'null') return null
    if (value.tag === 'bytea') {
      const b = bytes(value.val, what)
      return Buffer.from(b.buffer, b.byteOffset, b.byteLength)
    }
    if (value.tag === 'bytea-array') return formatArray(list(value.val, what).map(b => formatBytea(bytes(b, what))))
    const format = one[value.tag]
    if (format !== undefined) return format(value.val, what)
    const array = arrays[value.tag]
    if (array !== undefined) {
      const element = one[array.element]
      return formatArray(list(value.val, what).map(v => element(v, what)), array.delimiter)
    }
  } catch (err) {
    if (err instanceof ParamError) throw err
    if (err instanceof LiteralError || err instanceof TypeError || err instanceof RangeError) throw new ParamError(`${what}: ${err.message}`)
    throw err
  }
  throw new ParamError(`params[${index}]: ${value.tag} is not a pg-value case`)
}

// ---- results ----

/** Built-in type OIDs (pg_type.oid; stable across PostgreSQL versions). */
export const OID = {
  bool: 16, bytea: 17, char: 18, name: 19, int8: 20, int2: 21, int2vector: 22, int4: 23, text: 25, oid: 26,
  xid: 28, cid: 29, json: 114, xml: 142, xmlArray: 143, jsonArray: 199, point: 600, lseg: 601, path: 602,
  box: 603, polygon: 604, line: 628, lineArray: 629, cidr: 650, cidrArray: 651, float4: 700, float8: 701,
  circle: 718, circleArray: 719, macaddr8: 774, macaddr8Array: 775, money: 790, moneyArray: 791,
  macaddr: 829, inet: 869, boolArray: 1000, byteaArray: 1001, charArray: 1002, nameArray: 1003,
  int2Array: 1005, int2vectorArray: 1006, int4Array: 1007, textArray: 1009, bpcharArray: 1014,
  varcharArray: 1015, int8Array: 1016, pointArray: 1017, lsegArray: 1018, pathArray: 1019, boxArray: 1020,
  float4Array: 1021, float8Array: 1022, polygonArray: 1027, macaddrArray: 1040, inetArray: 1041,
  bpchar: 1042, varchar: 1043, date: 1082, time: 1083, timestamp: 1114, timestampArray: 1115,
  dateArray: 1182, timeArray: 1183, timestamptz: 1184, timestamptzArray: 1185, numericArray: 1231,
  timetz: 1266, timetzArray: 1270, bit: 1560, bitArray: 1561, varbit: 1562, varbitArray: 1563,
  numeric: 1700, uuid: 2950, uuidArray: 2951, txidSnapshot: 2970, pgLsn: 3220, pgLsnArray: 3221,
  tsvector: 3614, tsquery: 3615, jsonb: 3802, jsonbArray: 3807, daterange: 3912, daterangeArray: 3913,
  pgSnapshot: 5038, xid8: 5069
} as const

const MONEY = /^(-)?\(?([^\d(-]*)([\d,]+(?:\.\d+)?)[^\d)]*\)?$/

function money (t: string): PgValue {
  const m = MONEY.exec(t.trim())
  if (m === null) return { tag: 'text', val: t }
  const negative = m[1] === '-' || t.includes('(')
  return { tag: 'money', val: `${negative ? '-' : ''}${m[3].replace(/,/g, '')}` }
}

function parsePoint (t: string): [HashableF64, HashableF64] {
  const m = /^\(([^,]+),([^)]+)\)$/.exec(t.trim())
  if (m === null) throw new LiteralError(`malformed point: ${t}`)
  return [toHashable(parseFloatText(m[1], 64)), toHashable(parseFloatText(m[2], 64))]
}

/** `(x,y),(x,y),...` possibly wrapped in `[...]` or `(...)`. */
function parsePoints (t: string): Array<[HashableF64, HashableF64]> {
  return (t.match(/\([^()]*\)/g) ?? []).map(parsePoint)
}

/** pg's box output is upper-right first; the contract wants lower-left first. */
function parseBox (t: string): [Point, Point] {
  const [upper, lower] = parsePoints(t)
  if (upper === undefined || lower === undefined) throw new LiteralError(`malformed box: ${t}`)
  return [lower, upper]
}

/** A line is stored as Ax + By + C = 0; the contract carries two points on it. */
function parseLine (t: string): [Point, Point] {
  const m = /^\{([^,]+),([^,]+),([^}]+)\}$/.exec(t)
  if (m === null) throw new LiteralError(`malformed line: ${t}`)
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const p = (x: number, y: number): Point => [toHashable(x + 0), toHashable(y + 0)]
  return b === 0 ? [p(-c / a, 0), p(-c / a, 1)] : [p(0, -c / b), p(1, -(a + c) / b)]
}

function parseCircle (t: string): [Point, HashableF64] {
  const m = /^<(\([^)]*\)),([^>]+)>$/.exec(t)
  if (m === null) throw new LiteralError(`malformed circle: ${t}`)
  return [parsePoint(m[1]), toHashable(parseFloatText(m[2], 64))]
}

function parseMac (t: string): { bytes: number[] } {
  return { bytes: t.split(':').map(h => parseInt(h, 16)) }
}

function parseLsn (t: string): bigint {
  const [hi, lo] = t.split('/')
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`)
}

function parseSnapshot (t: string): [bigint, bigint, BigInt64Array] {
  const [xmin, xmax, xip] = t.split(':')
  return [BigInt(xmin), BigInt(xmax), BigInt64Array.from(xip === undefined || xip === '' ? [] : xip.split(',').map(BigInt))]
}

function parseInterval (t: string): Interval | undefined {
  const r = parseRange(t)
  if (r === undefined) return undefined
  return {
    start: r.lower === undefined ? { tag: 'negative-infinity' } : parseDate(r.lower),
    startInclusive: r.lower === undefined ? false : r.lowerInclusive,
    end: r.upper === undefined ? { tag: 'positive-infinity' } : parseDate(r.upper),
    endInclusive: r.upper === undefined ? false : r.upperInclusive
  }
}

function charOf (t: string): [number, Uint8Array] {
  const b = utf8Encoder.encode(t)
  return [b.length, b]
}

type Scalar = (t: string) => unknown

/** Element parsers by OID of the scalar type, with the case they come back as. */
const scalars = new Map<number, { tag: string, parse: Scalar }>([
  [OID.bool, { tag: 'bool', parse: t => t === 't' }],
  [OID.bytea, { tag: 'bytea', parse: parseBytea }],
  [OID.char, { tag: 'char', parse: charOf }],
  [OID.bpchar, { tag: 'char', parse: charOf }],
  [OID.name, { tag: 'name', parse: t => t }],
  [OID.int8, { tag: 'int8', parse: BigInt }],
  [OID.int2, { tag: 'int2', parse: Number }],
  [OID.int4, { tag: 'int4', parse: Number }],
  [OID.oid, { tag: 'int8', parse: BigInt }],
  [OID.xid, { tag: 'int8', parse: BigInt }],
  [OID.xid8, { tag: 'int8', parse: BigInt }],
  [OID.cid, { tag: 'int8', parse: BigInt }],
  [OID.int2vector, { tag: 'int2-vector', parse: t => Int16Array.from(t === '' ? [] : t.split(' ').map(Number)) }],
  [OID.text, { tag: 'text', parse: t => t }],
  [OID.json, { tag: 'json', parse: t => t }],
  [OID.jsonb, { tag: 'jsonb', parse: t => t }],
  [OID.xml, { tag: 'xml', parse: t => t }],
  [OID.point, { tag: 'point', parse: parsePoint }],
  [OID.lseg, { tag: 'lseg', parse: parsePoints }],
  [OID.path, { tag: 'path', parse: parsePoints }],
  [OID.box, { tag: 'box', parse: parseBox }],
  [OID.polygon, { tag: 'polygon', parse: parsePoints }],
  [OID.line, { tag: 'line', parse: parseLine }],
  [OID.circle, { tag: 'circle', parse: parseCircle }],
  [OID.cidr, { tag: 'cidr', parse: t => t }],
  [OID.inet, { tag: 'inet', parse: t => t }],
  [OID.macaddr, { tag: 'macaddr', parse: parseMac }],
  [OID.macaddr8, { tag: 'macaddr8', parse: parseMac }],
  [OID.float4, { tag: 'float4', parse: t => toHashable(parseFloatText(t, 32), 32) }],
  [OID.float8, { tag: 'float8', parse: t => toHashable(parseFloatText(t, 64), 64) }],
  [OID.varchar, { tag: 'varchar', parse: t => [undefined, utf8Encoder.encode(t)] }],
  [OID.date, { tag: 'date', parse: parseDate }],
  [OID.time, { tag: 'time', parse: parseTime }],
  [OID.timetz, { tag: 'time-tz', parse: parseTimeTz }],
  [OID.timestamp, { tag: 'timestamp', parse: parseTimestamp }],
  [OID.timestamptz, { tag: 'timestamp-tz', parse: parseTimestampTz }],
  [OID.bit, { tag: 'bit', parse: parseBits }],
  [OID.varbit, { tag: 'varbit', parse: parseBits }],
  [OID.numeric, { tag: 'numeric', parse: t => t }],
  [OID.uuid, { tag: 'uuid', parse: t => t }],
  [OID.pgLsn, { tag: 'pg-lsn', parse: parseLsn }],
  [OID.txidSnapshot, { tag: 'pg-snapshot', parse: parseSnapshot }],
  [OID.pgSnapshot, { tag: 'pg-snapshot', parse: parseSnapshot }],
  [OID.tsvector, { tag: 'ts-vector', parse: parseTsVector }],
  [OID.tsquery, { tag: 'ts-query', parse: t => t }]
])

/** Array OIDs: the element OID, the case, and how the list is held in jco's conventions. */
const arrayTypes = new Map<number, { element: number, tag: string, typed?: (items: unknown[]) => unknown, delimiter?: string }>([
  [OID.boolArray, { element: OID.bool, tag: 'bool-array' }],
  [OID.byteaArray, { element: OID.bytea, tag: 'bytea-array' }],
  [OID.charArray, { element: OID.char, tag: 'char-array' }],
  [OID.bpcharArray, { element: OID.bpchar, tag: 'char-array' }],
  [OID.nameArray, { element: OID.name, tag: 'name-array' }],
  [OID.int2Array, { element: OID.int2, tag: 'int2-array', typed: i => Int16Array.from(i as number[]) }],
  [OID.int2vectorArray, { element: OID.int2vector, tag: 'int2-vector-array' }],
  [OID.int4Array, { element: OID.int4, tag: 'int4-array', typed: i => Int32Array.from(i as number[]) }],
  [OID.int8Array, { element: OID.int8, tag: 'int8-array', typed: i => BigInt64Array.from(i as bigint[]) }],
  [OID.textArray, { element: OID.text, tag: 'text-array' }],
  [OID.varcharArray, { element: OID.varchar, tag: 'varchar-array' }],
  [OID.jsonArray, { element: OID.json, tag: 'json-array' }],
  [OID.jsonbArray, { element: OID.jsonb, tag: 'jsonb-array' }],
  [OID.xmlArray, { element: OID.xml, tag: 'xml-array' }],
  [OID.pointArray, { element: OID.point, tag: 'point-array' }],
  [OID.lsegArray, { element: OID.lseg, tag: 'lseg-array' }],
  [OID.pathArray, { element: OID.path, tag: 'path-array' }],
  [OID.boxArray, { element: OID.box, tag: 'box-array', delimiter: ';' }],
  [OID.polygonArray, { element: OID.polygon, tag: 'polygon-array' }],
  [OID.lineArray, { element: OID.line, tag: 'line-array' }],
  [OID.circleArray, { element: OID.circle, tag: 'circle-array' }],
  [OID.cidrArray, { element: OID.cidr, tag: 'cidr-array' }],
  [OID.inetArray, { element: OID.inet, tag: 'inet-array' }],
  [OID.macaddrArray, { element: OID.macaddr, tag: 'macaddr-array' }],
  [OID.macaddr8Array, { element: OID.macaddr8, tag: 'macaddr8-array' }],
  [OID.float4Array, { element: OID.float4, tag: 'float4-array' }],
  [OID.float8Array, { element: OID.float8, tag: 'float8-array' }],
  [OID.moneyArray, { element: OID.money, tag: 'money-array' }],
  [OID.dateArray, { element: OID.date, tag: 'date-array' }],
  [OID.timeArray, { element: OID.time, tag: 'time-array' }],
  [OID.timetzArray, { element: OID.timetz, tag: 'time-tz-array' }],
  [OID.timestampArray, { element: OID.timestamp, tag: 'timestamp-array' }],
  [OID.timestamptzArray, { element: OID.timestamptz, tag: 'timestamp-tz-array' }],
  [OID.bitArray, { element: OID.bit, tag: 'bit-array' }],
  [OID.varbitArray, { element: OID.varbit, tag: 'varbit-array' }],
  [OID.numericArray, { element: OID.numeric, tag: 'numeric-array' }],
  [OID.uuidArray, { element: OID.uuid, tag: 'uuid-array' }],
  [OID.pgLsnArray, { element: OID.pgLsn, tag: 'pg-lsn-array', typed: i => BigUint64Array.from(i as bigint[]) }],
  [OID.daterangeArray, { element: OID.daterange, tag: 'interval-array' }]
])

/** Types whose OID is not fixed (extensions): looked up by name once per OID. */
export type TypeNames = ReadonlyMap<number, string>

/** Whether `fromText` knows `oid` without a name lookup. */
export function isBuiltin (oid: number): boolean {
  return scalars.has(oid) || arrayTypes.has(oid) || oid === OID.money || oid === OID.daterange
}

function element (oid: number, t: string): unknown {
  if (oid === OID.money) {
    const m = money(t)
    if (m.tag !== 'money') throw new LiteralError(`money in an unknown format: ${t}`)
    return m.val
  }
  if (oid === OID.daterange) {
    const i = parseInterval(t)
    if (i === undefined) throw new LiteralError('an empty range has no bounds')
    return i
  }
  const s = scalars.get(oid)
  if (s === undefined) throw new LiteralError(`no element parser for OID ${oid}`)
  return s.parse(t)
}

/**
 * A result column's text (pg with every type parser left raw) as a pg-value, by its type OID. What
 * the contract has no case for (other types, NULL array elements, multi-dimensional arrays, an empty
 * daterange, money in a locale other than C/English) comes back as `text` with the server's own
 * text, so nothing is lost or refused.
 */
export function fromText (oid: number, value: string | null, names: TypeNames = new Map()): PgValue {
  if (value === null) return { tag: 'null' }
  try {
    if (oid === OID.money) return money(value)
    if (oid === OID.daterange) {
      const i = parseInterval(value)
      return i === undefined ? { tag: 'text', val: value } : { tag: 'interval', val: i }
    }
    const s = scalars.get(oid)
    if (s !== undefined) return { tag: s.tag, val: s.parse(value) }
    const a = arrayTypes.get(oid)
    if (a !== undefined) {
      const items = parseArray(value, a.delimiter)
      if (items.some(i => i === null || Array.isArray(i))) return { tag: 'text', val: value }
      const parsed = (items as string[]).map(i => element(a.element, i))
      return { tag: a.tag, val: a.typed === undefined ? parsed : a.typed(parsed) }
    }
    if (names.get(oid) === 'hstore') return { tag: 'hstore', val: parseHstore(value) }
  } catch (err) {
    if (!(err instanceof LiteralError) && !(err instanceof SyntaxError) && !(err instanceof RangeError)) throw err
    return { tag: 'text', val: value }
  }
  return { tag: 'text', val: value }
}
