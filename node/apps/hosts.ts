// Which peers placement counts as hosts: those seen long enough, longer for each time they left and came back (so a flapping node cannot pull replicas to and fro).

import type { Host } from './placement.ts'

export interface HostViewLimits {
  /** A peer first seen this long ago counts (doubled per flap, at most 32x). */
  readonly appJoinSettleMs: number
  /** Leaving and coming back within this long is a flap. */
  readonly appFlapWindowMs: number
}

/** Peers whose flaps are remembered; past it the oldest record goes. */
const maxFlapRecords = 10_000
/** The wait doubles per flap up to 2^this. */
const maxFlapDoublings = 5

export interface HostView {
  /** The hosts placement counts at `now`, given the live peers (`self` counts from `selfSince`). */
  hosts (peers: readonly Host[], now: number, self: string, selfSince: number): Host[]
}

export function createHostView (limits: HostViewLimits): HostView {
  const firstSeen = new Map<string, number>()
  const flaps = new Map<string, { count: number, lastGone: number }>()

  return {
    hosts (peers, now, self, selfSince) {
      const present = new Set(peers.map(p => p.peer))
      for (const [peer] of firstSeen) {
        if (present.has(peer)) continue
        firstSeen.delete(peer)
        const f = flaps.get(peer)
        flaps.delete(peer)
        flaps.set(peer, { count: f !== undefined && now - f.lastGone < limits.appFlapWindowMs ? f.count + 1 : 1, lastGone: now })
        if (flaps.size > maxFlapRecords) flaps.delete(flaps.keys().next().value as string)
      }
      return peers.filter(p => {
        let seen = p.peer === self ? selfSince : firstSeen.get(p.peer)
        if (seen === undefined) {
          // Peers learned while this node itself settles (its first sync) were in the mesh before it: they count
          // from its start, with it. Otherwise a node just started would count only itself for a while and take
          // every replica.
          seen = now < selfSince + limits.appJoinSettleMs ? selfSince : now
          firstSeen.set(p.peer, seen)
        }
        const f = flaps.get(p.peer)
        // The first departure is no flap (a node restarts); each return after that within the window doubles the wait.
        const doublings = f === undefined || now - f.lastGone >= limits.appFlapWindowMs ? 0 : Math.min(maxFlapDoublings, f.count - 1)
        return now - seen >= limits.appJoinSettleMs * 2 ** doublings
      })
    }
  }
}
