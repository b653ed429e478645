// The compact form in which a node's advert says which app replicas it runs (reserved label `wasmesh.apps`), and its parser.

/** Why a replica a node was given does not run: stable words, printed by `app status`. */
export type ReplicaProblem = 'starting' | 'image-not-found' | 'load-failed' | 'start-failed' | 'address-in-use'

export interface ReplicaEntry {
  readonly app: string
  readonly component: string
  /** The app version's id (`SignedAppRecord.id`, 16 hex). */
  readonly id: string
  /** Replicas placed here and running. */
  readonly running: number
  readonly problem?: ReplicaProblem
}

/** The longest label value the status takes; entries past it are left out (an app of many components on one node). */
export const maxAppStatusChars = 4096

const problems = new Set<string>(['starting', 'image-not-found', 'load-failed', 'start-failed', 'address-in-use'])
const ENTRY = /^([A-Za-z0-9][A-Za-z0-9_-]{0,30})\/([A-Za-z0-9][A-Za-z0-9_-]{0,30})@([0-9a-f]{16})(?:=(\d{1,6})|!([a-z-]{1,32}))$/

/** `app/component@id=N` for running replicas, `app/component@id!problem` for the others, space-separated and sorted. */
export function encodeStatus (entries: readonly ReplicaEntry[]): string {
  const parts = entries.map(e => `${e.app}/${e.component}@${e.id}${e.problem === undefined ? `=${e.running}` : `!${e.problem}`}`).sort()
  let out = ''
  for (const p of parts) {
    if (out.length + p.length + 1 > maxAppStatusChars) break
    out = out === '' ? p : `${out} ${p}`
  }
  return out
}

/** Reads a peer's status; what does not parse is skipped (a peer's advert is never a reason to fail). */
export function decodeStatus (text: string | undefined): ReplicaEntry[] {
  if (text === undefined || text === '') return []
  const out: ReplicaEntry[] = []
  for (const part of text.slice(0, maxAppStatusChars).split(' ')) {
    const m = ENTRY.exec(part)
    if (m === null) continue
    if (m[5] !== undefined && !problems.has(m[5])) continue
    out.push({ app: m[1], component: m[2], id: m[3], running: m[4] === undefined ? 0 : Number(m[4]), ...(m[5] !== undefined ? { problem: m[5] as ReplicaProblem } : {}) })
  }
  return out
}
