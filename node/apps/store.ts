// Every app version this node knows (deploys and undeploy tombstones, newest last), bounded, persisted in the data directory.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { newer } from './record.ts'
import type { SignedAppRecord } from './record.ts'

export interface StoreLimits {
  /** Apps held (undeployed ones count until their tombstone is the oldest to go). */
  readonly maxApps: number
  /** Versions kept per app for `app history`; the oldest go first. */
  readonly maxAppHistory: number
}

export const defaultStoreLimits: StoreLimits = Object.freeze({ maxApps: 256, maxAppHistory: 16 })

/** The file under the data directory. */
export const appsFile = 'apps.json'

export type PutResult = 'new' | 'stale' | 'full'

export interface AppStore {
  /** Takes a verified record unless one at least as new is held (replays and older versions are `stale`). */
  put (r: SignedAppRecord): PutResult
  /** The newest record of each app (tombstones included). */
  current (): SignedAppRecord[]
  latest (app: string): SignedAppRecord | undefined
  history (app: string): SignedAppRecord[]
  /** Every token held, for a sync reply. */
  tokens (): string[]
  /** Writes the store to `<dataDir>/apps.json` (a no-op without a data directory). */
  save (): Promise<void>
  /** The tokens saved by a previous run, to verify and `put` again. */
  load (): Promise<string[]>
}

export function createAppStore (dataDir: string | undefined, limits: StoreLimits): AppStore {
  const apps = new Map<string, SignedAppRecord[]>()
  let saving: Promise<void> = Promise.resolve()

  return {
    put (r) {
      const list = apps.get(r.record.app)
      const latest = list?.[list.length - 1]
      if (!newer(r, latest)) return 'stale'
      if (list === undefined) {
        if (apps.size >= limits.maxApps) {
          // An undeployed app is forgotten to make room; a live one never is.
          const gone = [...apps].find(([, l]) => l[l.length - 1].record.kind === 'undeploy')
          if (gone === undefined) return 'full'
          apps.delete(gone[0])
        }
        apps.set(r.record.app, [r])
        return 'new'
      }
      list.push(r)
      if (list.length > limits.maxAppHistory) list.splice(0, list.length - limits.maxAppHistory)
      return 'new'
    },
    current: () => [...apps.values()].map(l => l[l.length - 1]),
    latest (app) {
      const l = apps.get(app)
      return l?.[l.length - 1]
    },
    history: app => [...(apps.get(app) ?? [])],
    tokens: () => [...apps.values()].flatMap(l => l.map(r => r.token)),
    async save () {
      if (dataDir === undefined) return
      const body = JSON.stringify({ version: 1, records: [...apps.values()].flatMap(l => l.map(r => r.token)) })
      // One write at a time, each to a temporary file renamed over the old: a crash leaves one whole file.
      saving = saving.then(async () => {
        await mkdir(dataDir, { recursive: true })
        const tmp = join(dataDir, `${appsFile}.tmp`)
        await writeFile(tmp, body, { mode: 0o600 })
        await rename(tmp, join(dataDir, appsFile))
      }, () => {})
      await saving
    },
    async load () {
      if (dataDir === undefined) return []
      let text: string
      try {
        text = await readFile(join(dataDir, appsFile), 'utf8')
      } catch {
        return []
      }
      try {
        const o = JSON.parse(text) as { records?: unknown }
        return Array.isArray(o.records) ? o.records.filter((t): t is string => typeof t === 'string') : []
      } catch {
        return []
      }
    }
  }
}
