// The node's log: levelled lines, readable on a terminal and JSON lines elsewhere.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

export interface Logger {
  debug (message: string): void
  info (message: string): void
  warn (message: string): void
  error (message: string): void
  /** A logger whose lines say which part of the node wrote them. */
  child (name: string): Logger
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

export interface LoggerInit {
  readonly level?: LogLevel
  /** `text`: `12:00:01.123 INFO  [adverts] message`; `json`: one object per line. */
  readonly format?: 'text' | 'json'
  readonly write?: (line: string) => void
  /** Also handed every line written, unformatted (the console's log tail). */
  readonly tap?: (entry: LogEntry) => void
}

/** One line of the log, before formatting. */
export interface LogEntry {
  readonly time: number
  readonly level: Exclude<LogLevel, 'silent'>
  readonly name?: string
  readonly message: string
}

export function createLogger (init: LoggerInit = {}, name?: string): Logger {
  const min = rank[init.level ?? 'info']
  const write = init.write ?? ((line: string) => { process.stderr.write(line + '\n') })
  const format = init.format ?? (process.stderr.isTTY ? 'text' : 'json')
  const emit = (level: Exclude<LogLevel, 'silent'>, message: string): void => {
    if (rank[level] < min) return
    const time = new Date()
    init.tap?.({ time: time.getTime(), level, ...(name !== undefined ? { name } : {}), message })
    if (format === 'json') {
      write(JSON.stringify({ time: time.toISOString(), level, ...(name !== undefined ? { name } : {}), message }))
    } else {
      write(`${time.toISOString().slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${name !== undefined ? `[${name}] ` : ''}${message}`)
    }
  }
  return {
    debug: m => { emit('debug', m) },
    info: m => { emit('info', m) },
    warn: m => { emit('warn', m) },
    error: m => { emit('error', m) },
    child: child => createLogger(init, name === undefined ? child : `${name}:${child}`)
  }
}

/** A logger that drops everything (tests, simulations). */
export const silentLogger: Logger = createLogger({ level: 'silent', write: () => {} })
