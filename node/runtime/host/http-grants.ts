// Which hosts a component's outgoing HTTP may reach: `api.example.com`, `api.example.com:8443`, `api.example.com:*`, `*.internal`.

/**
 * One grant: a host name or IPv4 address, or `*.` and a domain (any name under it, not the domain itself),
 * then optionally `:<port>` or `:*`. Without a port only the scheme's default port is allowed (80 for
 * `http`, 443 for `https`). Names compare without case and without a trailing dot.
 */
const HOST = /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/

interface Pattern {
  readonly host: string
  readonly wildcard: boolean
  /** undefined: the scheme's default port; '*': any port. */
  readonly port: number | '*' | undefined
}

function parse (grant: string): Pattern | string {
  const text = grant.trim().toLowerCase()
  if (text.includes('/') || text.includes('@')) return `${JSON.stringify(grant)} is not a host name: give the host (and port) alone, not a URL`
  const colon = text.lastIndexOf(':')
  const hostPart = (colon < 0 ? text : text.slice(0, colon)).replace(/\.$/, '')
  const portPart = colon < 0 ? undefined : text.slice(colon + 1)
  if (hostPart.length > 253 || !HOST.test(hostPart)) return `${JSON.stringify(grant)} is not a host name, an IPv4 address or *.domain`
  let port: Pattern['port']
  if (portPart === '*') port = '*'
  else if (portPart !== undefined) {
    const n = Number(portPart)
    if (!/^\d{1,5}$/.test(portPart) || n < 1 || n > 65535) return `${JSON.stringify(grant)}: the port must be 1-65535 or *`
    port = n
  }
  const wildcard = hostPart.startsWith('*.')
  return { host: wildcard ? hostPart.slice(2) : hostPart, wildcard, port }
}

/** Why a grant is not one (for `--grant name:http=...`), or undefined when it is. */
export function httpGrantProblem (grant: string): string | undefined {
  const p = parse(grant)
  return typeof p === 'string' ? p : undefined
}

/**
 * Whether a request to `authority` (`host[:port]`, as the guest set it) over `scheme` (`http`/`https`;
 * nothing else goes out) is covered by one of `grants`.
 */
export function matchesHttpGrant (grants: readonly string[], scheme: string, authority: string): boolean {
  if (scheme !== 'http' && scheme !== 'https') return false
  const a = authority.toLowerCase()
  const colon = a.lastIndexOf(':')
  const host = (colon < 0 ? a : a.slice(0, colon)).replace(/\.$/, '')
  const portText = colon < 0 ? undefined : a.slice(colon + 1)
  const port = portText === undefined || portText === '' ? (scheme === 'http' ? 80 : 443) : Number(portText)
  if (!Number.isInteger(port) || host === '' || host.includes('@')) return false
  const defaultPort = scheme === 'http' ? 80 : 443
  return grants.some(g => {
    const p = parse(g)
    if (typeof p === 'string') return false
    const hostOk = p.wildcard ? host.endsWith(`.${p.host}`) : host === p.host
    const portOk = p.port === '*' || (p.port === undefined ? port === defaultPort : port === p.port)
    return hostOk && portOk
  })
}
