// PostgreSQL's text forms that hold several values: array literals, hstore, tsvector, ranges, bit strings and bytea.

/** An array literal's items: strings, null for NULL, nested arrays for more dimensions. */
export type ArrayItem = string | null | ArrayItem[]

export class LiteralError extends Error {
  override readonly name: string = 'LiteralError'
}

/** `{a,"b c",NULL}` (optionally `[1:3]={...}`) to its items; `delimiter` is `;` for box arrays, `,` otherwise. */
export function parseArray (text: string, delimiter = ','): ArrayItem[] {
  let i = 0
  if (text[0] === '[') {
    const eq = text.indexOf('=')
    if (eq < 0) throw new LiteralError(`malformed array literal: ${text}`)
    i = eq + 1
  }
  const fail = (): never => { throw new LiteralError(`malformed array literal: ${text}`) }
  const list = (): ArrayItem[] => {
    if (text[i] !== '{') fail()
    i++
    const items: ArrayItem[] = []
    if (text[i] === '}') { i++; return items }
    for (;;) {
      if (text[i] === '{') items.push(list())
      else if (text[i] === '"') {
        i++
        let s = ''
        for (;;) {
          const c = text[i++]
          if (c === undefined) fail()
          if (c === '"') break
          s += c === '\\' ? (text[i++] ?? fail()) : c
        }
        items.push(s)
      } else {
        let s = ''
        let escaped = false
        while (i < text.length && text[i] !== delimiter && text[i] !== '}') {
          if (text[i] === '\\') { escaped = true; i++ }
          s += text[i++] ?? ''
        }
        const trimmed = s.trim()
        items.push(!escaped && trimmed.toUpperCase() === 'NULL' ? null : trimmed)
      }
      if (text[i] === delimiter) { i++; continue }
      if (text[i] === '}') { i++; return items }
      fail()
    }
  }
  const items = list()
  if (i !== text.length) fail()
  return items
}

/** One quoted element: always valid, whatever the element type. */
function quote (s: string): string {
  return `"${s.replace(/[\\"]/g, c => `\\${c}`)}"`
}

/** An array literal of already formatted elements (nested arrays for lists of lists). */
export function formatArray (items: ReadonlyArray<string | readonly string[]>, delimiter = ','): string {
  return `{${items.map(e => typeof e === 'string' ? quote(e) : formatArray(e, delimiter)).join(delimiter)}}`
}

/** hstore output `"a"=>"1", "b"=>NULL` to pairs. */
export function parseHstore (text: string): Array<[string, string | undefined]> {
  const pairs: Array<[string, string | undefined]> = []
  let i = 0
  const fail = (): never => { throw new LiteralError(`malformed hstore: ${text}`) }
  const skipSpace = (): void => { while (text[i] === ' ') i++ }
  const quoted = (): string => {
    if (text[i] !== '"') fail()
    i++
    let s = ''
    for (;;) {
      const c = text[i++]
      if (c === undefined) fail()
      if (c === '"') return s
      s += c === '\\' ? (text[i++] ?? fail()) : c
    }
  }
  skipSpace()
  while (i < text.length) {
    const key = quoted()
    skipSpace()
    if (text.slice(i, i + 2) !== '=>') fail()
    i += 2
    skipSpace()
    let value: string | undefined
    if (text.slice(i, i + 4).toUpperCase() === 'NULL') { i += 4; value = undefined } else value = quoted()
    pairs.push([key, value])
    skipSpace()
    if (text[i] === ',') { i++; skipSpace() } else if (i < text.length) fail()
  }
  return pairs
}

export function formatHstore (pairs: ReadonlyArray<readonly [string, string | undefined | null]>): string {
  return pairs.map(([k, v]) => `${quote(k)}=>${v === undefined || v === null ? 'NULL' : quote(v)}`).join(', ')
}

export interface Lexeme {
  readonly position: number | undefined
  readonly weight: 'A' | 'B' | 'C' | 'D' | undefined
  readonly data: string
}

/** tsvector output `'cat':3A,5 'dog'` to one lexeme per position (weight D when the server leaves it out). */
export function parseTsVector (text: string): Lexeme[] {
  const out: Lexeme[] = []
  let i = 0
  const fail = (): never => { throw new LiteralError(`malformed tsvector: ${text}`) }
  while (i < text.length) {
    if (text[i] === ' ') { i++; continue }
    if (text[i] !== "'") fail()
    i++
    let data = ''
    for (;;) {
      const c = text[i++]
      if (c === undefined) fail()
      if (c === "'") {
        if (text[i] === "'") { data += "'"; i++; continue }
        break
      }
      data += c === '\\' ? (text[i++] ?? fail()) : c
    }
    if (text[i] !== ':') {
      out.push({ position: undefined, weight: undefined, data })
      continue
    }
    i++
    const positions = /^(\d+[A-D]?)(,\d+[A-D]?)*/.exec(text.slice(i)) ?? fail()
    i += positions[0].length
    for (const p of positions[0].split(',')) {
      const m = /^(\d+)([A-D]?)$/.exec(p) ?? fail()
      out.push({ position: Number(m[1]), weight: (m[2] === '' ? 'D' : m[2]) as Lexeme['weight'], data })
    }
  }
  return out
}

/** Lexemes to tsvector input; the server merges repeated lexemes and sorts them. */
export function formatTsVector (lexemes: readonly Lexeme[]): string {
  return lexemes.map(l => {
    const word = `'${l.data.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`
    if (l.position === undefined) return word
    return `${word}:${l.position}${l.weight !== undefined && l.weight !== 'D' ? l.weight : ''}`
  }).join(' ')
}

export interface RangeText {
  readonly lower: string | undefined
  readonly upper: string | undefined
  readonly lowerInclusive: boolean
  readonly upperInclusive: boolean
}

/** Range output `[a,b)`, `(,b]`, with quoted bounds; undefined for `empty`. */
export function parseRange (text: string): RangeText | undefined {
  if (text === 'empty') return undefined
  const fail = (): never => { throw new LiteralError(`malformed range: ${text}`) }
  if ((text[0] !== '[' && text[0] !== '(') || (text.at(-1) !== ']' && text.at(-1) !== ')')) fail()
  const body = text.slice(1, -1)
  let i = 0
  const bound = (): string | undefined => {
    if (body[i] === ',' || i >= body.length) return undefined
    let s = ''
    if (body[i] === '"') {
      i++
      for (;;) {
        const c = body[i++]
        if (c === undefined) fail()
        if (c === '"') {
          if (body[i] === '"') { s += '"'; i++; continue }
          return s
        }
        s += c === '\\' ? (body[i++] ?? fail()) : c
      }
    }
    while (i < body.length && body[i] !== ',') s += body[i++]
    return s
  }
  const lower = bound()
  if (body[i] !== ',') fail()
  i++
  const upper = bound()
  if (i !== body.length) fail()
  return { lower, upper, lowerInclusive: text[0] === '[', upperInclusive: text.at(-1) === ']' }
}

export function formatRange (r: RangeText): string {
  const b = (s: string | undefined): string => s === undefined ? '' : quote(s)
  return `${r.lowerInclusive ? '[' : '('}${b(r.lower)},${b(r.upper)}${r.upperInclusive ? ']' : ')'}`
}

/** `1010` to (bit count, bytes packed most significant bit first, as Rust's bit-vec does). */
export function parseBits (text: string): [number, Uint8Array] {
  if (!/^[01]*$/.test(text)) throw new LiteralError(`malformed bit string: ${text}`)
  const bytes = new Uint8Array(Math.ceil(text.length / 8))
  for (let i = 0; i < text.length; i++) if (text[i] === '1') bytes[i >> 3] |= 0x80 >> (i & 7)
  return [text.length, bytes]
}

/** The first `count` bits of `bytes`, most significant bit first. */
export function formatBits (count: number, bytes: Uint8Array): string {
  if (!Number.isInteger(count) || count < 0 || count > bytes.length * 8) {
    throw new LiteralError(`a bit string of ${count} bits needs at least ${Math.ceil(count / 8)} bytes, got ${bytes.length}`)
  }
  let s = ''
  for (let i = 0; i < count; i++) s += (bytes[i >> 3] & (0x80 >> (i & 7))) !== 0 ? '1' : '0'
  return s
}

/** bytea output, hex (`\x0a0b`) or the older escape format. */
export function parseBytea (text: string): Uint8Array {
  if (text.startsWith('\\x')) {
    const hex = text.slice(2)
    if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new LiteralError('malformed bytea hex')
    return Uint8Array.from(Buffer.from(hex, 'hex'))
  }
  const out: number[] = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c !== 0x5c) { out.push(c); continue }
    if (text[i + 1] === '\\') { out.push(0x5c); i++; continue }
    const octal = text.slice(i + 1, i + 4)
    if (!/^[0-3][0-7]{2}$/.test(octal)) throw new LiteralError('malformed bytea escape')
    out.push(parseInt(octal, 8))
    i += 3
  }
  return Uint8Array.from(out)
}

export function formatBytea (bytes: Uint8Array): string {
  return `\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`
}
