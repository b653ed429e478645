// Dates, times, timestamps and offsets: PostgreSQL's ISO text <-> the contract's records, to the microsecond, BC years included.

import { LiteralError } from './literals.ts'

/** `variant date { positive-infinity, negative-infinity, ymd(tuple<s32, u32, u32>) }`; years are astronomical (0 = 1 BC), as chrono counts them. */
export type DateValue = { tag: 'positive-infinity' } | { tag: 'negative-infinity' } | { tag: 'ymd', val: [number, number, number] }
export interface TimeValue { hour: number, min: number, sec: number, micro: number }
/** `variant offset`: eastern = ahead of UTC, western = behind it. */
export type OffsetValue = { tag: 'eastern-hemisphere-secs', val: number } | { tag: 'western-hemisphere-secs', val: number }
export interface TimestampValue { date: DateValue, time: TimeValue }
export interface TimestampTzValue { timestamp: TimestampValue, offset: OffsetValue }
export interface TimeTzValue { timesonze: string, time: TimeValue }

const DATE = /^(\d{4,})-(\d{2})-(\d{2})$/
const TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/
const OFFSET = /^([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?$/
const MIDNIGHT: TimeValue = { hour: 0, min: 0, sec: 0, micro: 0 }

function fail (what: string, text: string): never {
  throw new LiteralError(`unexpected ${what} text from the server: ${JSON.stringify(text)} (the provider needs DateStyle ISO)`)
}

/** Splits a trailing ` BC`. */
function era (text: string): [string, boolean] {
  return text.endsWith(' BC') ? [text.slice(0, -3), true] : [text, false]
}

function ymd (text: string, bc: boolean): DateValue {
  const m = DATE.exec(text) ?? fail('date', text)
  const year = Number(m[1])
  return { tag: 'ymd', val: [bc ? 1 - year : year, Number(m[2]), Number(m[3])] }
}

export function parseDate (text: string): DateValue {
  if (text === 'infinity') return { tag: 'positive-infinity' }
  if (text === '-infinity') return { tag: 'negative-infinity' }
  const [body, bc] = era(text)
  return ymd(body, bc)
}

export function parseTime (text: string): TimeValue {
  const m = TIME.exec(text) ?? fail('time', text)
  return { hour: Number(m[1]), min: Number(m[2]), sec: Number(m[3]), micro: Number((m[4] ?? '').padEnd(6, '0')) }
}

export function parseTimestamp (text: string): TimestampValue {
  if (text === 'infinity' || text === '-infinity') return { date: parseDate(text), time: { ...MIDNIGHT } }
  const [body, bc] = era(text)
  const space = body.indexOf(' ')
  if (space < 0) fail('timestamp', text)
  return { date: ymd(body.slice(0, space), bc), time: parseTime(body.slice(space + 1)) }
}

/** Seconds east of UTC -> the contract's offset (UTC itself is western 0, as wasmCloud's provider gives it). */
function offsetOf (eastSeconds: number): OffsetValue {
  return eastSeconds > 0 ? { tag: 'eastern-hemisphere-secs', val: eastSeconds } : { tag: 'western-hemisphere-secs', val: 0 - eastSeconds }
}

function splitOffset (text: string, what: string): [string, string] {
  const at = Math.max(text.lastIndexOf('+'), text.lastIndexOf('-'))
  if (at < 8) fail(what, text)
  return [text.slice(0, at), text.slice(at)]
}

function offsetSeconds (text: string, what: string): number {
  const m = OFFSET.exec(text) ?? fail(what, text)
  const s = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0)
  return m[1] === '-' ? -s : s
}

export function parseTimestampTz (text: string): TimestampTzValue {
  if (text === 'infinity' || text === '-infinity') return { timestamp: parseTimestamp(text), offset: offsetOf(0) }
  const [body, bc] = era(text)
  const [local, offset] = splitOffset(body, 'timestamptz')
  return { timestamp: parseTimestamp(bc ? `${local} BC` : local), offset: offsetOf(offsetSeconds(offset, 'timestamptz')) }
}

/** timetz keeps its offset as written by the server (`+05:30`) in the contract's `timesonze` string. */
export function parseTimeTz (text: string): TimeTzValue {
  const at = Math.max(text.lastIndexOf('+'), text.lastIndexOf('-'))
  if (at < 0) fail('timetz', text)
  return { timesonze: text.slice(at), time: parseTime(text.slice(0, at)) }
}

function pad (n: number, width: number): string {
  return String(n).padStart(width, '0')
}

function checkInt (n: unknown, min: number, max: number, what: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new LiteralError(`${what} ${String(n)} is out of range ${min}..${max}`)
  return n
}

function dateParts (d: DateValue): [string, boolean] {
  if (d.tag !== 'ymd') throw new LiteralError(`a ${d.tag} date has no year`)
  const [y, m, day] = d.val
  checkInt(y, -2147483648, 2147483647, 'year')
  checkInt(m, 1, 12, 'month')
  checkInt(day, 1, 31, 'day')
  const bc = y <= 0
  return [`${pad(bc ? 1 - y : y, 4)}-${pad(m, 2)}-${pad(day, 2)}`, bc]
}

export function formatDate (d: DateValue): string {
  if (d.tag === 'positive-infinity') return 'infinity'
  if (d.tag === 'negative-infinity') return '-infinity'
  const [text, bc] = dateParts(d)
  return bc ? `${text} BC` : text
}

export function formatTime (t: TimeValue): string {
  checkInt(t.hour, 0, 24, 'hour')
  checkInt(t.min, 0, 59, 'minute')
  checkInt(t.sec, 0, 60, 'second')
  checkInt(t.micro, 0, 999999, 'microsecond')
  return `${pad(t.hour, 2)}:${pad(t.min, 2)}:${pad(t.sec, 2)}.${pad(t.micro, 6)}`
}

export function formatTimestamp (ts: TimestampValue, offset?: OffsetValue): string {
  if (ts.date.tag !== 'ymd') return formatDate(ts.date)
  const [date, bc] = dateParts(ts.date)
  const zone = offset === undefined ? '' : formatOffset(offset)
  return `${date} ${formatTime(ts.time)}${zone}${bc ? ' BC' : ''}`
}

export function formatOffset (o: OffsetValue): string {
  const secs = checkInt(o.val, -2147483648, 2147483647, 'offset')
  const east = o.tag === 'eastern-hemisphere-secs' ? secs : -secs
  const abs = Math.abs(east)
  return `${east < 0 ? '-' : '+'}${pad(Math.floor(abs / 3600), 2)}:${pad(Math.floor(abs / 60) % 60, 2)}:${pad(abs % 60, 2)}`
}

export function formatTimeTz (t: TimeTzValue): string {
  const zone = t.timesonze.trim()
  return /^[+-]/.test(zone) ? `${formatTime(t.time)}${zone}` : `${formatTime(t.time)} ${zone}`
}
