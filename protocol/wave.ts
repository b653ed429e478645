// WAVE (the WebAssembly Value Encoding of wasm-tools' wasm-wave) text <-> JS values of a WIT type, for the CLI.

import { ProtocolError } from './errors.ts'
import { encodeValue, isTaggedOption, typedListFrom } from './value.ts'
import { toJsName } from './jco-names.ts'
import type { ListType, RecordType, Type } from './wit/model.ts'

const KEYWORDS = new Set(['true', 'false', 'inf', 'nan', 'some', 'none', 'ok', 'err'])
const HANDLE_PREFIX = 'h:'

// ---------------------------------------------------------------- printing

/**
 * Prints a value as WAVE. The value is checked against the type first (same rules and errors
 * as `encodeValue`); pending futures/streams have no text form and fail with `async-unsupported`.
 * Options and results are always printed in their explicit form (`some(1)`, `ok(2)`); handles,
 * which WAVE does not define, print as a string of `h:` and the handle bytes in hex.
 */
export function printWave (type: Type, value: unknown): string {
  encodeValue(type, value, {
    limits: { maxValueBytes: Number.MAX_SAFE_INTEGER, maxListLength: Number.MAX_SAFE_INTEGER },
    onAsync: (_index, t, v) => {
      // an empty ready stream is pending on the wire only; as text it is just `[]`
      if (t.kind === 'stream' && (Array.isArray(v) || ArrayBuffer.isView(v))) return
      throw new ProtocolError('async-unsupported', `a pending ${t.kind} has no WAVE form`)
    }
  })
  return print(type, value)
}

function print (t: Type, v: unknown): string {
  switch (t.kind) {
    case 'bool': return v === true ? 'true' : 'false'
    case 's8': case 'u8': case 's16': case 'u16': case 's32': case 'u32': case 's64': case 'u64':
      return String(v)
    case 'f32': return printFloat(v as number, true)
    case 'f64': return printFloat(v as number, false)
    case 'char': return `'${escape(v as string, "'")}'`
    case 'string': return `"${escape(v as string, '"')}"`
    case 'error-context': return '()'
    case 'list': return printItems(t.element, v)
    case 'option': {
      if (isTaggedOption(t)) {
        const o = v as { tag: string, val?: unknown }
        return o.tag === 'none' ? 'none' : `some(${print(t.some, o.val)})`
      }
      return v === undefined || v === null ? 'none' : `some(${print(t.some, v)})`
    }
    case 'result': {
      const o = v as { tag: 'ok' | 'err', val?: unknown }
      const side = o.tag === 'ok' ? t.ok : t.err
      return side === null ? o.tag : `${o.tag}(${print(side, o.val)})`
    }
    case 'tuple': {
      const a = v as unknown[]
      return `(${t.elements.map((e, i) => print(e, a[i])).join(', ')})`
    }
    case 'record': {
      if (t.fields.length === 0) return '{:}'
      const o = v as Record<string, unknown>
      return `{${t.fields.map(f => `${f.name}: ${print(f.type, ownField(o, toJsName(f.name)))}`).join(', ')}}`
    }
    case 'variant': {
      const o = v as { tag: string, val?: unknown }
      const c = t.cases.find(k => k.name === o.tag)
      const label = printLabel(o.tag)
      return c?.type == null ? label : `${label}(${print(c.type, o.val)})`
    }
    case 'enum': return printLabel(v as string)
    case 'flags': {
      const o = (v ?? {}) as Record<string, unknown>
      return `{${t.flags.filter(f => ownField(o, toJsName(f)) === true).join(', ')}}`
    }
    case 'own':
    case 'borrow': {
      let hex = HANDLE_PREFIX
      for (const b of v as Uint8Array) hex += b.toString(16).padStart(2, '0')
      return `"${hex}"`
    }
    case 'future': return t.element === null ? '()' : print(t.element, v)
    case 'stream': return printItems(t.element, v)
  }
}

function ownField (o: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined
}

function printItems (element: Type | null, v: unknown): string {
  const a = v as ArrayLike<unknown>
  const parts = new Array<string>(a.length)
  for (let i = 0; i < a.length; i++) parts[i] = element === null ? '()' : print(element, a[i])
  return `[${parts.join(', ')}]`
}

function printLabel (name: string): string {
  return KEYWORDS.has(name) ? `%${name}` : name
}

function printFloat (x: number, f32: boolean): string {
  if (Number.isNaN(x)) return 'nan'
  if (x === Number.POSITIVE_INFINITY) return 'inf'
  if (x === Number.NEGATIVE_INFINITY) return '-inf'
  if (Object.is(x, -0)) return '-0'
  if (f32) {
    // the shortest decimal that reads back as the same f32
    const y = Math.fround(x)
    for (let p = 1; p <= 9; p++) {
      const n = Number(y.toPrecision(p))
      if (Math.fround(n) === y) return String(n)
    }
  }
  return String(x)
}

function escape (s: string, quote: '"' | "'"): string {
  let out = ''
  for (const ch of s) {
    switch (ch) {
      case '\\': out += '\\\\'; break
      case '\n': out += '\\n'; break
      case '\r': out += '\\r'; break
      case '\t': out += '\\t'; break
      case quote: out += `\\${quote}`; break
      default: {
        const cp = ch.codePointAt(0) as number
        out += cp < 0x20 || cp === 0x7f ? `\\u{${cp.toString(16)}}` : ch
      }
    }
  }
  return out
}

// ---------------------------------------------------------------- parsing

/**
 * Parses WAVE text as a value of `type`, giving the JS value `decodeValue` would give (typed
 * arrays for numeric lists, bigints for 64-bit integers, lowerCamelCase record fields...).
 * Any error is a ProtocolError `wave-syntax` naming the line and column.
 */
export function parseWave (type: Type, text: string): unknown {
  const p = new Parser(text)
  p.ws()
  const v = p.value(type)
  p.ws()
  if (p.pos < text.length) p.fail('unexpected text after the value')
  return v
}

const INT_RANGES: Record<string, readonly [bigint, bigint]> = {
  s8: [-0x80n, 0x7fn],
  u8: [0n, 0xffn],
  s16: [-0x8000n, 0x7fffn],
  u16: [0n, 0xffffn],
  s32: [-0x80000000n, 0x7fffffffn],
  u32: [0n, 0xffffffffn],
  s64: [-0x8000000000000000n, 0x7fffffffffffffffn],
  u64: [0n, 0xffffffffffffffffn]
}


const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y
const INTEGER = /-?(?:0|[1-9][0-9]*)(?![0-9.eE])/y
const LABEL = /%?[A-Za-z0-9-]+/y
const WORD = /^(?:[a-z][a-z0-9]*|[A-Z][A-Z0-9]*)$/

interface Label { readonly name: string, readonly escaped: boolean, readonly at: number }

class Parser {
  readonly text: string
  pos = 0

  constructor (text: string) {
    this.text = text
  }

  fail (message: string, at = this.pos): never {
    let line = 1
    let col = 1
    for (let i = 0; i < at && i < this.text.length; i++) {
      if (this.text.charCodeAt(i) === 10) {
        line++
        col = 1
      } else {
        col++
      }
    }
    throw new ProtocolError('wave-syntax', `${message} (line ${line}, column ${col})`)
  }

  ws (): void {
    const t = this.text
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos)
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
        this.pos++
      } else if (c === 0x2f && t.charCodeAt(this.pos + 1) === 0x2f) {
        const nl = t.indexOf('\n', this.pos)
        this.pos = nl < 0 ? t.length : nl + 1
      } else {
        break
      }
    }
  }

  peek (): string {
    return this.text[this.pos] ?? ''
  }

  eat (ch: string): boolean {
    if (this.text[this.pos] === ch) {
      this.pos++
      return true
    }
    return false
  }

  expect (ch: string, what: string): void {
    if (!this.eat(ch)) this.fail(`expected ${what}`)
  }

  /** Reads a label if one starts here (without consuming it when `peekOnly`). */
  label (peekOnly = false): Label | undefined {
    LABEL.lastIndex = this.pos
    const m = LABEL.exec(this.text)
    if (m === null) return undefined
    const raw = m[0]
    const escaped = raw.startsWith('%')
    const name = escaped ? raw.slice(1) : raw
    if (name === '' || !name.split('-').every(w => WORD.test(w))) {
      if (peekOnly) return undefined
      this.fail(`${JSON.stringify(raw)} is not a valid label`)
    }
    const at = this.pos
    if (!peekOnly) this.pos += raw.length
    return { name, escaped, at }
  }

  keyword (word: string): boolean {
    const l = this.label(true)
    if (l === undefined || l.escaped || l.name !== word) return false
    this.pos += word.length
    return true
  }

  value (t: Type): unknown {
    switch (t.kind) {
      case 'bool': {
        if (this.keyword('true')) return true
        if (this.keyword('false')) return false
        return this.fail('expected true or false')
      }
      case 's8': case 'u8': case 's16': case 'u16': case 's32': case 'u32': case 's64': case 'u64':
        return this.integer(t.kind)
      case 'f32': return this.float(true)
      case 'f64': return this.float(false)
      case 'char': return this.char()
      case 'string': return this.string()
      case 'error-context': return this.fail('error-context values have no WAVE form')
      case 'list': return this.list(t)
      case 'option': {
        if (this.keyword('none')) return isTaggedOption(t) ? { tag: 'none' } : undefined
        let val: unknown
        if (this.keyword('some')) {
          val = this.payload(t.some)
        } else {
          if (t.some.kind === 'option' || t.some.kind === 'result') this.fail('expected some(...) or none')
          val = this.value(t.some)
        }
        return isTaggedOption(t) ? { tag: 'some', val } : val
      }
      case 'result': {
        for (const tag of ['ok', 'err'] as const) {
          if (this.keyword(tag)) {
            const side = tag === 'ok' ? t.ok : t.err
            return { tag, val: side === null ? this.noPayload(tag) : this.payload(side) }
          }
        }
        if (t.ok === null || t.ok.kind === 'option' || t.ok.kind === 'result') return this.fail('expected ok or err')
        return { tag: 'ok', val: this.value(t.ok) }
      }
      case 'tuple': {
        const out: unknown[] = []
        this.expect('(', '( to open a tuple')
        this.items(')', () => {
          if (out.length >= t.elements.length) this.fail(`too many elements for a tuple of ${t.elements.length}`)
          out.push(this.value(t.elements[out.length]))
        })
        if (out.length !== t.elements.length) this.fail(`expected ${t.elements.length} tuple elements, got ${out.length}`, this.pos - 1)
        return out
      }
      case 'record': return this.record(t)
      case 'variant': {
        const l = this.caseLabel()
        const c = t.cases.find(k => k.name === l.name)
        if (c === undefined) this.fail(`${l.name} is not a case of ${t.name ?? 'the variant'} (${t.cases.map(k => k.name).join(', ')})`, l.at)
        if (c.type === null) {
          this.noPayload(c.name)
          return { tag: c.name }
        }
        return { tag: c.name, val: this.payload(c.type) }
      }
      case 'enum': {
        const l = this.caseLabel()
        if (!t.cases.includes(l.name)) this.fail(`${l.name} is not a case of ${t.name ?? 'the enum'} (${t.cases.join(', ')})`, l.at)
        return l.name
      }
      case 'flags': {
        const out: Record<string, boolean> = {}
        for (const f of t.flags) out[toJsName(f)] = false
        const seen = new Set<string>()
        this.expect('{', '{ to open flags')
        this.items('}', () => {
          const l = this.label() ?? this.fail('expected a flag name')
          if (!t.flags.includes(l.name)) this.fail(`${l.name} is not a flag of ${t.name ?? 'the flags'} (${t.flags.join(', ')})`, l.at)
          if (seen.has(l.name)) this.fail(`flag ${l.name} given twice`, l.at)
          seen.add(l.name)
          out[toJsName(l.name)] = true
        })
        return out
      }
      case 'own':
      case 'borrow': {
        const at = this.pos
        const s = this.string()
        if (!s.startsWith(HANDLE_PREFIX) || !/^(?:[0-9a-fA-F]{2})*$/.test(s.slice(HANDLE_PREFIX.length))) {
          this.fail(`a handle is written "${HANDLE_PREFIX}" followed by its bytes in hex`, at)
        }
        const hex = s.slice(HANDLE_PREFIX.length)
        const out = new Uint8Array(hex.length / 2)
        for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
        return out
      }
      case 'future': return t.element === null ? this.unit() : this.value(t.element)
      case 'stream': return this.sequence(t.element)
    }
  }

  private caseLabel (): Label {
    const l = this.label() ?? this.fail('expected a case name')
    if (!l.escaped && KEYWORDS.has(l.name)) this.fail(`case ${l.name} is a WAVE keyword: write it %${l.name}`, l.at)
    return l
  }

  private payload (t: Type): unknown {
    this.ws()
    this.expect('(', '( before the payload')
    this.ws()
    const v = this.value(t)
    this.ws()
    this.expect(')', ') after the payload')
    return v
  }

  private noPayload (name: string): undefined {
    const save = this.pos
    this.ws()
    if (this.peek() === '(') this.fail(`${name} has no payload`)
    this.pos = save
    return undefined
  }

  private unit (): undefined {
    this.expect('(', '()')
    this.ws()
    this.expect(')', '()')
    return undefined
  }

  /** A comma-separated sequence up to `close`, trailing comma allowed; the opener is already read. */
  private items (close: string, item: () => void): void {
    this.ws()
    if (this.eat(close)) return
    for (;;) {
      item()
      this.ws()
      if (this.eat(',')) {
        this.ws()
        if (this.eat(close)) return
        continue
      }
      if (this.eat(close)) return
      this.fail(`expected , or ${close}`)
    }
  }

  private sequence (element: Type | null): unknown {
    const out: unknown[] = []
    this.expect('[', '[ to open a list')
    this.items(']', () => { out.push(element === null ? this.unit() : this.value(element)) })
    const typed = element === null ? undefined : typedListFrom[element.kind]
    return typed === undefined ? out : typed(out)
  }

  private list (t: ListType): unknown {
    const at = this.pos
    const v = this.sequence(t.element)
    const n = (v as ArrayLike<unknown>).length
    if (t.length !== undefined && n !== t.length) this.fail(`expected a list of exactly ${t.length} elements, got ${n}`, at)
    return v
  }

  private record (t: RecordType): unknown {
    const values = new Map<string, unknown>()
    this.expect('{', '{ to open a record')
    this.ws()
    if (this.eat(':')) {
      this.ws()
      this.expect('}', '} after {:')
    } else {
      this.items('}', () => {
        const l = this.label() ?? this.fail('expected a field name')
        const f = t.fields.find(k => k.name === l.name)
        if (f === undefined) this.fail(`${l.name} is not a field of ${t.name ?? 'the record'} (${t.fields.map(k => k.name).join(', ')})`, l.at)
        if (values.has(l.name)) this.fail(`field ${l.name} given twice`, l.at)
        this.ws()
        this.expect(':', ': after the field name')
        this.ws()
        values.set(l.name, this.value(f.type))
      })
    }
    const out: Record<string, unknown> = {}
    for (const f of t.fields) {
      if (values.has(f.name)) {
        out[toJsName(f.name)] = values.get(f.name)
      } else if (f.type.kind === 'option') {
        out[toJsName(f.name)] = isTaggedOption(f.type) ? { tag: 'none' } : undefined
      } else {
        this.fail(`missing field ${f.name}`, this.pos - 1)
      }
    }
    return out
  }

  private integer (kind: string): unknown {
    const at = this.pos
    INTEGER.lastIndex = at
    const m = INTEGER.exec(this.text)
    if (m === null) return this.fail(`expected an integer (${kind})`)
    const n = BigInt(m[0])
    const [min, max] = INT_RANGES[kind]
    if (n < min || n > max) this.fail(`${m[0]} is out of range for ${kind}`, at)
    this.pos += m[0].length
    return kind === 's64' || kind === 'u64' ? n : Number(n)
  }

  private float (f32: boolean): number {
    if (this.keyword('nan')) return Number.NaN
    if (this.keyword('inf')) return Number.POSITIVE_INFINITY
    if (this.text.startsWith('-', this.pos)) {
      this.pos++
      if (this.keyword('inf')) return Number.NEGATIVE_INFINITY
      this.pos--
    }
    const at = this.pos
    NUMBER.lastIndex = at
    const m = NUMBER.exec(this.text)
    if (m === null) return this.fail(`expected a number (${f32 ? 'f32' : 'f64'})`)
    this.pos += m[0].length
    const x = f32 ? Math.fround(Number(m[0])) : Number(m[0])
    if (!Number.isFinite(x)) this.fail(`${m[0]} is out of range for ${f32 ? 'f32' : 'f64'}`, at)
    return x
  }

  private char (): string {
    this.expect("'", "' to open a char")
    const at = this.pos
    if (this.peek() === "'") this.fail('empty char')
    const ch = this.charChar("'")
    if (!this.eat("'")) this.fail('a char holds exactly one character', at)
    return ch
  }

  /** One character of a char or string literal: a scalar value or an escape. */
  private charChar (quote: string): string {
    const t = this.text
    const at = this.pos
    const cp = t.codePointAt(at)
    if (cp === undefined) return this.fail('unterminated literal')
    if (cp === 0x5c) {
      const e = t[at + 1]
      this.pos += 2
      switch (e) {
        case "'": return "'"
        case '"': return '"'
        case '\\': return '\\'
        case 't': return '\t'
        case 'n': return '\n'
        case 'r': return '\r'
        case 'u': {
          const m = /^\{([0-9a-fA-F]{1,8})\}/.exec(t.slice(this.pos, this.pos + 10))
          if (m === null) this.fail('expected \\u{hex}', at)
          const v = parseInt(m[1], 16)
          if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) this.fail(`\\u{${m[1]}} is not a Unicode scalar value`, at)
          this.pos += m[0].length
          return String.fromCodePoint(v)
        }
        default: return this.fail(`unknown escape \\${e ?? ''}`, at)
      }
    }
    if (cp === 0x0a) this.fail('newline inside a literal (write \\n)', at)
    if (cp >= 0xd800 && cp <= 0xdfff) this.fail('lone surrogate in the text', at)
    if (String.fromCodePoint(cp) === quote) this.fail('unexpected quote', at)
    this.pos += cp > 0xffff ? 2 : 1
    return String.fromCodePoint(cp)
  }

  private string (): string {
    if (this.text.startsWith('"""', this.pos)) return this.multiline()
    this.expect('"', 'a string')
    let out = ''
    while (!this.eat('"')) {
      if (this.pos >= this.text.length) this.fail('unterminated string')
      out += this.charChar('"')
    }
    return out
  }

  private multiline (): string {
    const t = this.text
    const open = this.pos
    this.pos += 3
    if (t.startsWith('\r\n', this.pos)) this.pos += 2
    else if (t[this.pos] === '\n') this.pos += 1
    else this.fail('""" must be followed by a line break')
    const close = t.indexOf('"""', this.pos)
    if (close < 0) this.fail('unterminated multiline string', open)
    // the closing delimiter sits on its own line after spaces; those spaces are the indent
    const lineStart = t.lastIndexOf('\n', close - 1) + 1
    const indentText = t.slice(lineStart, close)
    if (lineStart < this.pos || !/^ *$/.test(indentText)) this.fail('""" must close on its own line (or a """ inside needs \\")', close)
    const indent = indentText.length
    const bodyEnd = lineStart > 0 && t[lineStart - 2] === '\r' ? lineStart - 2 : lineStart - 1
    const lines: string[] = []
    let lineAt = this.pos
    while (lineAt <= bodyEnd) {
      let nl = t.indexOf('\n', lineAt)
      if (nl < 0 || nl > bodyEnd) nl = bodyEnd
      let lineEnd = nl
      if (lineEnd > lineAt && t[lineEnd - 1] === '\r') lineEnd--
      const raw = t.slice(lineAt, lineEnd)
      if (raw.length > 0 && !raw.startsWith(' '.repeat(indent))) this.fail(`line is indented less than the closing """ (${indent} spaces)`, lineAt)
      this.pos = lineAt + Math.min(indent, raw.length)
      let s = ''
      while (this.pos < lineEnd) {
        if (t[this.pos] === '"') {
          s += '"'
          this.pos++
        } else {
          s += this.charChar('\u0000')
        }
      }
      lines.push(s)
      lineAt = nl + 1
      if (nl === bodyEnd) break
    }
    this.pos = close + 3
    return lines.join('\n')
  }
}
