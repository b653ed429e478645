// WIT tokenizer: turns one source text into tokens with offsets, gathering `///` and `/** */` doc comments for the parser.

import { WitSyntaxError } from './errors.ts'
import type { WitLocation } from './errors.ts'

export const keywords = [
  'use', 'type', 'func', 'u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'f32', 'f64',
  'char', 'resource', 'own', 'borrow', 'record', 'flags', 'variant', 'enum', 'bool', 'string',
  'option', 'result', 'future', 'stream', 'error-context', 'list', 'map', '_', 'as', 'from',
  'static', 'interface', 'tuple', 'world', 'import', 'export', 'package', 'constructor',
  'include', 'with', 'async'
] as const

export type Keyword = typeof keywords[number]

export type Punct = '=' | ',' | ':' | '.' | ';' | '(' | ')' | '{' | '}' | '<' | '>' | '->' | '*' | '@' | '/' | '-' | '+'

export type TokenKind = Punct | Keyword | 'id' | 'explicit-id' | 'integer' | 'eof'

export interface Token {
  readonly kind: TokenKind
  /** Offset of the first character in the source text. */
  readonly start: number
  /** Offset one past the last character. */
  readonly end: number
  /** Doc comments (`///`, `/** *\/`) met between the previous token and this one, already stripped. */
  readonly docs?: string
}

const keywordSet: ReadonlySet<string> = new Set(keywords)

const singlePunct: Record<string, Punct> = {
  '=': '=', ',': ',', ':': ':', '.': '.', ';': ';', '(': '(', ')': ')', '{': '{', '}': '}',
  '<': '<', '>': '>', '*': '*', '@': '@', '+': '+'
}

const xidStart = /\p{XID_Start}/u
const xidContinue = /\p{XID_Continue}/u

/** One source file: its name, its text and a line table to turn offsets into line and column. */
export class Source {
  readonly file: string
  readonly text: string
  private readonly lineStarts: number[]

  constructor (file: string, text: string) {
    this.file = file
    this.text = text
    this.lineStarts = [0]
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1)
    }
  }

  /** 1-based line and column (in UTF-16 code units) of an offset. */
  locate (offset: number): WitLocation {
    const starts = this.lineStarts
    let lo = 0
    let hi = starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (starts[mid] <= offset) lo = mid
      else hi = mid - 1
    }
    return { file: this.file, line: lo + 1, column: offset - starts[lo] + 1 }
  }

  syntaxError (offset: number, reason: string): WitSyntaxError {
    return new WitSyntaxError(reason, this.locate(offset))
  }
}

function isAsciiIdStart (c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95
}

function isAsciiIdContinue (c: number): boolean {
  return isAsciiIdStart(c) || (c >= 48 && c <= 57) || c === 45
}

/** Reads one code point at `i` (surrogate pairs joined). */
function codePointAt (text: string, i: number): string {
  const cp = text.codePointAt(i) ?? 0
  return String.fromCodePoint(cp)
}

function isForbidden (c: number): boolean {
  if (c === 9 || c === 10 || c === 13) return false
  if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true
  // Bidirectional overrides can make source read differently than it parses (CVE-2021-42574).
  if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) return true
  return false
}

function docFromLine (comment: string): string {
  const body = comment.slice(3)
  return body.startsWith(' ') ? body.slice(1) : body
}

function docFromBlock (comment: string): string {
  const lines = comment.slice(3, -2).split('\n').map(l => {
    let t = l.trim()
    if (t.startsWith('*')) t = t.slice(1)
    if (t.startsWith(' ')) t = t.slice(1)
    return t.trimEnd()
  })
  while (lines.length > 0 && lines[0] === '') lines.shift()
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  return lines.join('\n')
}

/** Tokenizes a whole source; the last token is always `eof`. Throws WitSyntaxError on a character WIT does not allow. */
export function tokenize (src: Source): Token[] {
  const text = src.text
  const n = text.length
  const tokens: Token[] = []
  let docs: string[] = []
  let i = 0
  if (text.charCodeAt(0) === 0xfeff) i = 1

  const push = (kind: TokenKind, start: number, end: number): void => {
    if (docs.length > 0) {
      tokens.push({ kind, start, end, docs: docs.join('\n') })
      docs = []
    } else {
      tokens.push({ kind, start, end })
    }
  }

  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === 32 || c === 9 || c === 10 || c === 13) { i++; continue }
    if (isForbidden(c)) {
      throw src.syntaxError(i, `character U+${c.toString(16).padStart(4, '0').toUpperCase()} is not allowed in WIT`)
    }
    const start = i
    if (c === 47) { // '/'
      const d = text.charCodeAt(i + 1)
      if (d === 47) {
        let j = i + 2
        while (j < n && text.charCodeAt(j) !== 10) {
          if (isForbidden(text.charCodeAt(j)) && text.charCodeAt(j) !== 13) {
            throw src.syntaxError(j, `character U+${text.charCodeAt(j).toString(16).padStart(4, '0').toUpperCase()} is not allowed in WIT`)
          }
          j++
        }
        const comment = text.slice(i, j).replace(/\r$/, '')
        if (comment.startsWith('///') && !comment.startsWith('////')) docs.push(docFromLine(comment))
        i = j
        continue
      }
      if (d === 42) { // block comment, nested
        let depth = 1
        let j = i + 2
        while (depth > 0) {
          if (j >= n) throw src.syntaxError(start, 'unterminated block comment: expected `*/`')
          const e = text.charCodeAt(j)
          if (e === 47 && text.charCodeAt(j + 1) === 42) { depth++; j += 2 } else if (e === 42 && text.charCodeAt(j + 1) === 47) { depth--; j += 2 } else {
            if (isForbidden(e)) throw src.syntaxError(j, `character U+${e.toString(16).padStart(4, '0').toUpperCase()} is not allowed in WIT`)
            j++
          }
        }
        const comment = text.slice(i, j)
        if (comment.startsWith('/**') && !comment.startsWith('/***') && comment.length > 4) docs.push(docFromBlock(comment))
        i = j
        continue
      }
      push('/', start, i + 1)
      i++
      continue
    }
    if (c === 45) { // '-'
      if (text.charCodeAt(i + 1) === 62) { push('->', start, i + 2); i += 2 } else { push('-', start, i + 1); i++ }
      continue
    }
    const p = singlePunct[text[i]]
    if (p !== undefined) { push(p, start, i + 1); i++; continue }
    if (c >= 48 && c <= 57) {
      let j = i + 1
      while (j < n) { const e = text.charCodeAt(j); if (e < 48 || e > 57) break; j++ }
      push('integer', start, j)
      i = j
      continue
    }
    const explicit = c === 37 // '%'
    let j = explicit ? i + 1 : i
    const first = j < n ? text.charCodeAt(j) : -1
    let startsId = false
    if (first >= 0 && first < 128) startsId = isAsciiIdStart(first)
    else if (first >= 128) startsId = xidStart.test(codePointAt(text, j))
    if (!startsId) {
      if (explicit) throw src.syntaxError(start, 'expected an identifier after `%`')
      throw src.syntaxError(start, `unexpected character \`${codePointAt(text, i)}\``)
    }
    while (j < n) {
      const e = text.charCodeAt(j)
      if (e < 128) {
        if (!isAsciiIdContinue(e)) break
        j++
      } else {
        const ch = codePointAt(text, j)
        if (!xidContinue.test(ch)) break
        j += ch.length
      }
    }
    if (explicit) {
      push('explicit-id', start, j)
    } else {
      const word = text.slice(start, j)
      push(keywordSet.has(word) ? word as Keyword : 'id', start, j)
    }
    i = j
  }
  push('eof', n, n)
  return tokens
}

/** How a token is named in "expected X, found Y" messages. */
export function describeToken (src: Source, tok: Token): string {
  switch (tok.kind) {
    case 'eof': return 'end of file'
    case 'id': return `identifier \`${src.text.slice(tok.start, tok.end)}\``
    case 'explicit-id': return `identifier \`${src.text.slice(tok.start, tok.end)}\``
    case 'integer': return `integer \`${src.text.slice(tok.start, tok.end)}\``
    default:
      return keywordSet.has(tok.kind) ? `keyword \`${tok.kind}\`` : `\`${tok.kind}\``
  }
}

/**
 * Checks a WIT identifier: `-`-separated words, the first starting with a letter, each word all
 * lowercase or all uppercase ASCII letters and digits (acronyms like `HTTP` are allowed).
 * Returns the reason it is invalid, or undefined.
 */
export function identifierProblem (name: string): string | undefined {
  if (name === '') return 'identifiers must not be empty'
  const parts = name.split('-')
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p]
    if (part === '') return `identifier \`${name}\` has an empty word (leading, trailing or doubled \`-\`)`
    let upper: boolean | undefined
    for (let k = 0; k < part.length; k++) {
      const c = part.charCodeAt(k)
      const digit = c >= 48 && c <= 57
      const lower = c >= 97 && c <= 122
      const up = c >= 65 && c <= 90
      if (k === 0 && p === 0 && !lower && !up) return `identifier \`${name}\` must start with a letter`
      if (digit) continue
      if (!lower && !up) return `identifier \`${name}\` may contain only ASCII letters, digits and \`-\``
      if (upper === undefined) upper = up
      else if (upper !== up) return `identifier \`${name}\` mixes upper and lower case within the word \`${part}\``
    }
  }
  return undefined
}
