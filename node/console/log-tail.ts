// The last lines of the node's log, kept in a ring for the console; listeners see each new line.

import type { LogEntry } from '../logger.ts'

export interface LogTail {
  /** Pass as the logger's `tap`. */
  readonly tap: (entry: LogEntry) => void
  /** The lines kept, oldest first. */
  lines (): LogEntry[]
  /** Called for every line from now on; returns the unsubscribe. */
  onLine (listener: (entry: LogEntry) => void): () => void
}

/**
 * Keeps at most `maxLines` lines, each cut to `maxLineChars` characters: a component that logs without end (its
 * wasi:logging is rate-limited, but native code is not) cannot grow the tail.
 */
export function createLogTail (maxLines = 200, maxLineChars = 2_000): LogTail {
  const ring: LogEntry[] = []
  let next = 0
  const listeners = new Set<(entry: LogEntry) => void>()
  return {
    tap (entry) {
      const kept = entry.message.length > maxLineChars ? { ...entry, message: entry.message.slice(0, maxLineChars) + '…' } : entry
      if (ring.length < maxLines) ring.push(kept)
      else ring[next] = kept
      next = (next + 1) % maxLines
      for (const l of listeners) l(kept)
    },
    lines () {
      return ring.length < maxLines ? [...ring] : [...ring.slice(next), ...ring.slice(0, next)]
    },
    onLine (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  }
}
