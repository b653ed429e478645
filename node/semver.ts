// Which exported interface versions may serve an import, by the component model's semver rules.

import { parseInterfaceId } from '../protocol/advert.ts'
import type { InterfaceId } from '../protocol/advert.ts'

/**
 * Parsed interface ids: every call matches its interface against the exports (registry, node), and
 * the id grammar is a long regular expression. The ids a node sees are few (its exports, its peers'
 * and what it calls), so the cache is small; past `MAX_PARSED` it starts over.
 */
const parsed = new Map<string, InterfaceId | null>()
const MAX_PARSED = 4096

function parseId (id: string): InterfaceId | undefined {
  let p = parsed.get(id)
  if (p === undefined) {
    if (parsed.size >= MAX_PARSED) parsed.clear()
    p = parseInterfaceId(id) ?? null
    parsed.set(id, p)
  }
  return p ?? undefined
}

interface Version {
  readonly major: number
  readonly minor: number
  readonly patch: number
  /** The pre-release part without its `-`, '' for a release. Build metadata is dropped: it never affects matching. */
  readonly pre: string
}

const VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/

function parseVersion (v: string): Version | undefined {
  const m = VERSION.exec(v)
  if (m === null) return undefined
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ?? '' }
}

/**
 * Whether an export of version `offered` may serve an import of version `wanted`, as the component
 * model links them: the same major version (under 0.x the same minor; 0.0.x only itself) and the
 * export at least the import. An unversioned import takes any version; a versioned import never takes
 * an unversioned export. Pre-releases match only the identical version.
 */
export function compatible (wanted: string | undefined, offered: string | undefined): boolean {
  if (wanted === undefined) return true
  if (offered === undefined) return false
  if (wanted === offered) return true
  const w = parseVersion(wanted)
  const o = parseVersion(offered)
  if (w === undefined || o === undefined) return false
  if (w.pre !== '' || o.pre !== '') {
    return w.pre === o.pre && w.major === o.major && w.minor === o.minor && w.patch === o.patch
  }
  if (w.major !== o.major) return false
  if (w.major === 0) {
    if (w.minor !== o.minor) return false
    if (w.minor === 0) return w.patch === o.patch
    return o.patch >= w.patch
  }
  if (o.minor !== w.minor) return o.minor > w.minor
  return o.patch >= w.patch
}

/** Whether the export `offeredId` (`ns:pkg/iface@ver`) may serve the import `wantedId` (version optional). */
export function interfaceCompatible (wantedId: string, offeredId: string): boolean {
  if (wantedId === offeredId) return true
  const w = parseId(wantedId)
  const o = parseId(offeredId)
  if (w === undefined || o === undefined) return wantedId === offeredId
  return w.unversioned === o.unversioned && compatible(w.version, o.version)
}

/** `ns:pkg/iface@1.2.3` -> `ns:pkg/iface`: the key under which every version of an interface is found. */
export function unversionedId (id: string): string {
  const p = parseId(id)
  if (p !== undefined) return p.unversioned
  const at = id.lastIndexOf('@')
  return at < 0 ? id : id.slice(0, at)
}
