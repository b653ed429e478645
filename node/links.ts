// Links: bind a component's imports to a subset of their servers, by label selector or peer id, as router call options.

import { peerIdFromString } from '@libp2p/peer-id'
import { unversioned, versionOf } from '../protocol/versions.ts'
import { NodeError } from './errors.ts'
import { RuntimeError } from './runtime/errors.ts'

export interface Link {
  /** The component's name, its digest, or `*` for every component. */
  readonly component: string
  /**
   * What is linked: `ns:pkg/iface` (one interface) or `ns:pkg` (every interface of the package),
   * optionally with `@version` (then only imports of exactly that version).
   */
  readonly target: string
  /** Only servers carrying all of these labels. */
  readonly labels?: Readonly<Record<string, string>>
  /** Only this peer. */
  readonly peer?: string
  /**
   * The link's name (wasmCloud's link names): a component that imports `wasmcloud:bus/lattice` picks one per
   * interface at run time with `set-link-name`; unset is `default`, the link every import uses until then.
   */
  readonly name?: string
}

/** What the router's `call` takes from a link (its `labels` and `target` options). */
export interface LinkOptions {
  readonly labels?: Readonly<Record<string, string>>
  readonly target?: string
}

/** The component a call comes from, as the runtime knows it. */
export interface LinkedComponent {
  readonly name: string
  /** The component's digest. */
  readonly id: string
  /** The link name its instance chose for the import (`set-link-name`); unset: `default`. */
  readonly linkName?: string
}

const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/
const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/
/** A label key, in links and node labels. */
export const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/
const COMPONENT = /^(?:\*|[A-Za-z0-9][A-Za-z0-9._-]{0,127})$/
/** A link name, as wasmCloud's `wash link put --link-name` takes it. */
export const LINK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const DEFAULT_LINK = 'default'

const USAGE = 'write <component>:<ns:pkg[/iface][@version]>[#<link-name>]=<key=value[,key=value...] | peer-id>, e.g. counter:wasi:keyvalue/store=tier=cache or counter:wasi:keyvalue#cache=tier=memory'

function bad (text: string, why: string): NodeError {
  return new NodeError('invalid-link', `link ${JSON.stringify(text)}: ${why}; ${USAGE}`)
}

function checkTarget (text: string, target: string): void {
  const name = unversioned(target)
  const version = versionOf(target)
  const colon = name.indexOf(':')
  if (colon < 0) throw bad(text, `${JSON.stringify(target)} is not an interface (ns:pkg/iface) or a package (ns:pkg)`)
  const ns = name.slice(0, colon)
  const [pkg, iface, ...extra] = name.slice(colon + 1).split('/')
  for (const [what, part] of [['namespace', ns], ['package', pkg], ...(iface !== undefined ? [['interface', iface]] : [])] as Array<[string, string]>) {
    if (!NAME.test(part)) throw bad(text, `${what} ${JSON.stringify(part)} is not a WIT name (lowercase words joined by '-')`)
  }
  if (extra.length > 0) throw bad(text, `${JSON.stringify(target)} has more than one '/'`)
  if (version !== undefined && !VERSION.test(version)) throw bad(text, `${JSON.stringify(version)} is not a semver version`)
}

/**
 * Parses `<component>:<target>=<selector>`: the component's name (or digest, or `*`), then an
 * interface `ns:pkg/iface` or a whole package `ns:pkg` (each optionally `@version`), then either
 * labels `k=v[,k=v...]` or a peer id (a selector with no `=`).
 */
export function parseLink (text: string): Link {
  const colon = text.indexOf(':')
  if (colon <= 0) throw bad(text, 'no component name before the first \':\'')
  const component = text.slice(0, colon)
  if (!COMPONENT.test(component)) throw bad(text, `${JSON.stringify(component)} is not a component name, digest or '*'`)
  const rest = text.slice(colon + 1)
  const eq = rest.indexOf('=')
  if (eq < 0) throw bad(text, 'no \'=\' between the interface and the selector')
  const hash = rest.slice(0, eq).indexOf('#')
  const target = hash < 0 ? rest.slice(0, eq) : rest.slice(0, hash)
  const linkName = hash < 0 ? undefined : rest.slice(hash + 1, eq)
  checkTarget(text, target)
  if (linkName !== undefined && !LINK_NAME.test(linkName)) throw bad(text, `link name ${JSON.stringify(linkName)}: use 1-64 letters, digits, '.', '_', '-'`)
  const named = linkName === undefined || linkName === DEFAULT_LINK ? {} : { name: linkName }
  const selector = rest.slice(eq + 1)
  if (selector === '') throw bad(text, 'the selector is empty')
  if (!selector.includes('=')) {
    try {
      peerIdFromString(selector)
    } catch {
      throw bad(text, `${JSON.stringify(selector)} is neither labels (key=value) nor a peer id`)
    }
    return { component, target, peer: selector, ...named }
  }
  const labels: Record<string, string> = {}
  for (const pair of selector.split(',')) {
    const i = pair.indexOf('=')
    if (i <= 0) throw bad(text, `${JSON.stringify(pair)} is not key=value`)
    const key = pair.slice(0, i)
    const value = pair.slice(i + 1)
    if (!LABEL_KEY.test(key)) throw bad(text, `label key ${JSON.stringify(key)}: use letters, digits, '.', '_', '/', '-' (1-63)`)
    if (Object.hasOwn(labels, key)) throw bad(text, `label ${key} is given twice`)
    labels[key] = value
  }
  return { component, target, labels, ...named }
}

function targetCovers (target: string, iface: string): boolean {
  const name = unversioned(iface)
  const tName = unversioned(target)
  const tVersion = versionOf(target)
  if (tVersion !== undefined && tVersion !== versionOf(iface)) return false
  // `ns:pkg` covers `ns:pkg/any`
  return tName === name || (!tName.includes('/') && name.startsWith(tName + '/'))
}

/** How specific a link's target is: an interface beats a package, a version beats none. */
function specificity (link: Link): number {
  return (link.component === '*' ? 0 : 4) + (link.target.includes('/') ? 2 : 0) + (link.target.includes('@') ? 1 : 0)
}

/**
 * The router options for an import `iface` of `component`: the most specific matching links
 * (a named component beats `*`, an interface beats its package, a version beats none); several
 * links equally specific combine (all their labels must hold). Undefined when no link applies:
 * the call may go to any server.
 */
export function linkOptions (links: readonly Link[], component: string | LinkedComponent, iface: string): LinkOptions | undefined {
  const names = typeof component === 'string' ? [component] : [component.name, component.id]
  const linkName = typeof component === 'string' ? DEFAULT_LINK : component.linkName ?? DEFAULT_LINK
  const matching = links.filter(l => (l.component === '*' || names.includes(l.component)) && targetCovers(l.target, iface) && (l.name ?? DEFAULT_LINK) === linkName)
  if (matching.length === 0) {
    // A name the component chose on purpose must exist: falling back to any server would reach the wrong store.
    if (linkName !== DEFAULT_LINK) throw new RuntimeError('unresolved-import', `${names[0]} chose link name ${JSON.stringify(linkName)} for ${iface}, but no link of that name covers it (--link ${names[0]}:${unversioned(iface)}#${linkName}=<selector>)`)
    return undefined
  }
  const best = Math.max(...matching.map(specificity))
  const chosen = matching.filter(l => specificity(l) === best)
  const labels: Record<string, string> = {}
  let target: string | undefined
  for (const l of chosen) {
    if (l.peer !== undefined) {
      if (target !== undefined && target !== l.peer) throw new NodeError('invalid-link', `links for ${names[0]}'s import ${iface} name two peers (${target}, ${l.peer})`)
      target = l.peer
    }
    for (const [k, v] of Object.entries(l.labels ?? {})) {
      if (Object.hasOwn(labels, k) && labels[k] !== v) throw new NodeError('invalid-link', `links for ${names[0]}'s import ${iface} want label ${k} to be both ${labels[k]} and ${v}`)
      labels[k] = v
    }
  }
  return {
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
    ...(target !== undefined ? { target } : {})
  }
}

/** Checks a set of links once (at load), so that contradictions fail before any call: the same errors `linkOptions` would throw later. */
export function checkLinks (links: readonly Link[]): void {
  const seen = new Set<string>()
  for (const l of links) {
    const key = `${l.component}\u0000${l.target}\u0000${l.name ?? DEFAULT_LINK}`
    if (seen.has(key)) continue
    seen.add(key)
    const name = unversioned(l.target)
    const version = versionOf(l.target)
    const probe = `${name}${name.includes('/') ? '' : '/x'}${version === undefined ? '' : '@' + version}`
    linkOptions(links, { name: l.component, id: l.component, linkName: l.name }, probe)
  }
}

/** Prints a link back in the syntax `parseLink` reads (for `wasmesh mesh`). */
export function printLink (link: Link): string {
  const selector = link.peer ?? Object.entries(link.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',')
  return `${link.component}:${link.target}${link.name === undefined ? '' : `#${link.name}`}=${selector}`
}

/**
 * Wraps the node's call so that a component's imports carry its links: what the runtime's import
 * resolver should be once it says which component is calling.
 */
export function linkedResolver<T> (
  links: readonly Link[],
  call: (iface: string, func: string, params: unknown[], opts: LinkOptions) => Promise<T>
): (iface: string, func: string, params: unknown[], from: LinkedComponent) => Promise<T> {
  return async (iface, func, params, from) => await call(iface, func, params, linkOptions(links, from, iface) ?? {})
}
