// wasi:logging/logging: a component's log lines into the node's logger, named, levelled, bounded in size and rate.
import { createTokenBucket } from '../rate.ts'

/** Where host log lines go: the node's logger (its level decides what is written). */
export interface HostLogger {
  debug (message: string): void
  info (message: string): void
  warn (message: string): void
  error (message: string): void
}

export interface LoggingInit {
  /** The component's name: every line starts with `[name]`. */
  readonly name: string
  readonly logger: HostLogger
  readonly maxLogMessageBytes: number
  readonly maxLogLinesPerSecond: number
  /** Values never to be written (secrets revealed to the component): replaced with `[redacted]`. */
  readonly redacted: () => Iterable<string>
  /** The clock of the rate limit, ms; `performance.now` unless a test gives its own. */
  readonly now?: () => number
}

export interface ComponentLogging {
  log (level: unknown, context: unknown, message: unknown): void
}

const levels: Readonly<Record<string, keyof HostLogger>> = {
  trace: 'debug', debug: 'debug', info: 'info', warn: 'warn', error: 'error', critical: 'error'
}

const encoder = new TextEncoder()

/** Cuts `text` to at most `max` UTF-8 bytes on a character boundary, saying how much of the `total` bytes sent was cut. */
function bounded (text: string, max: number, total: number): string {
  const bytes = encoder.encode(text)
  if (bytes.byteLength <= max && total <= max) return text
  let end = Math.min(max, bytes.byteLength)
  // never split a UTF-8 sequence: back up to a lead byte
  while (end > 0 && end < bytes.byteLength && (bytes[end] & 0xc0) === 0x80) end--
  return `${new TextDecoder().decode(bytes.subarray(0, end))}... (${Math.max(0, total - end)} more bytes cut, maxLogMessageBytes ${max})`
}

/** A guest's line cannot forge lines of its own or move the terminal: control characters are written escaped. */
function printable (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, c => c === '\t' ? ' ' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Replaces every one of `values` in `text` with `[redacted]`, longest first so that one inside another is hidden whole. */
export function redact (text: string, values: Iterable<string>): string {
  let out = text
  for (const v of [...values].filter(s => s !== '').sort((a, b) => b.length - a.length)) out = out.split(v).join('[redacted]')
  return out
}

/** The logging host of one component, shared by its instances so that the rate is the component's. */
export function createLogging (init: LoggingInit): ComponentLogging {
  const rate = init.maxLogLinesPerSecond
  const bucket = createTokenBucket(rate, init.now)
  const take = (): boolean => bucket.take()
  let dropped = 0

  return {
    log (level, context, message) {
      const method = typeof level === 'string' ? levels[level] : undefined
      if (method === undefined || typeof context !== 'string' || typeof message !== 'string') return
      if (!take()) { dropped++; return }
      if (dropped > 0) {
        init.logger.warn(`[${init.name}] ${dropped} log lines dropped (maxLogLinesPerSecond ${rate})`)
        dropped = 0
        if (!take()) { dropped++; return }
      }
      const secrets = [...init.redacted()]
      const longest = secrets.reduce((n, v) => Math.max(n, v.length), 0)
      const whole = context === '' ? message : `${context}: ${message}`
      // A UTF-16 unit is at least one UTF-8 byte: this keeps everything the byte bound can keep, plus room for a
      // secret that crosses it (redacted whole, never cut in half), and bounds the work of redacting a huge line.
      const text = whole.length > init.maxLogMessageBytes + longest ? whole.slice(0, init.maxLogMessageBytes + longest) : whole
      const redactedText = redact(text, secrets)
      init.logger[method](`[${init.name}] ${printable(bounded(redactedText, init.maxLogMessageBytes, encoder.encode(text === whole ? redactedText : whole).byteLength))}`)
    }
  }
}
