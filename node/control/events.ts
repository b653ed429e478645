// The control events hub: fans events out to watchers, each with a bounded queue; a watcher that falls behind is dropped.

import { ControlError } from './errors.ts'

export type ControlEventKind =
  | 'component-scaled' | 'component-failed'
  | 'provider-started' | 'provider-stopped' | 'provider-failed'
  | 'link-set' | 'link-deleted'
  | 'config-set' | 'config-deleted'
  | 'labels-changed'
  | 'host-started' | 'host-stopping'

/** An event as the WIT `event` record carries it (jco's conventions). */
export interface ControlEvent {
  readonly kind: ControlEventKind
  readonly peer: string
  readonly atMs: bigint
  readonly subject: string
  readonly detail: ReadonlyArray<[string, string]>
}

export interface EventHubStats {
  readonly watchers: number
  /** Watchers dropped for falling `maxEventQueue` events behind. */
  readonly dropped: number
}

export interface EventHub {
  emit (kind: ControlEventKind, subject: string, detail?: Readonly<Record<string, string>>): void
  /** Chunks of events from now on; refused past `maxEventWatchers`. Ends when the watcher is dropped or the hub closes. */
  watch (): AsyncIterable<ControlEvent[]>
  /** Ends every watcher's stream (the node stops). */
  close (): void
  stats (): EventHubStats
}

interface Watcher {
  queue: ControlEvent[]
  wake?: () => void
  ended: boolean
}

export function createEventHub (opts: { peer: string, maxEventWatchers: number, maxEventQueue: number }): EventHub {
  const watchers = new Set<Watcher>()
  let dropped = 0

  function end (w: Watcher): void {
    w.ended = true
    watchers.delete(w)
    w.wake?.()
  }

  return {
    emit (kind, subject, detail = {}) {
      const event: ControlEvent = { kind, peer: opts.peer, atMs: BigInt(Date.now()), subject, detail: Object.entries(detail) }
      for (const w of watchers) {
        // A watcher that does not keep up is dropped, not buffered for: its queue never grows past the limit.
        if (w.queue.length >= opts.maxEventQueue) {
          dropped++
          w.queue.length = 0
          end(w)
          continue
        }
        w.queue.push(event)
        w.wake?.()
      }
    },

    watch () {
      if (watchers.size >= opts.maxEventWatchers) throw new ControlError('limit-exceeded', `this node has ${watchers.size} event watchers, its maxEventWatchers: stop one, or raise the limit`)
      const w: Watcher = { queue: [], ended: false }
      watchers.add(w)
      return {
        [Symbol.asyncIterator] (): AsyncIterator<ControlEvent[]> {
          return {
            async next () {
              while (w.queue.length === 0 && !w.ended) {
                await new Promise<void>(resolve => { w.wake = resolve })
                w.wake = undefined
              }
              if (w.queue.length === 0) return { done: true, value: undefined }
              const chunk = w.queue
              w.queue = []
              return { done: false, value: chunk }
            },
            async return () {
              end(w)
              return { done: true, value: undefined }
            }
          }
        }
      }
    },

    close () {
      for (const w of [...watchers]) end(w)
    },

    stats: () => ({ watchers: watchers.size, dropped })
  }
}
