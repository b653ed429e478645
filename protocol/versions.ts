// Interface ids and their versions: the id grammar, the one way to drop a version, and which export version serves an import.

const WORD = '(?:[a-z][a-z0-9]*|[A-Z][A-Z0-9]*)'
const ID = `${WORD}(?:-${WORD})*`
const NUM = '(?:0|[1-9][0-9]*)'
const PRE_PART = '(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)'
const SEMVER = `${NUM}\\.${NUM}\\.${NUM}(?:-${PRE_PART}(?:\\.${PRE_PART})*)?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?`
const INTERFACE_ID = new RegExp(`^(${ID}):(${ID})/(${ID})(?:@(${SEMVER}))?$`)

/** The parts of `ns:pkg/iface@version`. */
export interface InterfaceId {
  readonly namespace: string
  readonly package: string
  readonly name: string
  /** The semver, when there is one. */
  readonly version?: string
  /** `ns:pkg/iface`, the id without its version. */
  readonly unversioned: string
}

/** Parses `ns:pkg/iface@semver` (or `ns:pkg/iface`); undefined when it is not one. */
export function parseInterfaceId (id: string): InterfaceId | undefined {
  const m = INTERFACE_ID.exec(id)
  if (m === null) return undefined
  const unversioned = `${m[1]}:${m[2]}/${m[3]}`
  return m[4] === undefined
    ? { namespace: m[1], package: m[2], name: m[3], unversioned }
    : { namespace: m[1], package: m[2], name: m[3], version: m[4], unversioned }
}

/**
 * `ns:pkg/iface@1.2.3` -> `ns:pkg/iface` (and `ns:pkg@1.0.0` -> `ns:pkg`): the key under which every version
 * of an interface, package or world is found. An id without a version comes back unchanged. A version
 * never holds an `@`, so the last one starts it.
 */
export function unversioned (id: string): string {
  const at = id.lastIndexOf('@')
  return at < 0 ? id : id.slice(0, at)
}

/** The version of `ns:pkg/iface@1.2.3` (`1.2.3`), or undefined for an id without one. */
export function versionOf (id: string): string | undefined {
  const at = id.lastIndexOf('@')
  return at < 0 ? undefined : id.slice(at + 1)
}

/**
 * Parsed interface ids: every call matches its interface against the exports (registry, node), and
 * the id grammar is a long regular expression. The ids a node sees are few (its exports, its peers'
 * and what it calls), so the cache is small; past `maxParsedIds` it starts over.
 */
const parsed = new Map<string, InterfaceId | null>()
const maxParsedIds = 4096

function parseId (id: string): InterfaceId | undefined {
  let p = parsed.get(id)
  if (p === undefined) {
    if (parsed.size >= maxParsedIds) parsed.clear()
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
  if (w === undefined || o === undefined) return false
  return w.unversioned === o.unversioned && compatible(w.version, o.version)
}
