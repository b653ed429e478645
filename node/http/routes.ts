// HTTP routes as wasmCloud's http-server provider offers them: by Host header, by path prefix, or one default, each naming a component by name or label selector.
import { HttpError } from './errors.ts'

/** Which servers of the handler interface take a route's requests. */
export type RouteTarget =
  | { readonly kind: 'any' }
  | { readonly kind: 'component', readonly component: string }
  | { readonly kind: 'labels', readonly labels: Readonly<Record<string, string>> }

export type Route =
  | { readonly match: 'host', readonly host: string, readonly target: RouteTarget }
  | { readonly match: 'path', readonly prefix: string, readonly target: RouteTarget }
  | { readonly match: 'default', readonly target: RouteTarget }

const usage = "a route is host=<host>=<target>, path=</prefix>=<target> or default=<target>; a target is name=<component> (or component=<component>), <label>=<value>[,<label>=<value>...] or any (e.g. 'host=api.example.com=app=api', 'path=/api=name=hello')"

function bad (spec: string, why: string): never {
  throw new HttpError('invalid-http-config', `--http-route ${JSON.stringify(spec)}: ${why}; ${usage}`)
}

function parseTarget (spec: string, text: string): RouteTarget {
  if (text === 'any' || text === '*') return { kind: 'any' }
  // `component=` is the same as `name=` (the issue's spelling); a node label named `component` cannot be selected on.
  const named = /^(?:name|component)=/.exec(text)
  if (named !== null) {
    const component = text.slice(named[0].length)
    if (component === '' || /[\s,=]/.test(component)) bad(spec, `the component name ${JSON.stringify(component)} is empty or has a space, comma or =`)
    return { kind: 'component', component }
  }
  const labels: Record<string, string> = {}
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=')
    if (eq <= 0 || eq === pair.length - 1) bad(spec, `the target ${JSON.stringify(text)} is not name=<component>, component=<component>, any or <label>=<value> pairs`)
    labels[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return { kind: 'labels', labels }
}

/** `host=api.example.com=app=api`, `path=/api=name=hello` (or `component=hello`), `default=name=hello` -> a route; bad syntax is `invalid-http-config`. */
export function parseRoute (spec: string): Route {
  if (spec.length > 1024) bad(spec.slice(0, 64) + '...', 'longer than 1024 characters')
  const eq = spec.indexOf('=')
  const kind = eq < 0 ? spec : spec.slice(0, eq)
  const rest = eq < 0 ? '' : spec.slice(eq + 1)
  if (kind === 'default') {
    if (rest === '') bad(spec, 'no target')
    return { match: 'default', target: parseTarget(spec, rest) }
  }
  if (kind !== 'host' && kind !== 'path') bad(spec, `unknown kind ${JSON.stringify(kind)}`)
  const eq2 = rest.indexOf('=')
  if (eq2 <= 0 || eq2 === rest.length - 1) bad(spec, `a ${kind} route needs a ${kind} and a target`)
  const value = rest.slice(0, eq2)
  const target = parseTarget(spec, rest.slice(eq2 + 1))
  if (kind === 'host') {
    if (!/^(\*\.)?[a-z0-9.-]+$/i.test(value)) bad(spec, `${JSON.stringify(value)} is not a host name (letters, digits, '.', '-', optionally starting with *.)`)
    return { match: 'host', host: value.toLowerCase(), target }
  }
  if (!value.startsWith('/')) bad(spec, `the path prefix ${JSON.stringify(value)} must start with /`)
  return { match: 'path', prefix: value.length > 1 && value.endsWith('/') ? value.slice(0, -1) : value, target }
}

/** A route list's problems: two defaults, two routes for the same host or prefix. */
export function checkRoutes (routes: readonly Route[]): void {
  const seen = new Set<string>()
  for (const r of routes) {
    const key = r.match === 'host' ? `host ${r.host}` : r.match === 'path' ? `path ${r.prefix}` : 'default'
    if (seen.has(key)) throw new HttpError('invalid-http-config', `two routes for the same ${key}`)
    seen.add(key)
  }
}

function hostMatches (pattern: string, host: string): boolean {
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1
  return host === pattern
}

function pathMatches (prefix: string, path: string): boolean {
  if (prefix === '/') return true
  return path === prefix || path.startsWith(prefix + '/') || path.startsWith(prefix + '?')
}

/**
 * The route of a request: a Host route first (exact, then `*.` wildcards), then the longest path prefix (on a
 * segment boundary), then the default. With no routes at all, any server takes every request.
 */
export function matchRoute (routes: readonly Route[], host: string | undefined, path: string): Route | undefined {
  if (routes.length === 0) return { match: 'default', target: { kind: 'any' } }
  const name = (host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase()
  let wildcard: Route | undefined
  let bestPath: (Route & { match: 'path' }) | undefined
  let fallback: Route | undefined
  for (const r of routes) {
    if (r.match === 'host') {
      if (r.host === name) return r
      if (wildcard === undefined && hostMatches(r.host, name)) wildcard = r
    } else if (r.match === 'path') {
      if (pathMatches(r.prefix, path) && (bestPath === undefined || r.prefix.length > bestPath.prefix.length)) bestPath = r
    } else {
      fallback = r
    }
  }
  return wildcard ?? bestPath ?? fallback
}

export function describeTarget (t: RouteTarget): string {
  if (t.kind === 'any') return 'any server'
  if (t.kind === 'component') return `component ${t.component}`
  return `servers labelled ${Object.entries(t.labels).map(([k, v]) => `${k}=${v}`).join(',')}`
}
