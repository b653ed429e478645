// The node's settings as `wasmesh node` takes them: a YAML or TOML config file with the flags' keys, and the parsers both share.

import { parseLink } from '../node/links.ts'
import type { Link } from '../node/links.ts'
import { open } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, extname, isAbsolute, join, resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { TomlError, parse as parseToml } from 'smol-toml'
import { LineCounter, isMap, isScalar, parseDocument } from 'yaml'
import { isLatticeName } from '../protocol/advert.ts'
import type { LogLevel } from '../node/logger.ts'
import type { SandboxGrants } from '../node/runtime/index.ts'
import { httpGrantProblem } from '../node/runtime/index.ts'
import { NodeError } from '../node/errors.ts'
import { allowedValues, checkLimit, limitCatalog, limitInfo } from '../node/limits.ts'
import type { LimitInfo } from '../node/limits.ts'
import { SecurityError, checkPeerId } from '../node/security/index.ts'
import { subscriptionProblem } from '../node/messaging/subjects.ts'
import { HttpError, parseRoute } from '../node/http/index.ts'
import type { Route } from '../node/http/index.ts'
import { parseReference, referenceName } from '../node/artifacts/index.ts'

export type LogFormat = 'text' | 'json'

/** A component to load: `[name=]<file.wasm>` or `[name=]<reference>` (an OCI reference or a digest). */
export interface ComponentArg {
  readonly name: string
  /** The file's path, resolved; or the reference as given when `remote`. */
  readonly file: string
  /** `file` is an OCI reference or a digest (node/artifacts/), resolved by the node, not a path. */
  readonly remote?: boolean
}

/** One thing granted to one component's sandbox. */
export type GrantArg =
  | { readonly component: string, readonly kind: 'env', readonly variable: string, readonly value?: string }
  | { readonly component: string, readonly kind: 'dir', readonly guest: string, readonly host: string }
  | { readonly component: string, readonly kind: 'network' }
  | { readonly component: string, readonly kind: 'http', readonly hosts: readonly string[] }

/** A named config value or secret of one component: `<component>:<key>=<value>` (a secret's value is env:VAR or file:/path). */
export interface ComponentSettingArg {
  readonly component: string
  readonly key: string
  readonly value: string
}

/** Everything `wasmesh node` can be told, from flags or a config file (the file's keys are the flags' names). */
export interface NodeSettings {
  readonly listen?: readonly string[]
  readonly announce?: readonly string[]
  readonly bootstrap?: readonly string[]
  readonly component?: readonly ComponentArg[]
  /** Registries (`host[:port]`) pulled from over plain HTTP; loopback ones always are. */
  readonly ociInsecure?: readonly string[]
  readonly grant?: readonly GrantArg[]
  /** Components whose instances run on the node's own thread (`isolation: 'inline'`). */
  readonly inline?: readonly string[]
  readonly label?: Readonly<Record<string, string>>
  readonly lattice?: string
  readonly dataDir?: string
  readonly cacheDir?: string
  /** `host:port` of the metrics and health listener. */
  readonly metrics?: string
  /** `host:port` of the console's listener (node/console/). */
  readonly console?: string
  readonly drainTimeoutMs?: number
  readonly logLevel?: LogLevel
  readonly logFormat?: LogFormat
  /** Serve `local:demo/host` natively. Default true. */
  readonly demoHost?: boolean
  /** Offer a circuit relay to members behind NAT (`NodeInit.relay`); default: with a lattice key on a public address. */
  readonly relay?: boolean
  /** Find members on the LAN by mDNS; default: with a lattice key on a node listening beyond loopback with no public address. */
  readonly mdns?: boolean
  /** Native providers, with their config and secrets. */
  readonly provider?: readonly ProviderArg[]
  /** `<provider>:<key>=<value>` settings not yet applied to `provider` (flags are applied after the file's). */
  readonly providerConfig?: readonly string[]
  readonly providerSecret?: readonly string[]
  /** Links of components' imports to some servers. */
  readonly link?: readonly Link[]
  /** `wasi:config` values of components. */
  readonly configValue?: readonly ComponentSettingArg[]
  /** Runtime limits of one component (`<component>:<limit>=<value>`), over the node's `limits` for it. */
  readonly componentLimit?: readonly ComponentLimitArg[]
  /** `wasmcloud:secrets` of components: where each value is. */
  readonly secret?: readonly ComponentSettingArg[]
  /** Limits by their own names (`node/limits.ts`), values in their units; merged key by key, flags winning. */
  readonly limits?: Readonly<Record<string, number>>
  /** Load only components signed by a key of `trustKey`. */
  readonly requireSigned?: boolean
  /** Public key files (`wasmesh key public`) whose component signatures are trusted. */
  readonly trustKey?: readonly string[]
  /** The lattice key file (a private lattice). */
  readonly latticeKey?: string
  /** Peer ids allowed to connect. */
  readonly allowPeer?: readonly string[]
  /** The trust file: peers allowed to connect, with their labels. */
  readonly trustFile?: string
  /** This node's member certificate file (`wasmesh key sign-member`). */
  readonly memberCert?: string
  /** Admin public key files whose member certificates this node trusts. */
  readonly trustAdmin?: readonly string[]
  /** The policy file: who may call what, who may serve what. */
  readonly policy?: string
  /** wasmcloud:messaging over the lattice's gossip (on as well when `subscribe` lists anything). */
  readonly messaging?: boolean
  /** Peers may use the control interface without a policy (`--control`). */
  readonly control?: boolean
  /** Components subscribed to subjects (`<component>=<subject>`). */
  readonly subscribe?: readonly SubscribeArg[]
  /** `host:port` of the HTTP gateway (node/http/). */
  readonly http?: string
  /** HTTP routes (`host=<host>=<target>`, `path=</prefix>=<target>`, `default=<target>`). */
  readonly httpRoute?: readonly Route[]
}

/** `--subscribe <component>=<subject>`: a component's handler gets the messages of a subject pattern. */
export interface SubscribeArg {
  readonly component: string
  readonly subject: string
}

/** `invalid-config`: a limit the node cannot take (unknown, of the wrong kind, out of range). */
export type ConfigErrorCode = 'bad-config' | 'config-not-found' | 'invalid-config'

/** A config file that cannot be used; the message names the file, the line and the key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  readonly code: ConfigErrorCode
  readonly file: string
  readonly line?: number
  readonly key?: string

  constructor (code: ConfigErrorCode, message: string, where: { file: string, line?: number, key?: string }, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.file = where.file
    this.line = where.line
    this.key = where.key
  }
}

/** A value that does not fit its setting; callers add where it came from (a flag, or a file's line). */
export class SettingError extends Error {
  override readonly name: string = 'SettingError'
}

/** A limit the node cannot take; reported as `invalid-config` wherever it came from. */
export class LimitError extends SettingError {
  override readonly name = 'LimitError'
  readonly code = 'invalid-config'
}

const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent']
const componentName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** The config file's keys: exactly the flags of `wasmesh node`, without their dashes. */
export const configKeys = [
  'listen', 'announce', 'bootstrap', 'component', 'oci-insecure', 'grant', 'inline', 'label', 'lattice', 'data-dir', 'cache-dir',
  'metrics', 'drain-timeout', 'log-level', 'log-format', 'demo-host', 'provider', 'provider-config',
  'provider-secret', 'link', 'limits', 'require-signed', 'trust-key', 'lattice-key', 'allow-peer', 'trust-file',
  'member-cert', 'trust-admin', 'policy', 'config-value', 'secret', 'messaging', 'subscribe', 'http', 'http-route', 'console', 'control',
  'component-limit', 'relay', 'mdns'
] as const

/** The largest config file read: a config is a few KiB, and parsing one of gigabytes would hold the command for minutes. */
export const maxConfigFileBytes = 1024 * 1024

/** `~/x` -> the home directory's x; anything else resolved against `base`. */
export function resolvePath (path: string, base: string): string {
  if (path === '~') return homedir()
  if (path.startsWith('~/')) return join(homedir(), path.slice(2))
  return isAbsolute(path) ? path : resolve(base, path)
}

export function parseMultiaddrArg (text: string, opts: { peerId?: boolean } = {}): string {
  try {
    multiaddr(text)
  } catch (err) {
    throw new SettingError(`${JSON.stringify(text)} is not a multiaddr (like /ip4/192.0.2.1/tcp/4001): ${(err as Error).message}`)
  }
  if (opts.peerId === true && !/\/p2p\/[^/]+$/.test(text)) {
    throw new SettingError(`${JSON.stringify(text)} does not end in /p2p/<peer-id>: copy a whole address from the 'listening on:' lines another node printed`)
  }
  return text
}

/** `k=v`. */
export function parseLabelArg (text: string): [string, string] {
  const eq = text.indexOf('=')
  if (eq <= 0) throw new SettingError(`label ${JSON.stringify(text)} is not key=value`)
  return [text.slice(0, eq), text.slice(eq + 1)]
}

/** `[name=]<file.wasm>`; the name defaults to the file's name without `.wasm`. */
export function parseComponentArg (text: string, base: string): ComponentArg {
  const eq = text.indexOf('=')
  const named = eq > 0 && componentName.test(text.slice(0, eq))
  let file = named ? text.slice(eq + 1) : text
  if (file === '') throw new SettingError(`component ${JSON.stringify(text)} names no file: write [name=]<file.wasm>`)
  let ref
  try {
    ref = parseReference(file)
  } catch (err) {
    throw new SettingError(`component ${JSON.stringify(text)}: ${(err as Error).message}`)
  }
  if (ref.kind !== 'file') {
    const name = named ? text.slice(0, eq) : referenceName(ref)
    if (name === undefined) throw new SettingError(`component ${JSON.stringify(text)}: a digest says no name; write <name>=${file}`)
    return { name, file, remote: true }
  }
  file = ref.path
  const path = resolvePath(file, base)
  const name = named ? text.slice(0, eq) : defaultComponentName(path)
  return { name, file: path }
}

/** `--oci-insecure host[:port]`: a registry host as a reference names it. */
export function parseRegistryHostArg (text: string): string {
  try {
    const ref = parseReference(`oci://${text}/x`)
    if (ref.kind === 'oci' && ref.registry === text) return text
  } catch {}
  throw new SettingError(`oci-insecure ${JSON.stringify(text)} is not a registry host[:port] (e.g. registry.lan:5000)`)
}

export function defaultComponentName (file: string): string {
  const base = file.slice(file.lastIndexOf('/') + 1)
  return base.endsWith('.wasm') ? base.slice(0, -'.wasm'.length) : base
}

/**
 * `<component>:env=VAR` (the variable's value in this node's environment), `<component>:env=VAR=value`,
 * `<component>:dir=/guest=/host` (read-only), `<component>:http=<host>[,<host>...]` (outgoing HTTP to those
 * hosts only) or `<component>:network`.
 */
export function parseGrantArg (text: string, base: string): GrantArg {
  const colon = text.indexOf(':')
  const component = colon < 0 ? '' : text.slice(0, colon)
  const what = text.slice(colon + 1)
  const syntax = 'write <component>:env=VAR, <component>:env=VAR=value, <component>:dir=/guest=/host, <component>:http=api.example.com,*.internal or <component>:network'
  if (!componentName.test(component)) throw new SettingError(`grant ${JSON.stringify(text)} names no component: ${syntax}`)
  if (what === 'network') return { component, kind: 'network' }
  if (what.startsWith('http=')) {
    const hosts = what.slice('http='.length).split(',').map(h => h.trim())
    for (const h of hosts) {
      const problem = h === '' ? 'an empty host' : httpGrantProblem(h)
      if (problem !== undefined) throw new SettingError(`grant ${JSON.stringify(text)}: ${problem}; write http=<host>[:<port>|:*][,...], a host being a name, an IPv4 address or *.domain`)
    }
    return { component, kind: 'http', hosts }
  }
  if (what.startsWith('env=')) {
    const spec = what.slice('env='.length)
    const eq = spec.indexOf('=')
    const variable = eq < 0 ? spec : spec.slice(0, eq)
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) throw new SettingError(`grant ${JSON.stringify(text)}: ${JSON.stringify(variable)} is not an environment variable name`)
    return eq < 0 ? { component, kind: 'env', variable } : { component, kind: 'env', variable, value: spec.slice(eq + 1) }
  }
  if (what.startsWith('dir=')) {
    const spec = what.slice('dir='.length)
    const eq = spec.indexOf('=')
    const guest = eq < 0 ? '' : spec.slice(0, eq)
    const host = eq < 0 ? '' : spec.slice(eq + 1)
    if (!guest.startsWith('/') || host === '') throw new SettingError(`grant ${JSON.stringify(text)}: a directory grant is dir=/guest/path=/host/path`)
    return { component, kind: 'dir', guest, host: resolvePath(host, base) }
  }
  throw new SettingError(`grant ${JSON.stringify(text)}: ${syntax}`)
}

const settingKey = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/

/** `<component>:<key>=<value>`, for `--config-value` and `--secret` (whose value says where the secret is: env:VAR or file:/path). */
export function parseComponentSetting (text: string, what: 'config-value' | 'secret'): ComponentSettingArg {
  const colon = text.indexOf(':')
  const eq = text.indexOf('=', colon + 1)
  const example = what === 'config-value' ? 'api:greeting=hello' : 'api:token=env:API_TOKEN'
  if (colon <= 0 || eq <= colon + 1) throw new SettingError(`${what} ${JSON.stringify(text)}: write <component>:<key>=<value>, e.g. ${example}`)
  const component = text.slice(0, colon)
  const key = text.slice(colon + 1, eq)
  const value = text.slice(eq + 1)
  if (!componentName.test(component)) throw new SettingError(`${what} ${JSON.stringify(text)}: ${JSON.stringify(component)} is not a component name`)
  if (!settingKey.test(key)) throw new SettingError(`${what} ${JSON.stringify(text)}: key ${JSON.stringify(key)}: use 1-128 letters, digits, '.', '_', '-'`)
  if (what === 'secret' && !/^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$/.test(value)) {
    throw new SettingError(`secret ${text.slice(0, eq)}: give where it is, env:VARIABLE or file:/path, never the secret itself`)
  }
  return { component, key, value }
}

/** Runtime limits that only the node's value of counts: the size of a file it accepts, the worker threads it keeps. */
const nodeWideRuntimeLimits: ReadonlySet<string> = new Set(['maxComponentBytes', 'spareWorkers', 'sharedWorkers'])

/** One runtime limit of one component, as `--component-limit` takes it. */
export interface ComponentLimitArg {
  readonly component: string
  readonly name: string
  readonly value: number
}

/**
 * `<component>:<limit>=<value>`, like `upper:minInstances=1` or `upper:instanceIdleTimeoutMs=30s`: a limit of the
 * component runtime (node/runtime/limits.ts) for that component alone; other limits are the node's, not a component's.
 */
export function parseComponentLimitArg (text: string): ComponentLimitArg {
  const colon = text.indexOf(':')
  const eq = text.indexOf('=', colon + 1)
  if (colon <= 0 || eq <= colon + 1) throw new SettingError(`component-limit ${JSON.stringify(text)}: write <component>:<limit>=<value>, e.g. upper:minInstances=1 or upper:instanceIdleTimeoutMs=30s`)
  const component = text.slice(0, colon)
  if (!componentName.test(component)) throw new SettingError(`component-limit ${JSON.stringify(text)}: ${JSON.stringify(component)} is not a component name`)
  const [name, value] = parseLimit(text.slice(colon + 1, eq).trim(), text.slice(eq + 1).trim())
  if (limitInfo(name).group !== 'runtimeLimits' || nodeWideRuntimeLimits.has(name)) {
    throw new SettingError(`component-limit ${JSON.stringify(text)}: ${name} is a limit of the node, not of one component (give it with --limit); a component's are ${componentLimitNames().join(', ')}`)
  }
  return { component, name, value }
}

function componentLimitNames (): string[] {
  return [...limitCatalog.values()].filter(i => i.group === 'runtimeLimits' && !nodeWideRuntimeLimits.has(i.name)).map(i => i.name)
}

/** `config-value:` / `secret:` in a file: `<component>:<key>=<value>` strings, or a table of components, each a table of keys. */
function componentSettingsOf (value: unknown, what: 'config-value' | 'secret', base: string, fail: (message: string) => never): ComponentSettingArg[] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const out: ComponentSettingArg[] = []
    for (const [component, table] of Object.entries(value)) {
      if (table === null || typeof table !== 'object' || Array.isArray(table)) fail(`${component} must be a table of <key>: <value>`)
      for (const [key, v] of Object.entries(table as Record<string, unknown>)) {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') fail(`${component}.${key} must be a string`)
        const text = String(v)
        // a file: reference in a file is relative to that file, as every path in it
        const resolved = what === 'secret' && text.startsWith('file:') ? `file:${resolvePath(text.slice(5), base)}` : text
        out.push(parseComponentSetting(`${component}:${key}=${resolved}`, what))
      }
    }
    return out
  }
  const list = Array.isArray(value) ? value : [value]
  if (!list.every((v): v is string => typeof v === 'string')) fail('must be a string, a list of strings or a table of components')
  return (list as string[]).map(t => parseComponentSetting(t, what))
}

/** `<component>=<subject>`; the subject as NATS writes subscriptions (`*` one token, a final `>` the rest). */
export function parseSubscribeArg (text: string): SubscribeArg {
  const eq = text.indexOf('=')
  const component = eq < 0 ? '' : text.slice(0, eq)
  const subject = eq < 0 ? '' : text.slice(eq + 1)
  if (!componentName.test(component)) throw new SettingError(`subscribe ${JSON.stringify(text)}: give <component>=<subject>, e.g. orders=orders.*`)
  const why = subscriptionProblem(subject)
  if (why !== undefined) throw new SettingError(`subscribe ${JSON.stringify(text)}: ${why}`)
  return { component, subject }
}

/** A component name given to `--inline`. */
export function parseInlineArg (text: string): string {
  if (!componentName.test(text)) throw new SettingError(`inline ${JSON.stringify(text)} is not a component name (give the name of a --component)`)
  return text
}

/** The sandbox grants of each component, by name; an `env=VAR` grant takes VAR's value from `env`. */
export function grantsByComponent (grants: readonly GrantArg[], env: Readonly<Record<string, string | undefined>>): Map<string, SandboxGrants> {
  const out = new Map<string, { readOnlyDirs: Record<string, string>, env: Record<string, string>, network: boolean, http?: string[] }>()
  for (const g of grants) {
    let entry = out.get(g.component)
    if (entry === undefined) out.set(g.component, entry = { readOnlyDirs: {}, env: {}, network: false })
    if (g.kind === 'network') entry.network = true
    else if (g.kind === 'http') entry.http = [...(entry.http ?? []), ...g.hosts]
    else if (g.kind === 'dir') entry.readOnlyDirs[g.guest] = g.host
    else {
      const value = g.value ?? env[g.variable]
      if (value === undefined) throw new SettingError(`grant ${g.component}:env=${g.variable}: ${g.variable} is not set in this node's environment (give a value with env=${g.variable}=value)`)
      entry.env[g.variable] = value
    }
  }
  return out
}

/** `host:port` of a listener (metrics, console, HTTP), port 0 for a free one. */
export function parseHostPortArg (text: string): string {
  if (!/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/.test(text) || Number(text.slice(text.lastIndexOf(':') + 1)) > 65535) {
    throw new SettingError(`${JSON.stringify(text)} is not host:port (like 127.0.0.1:9464)`)
  }
  return text
}

/** An HTTP route (node/http/routes.ts); its problems as this file's setting errors. */
export function parseHttpRouteArg (text: string): Route {
  try {
    return parseRoute(text)
  } catch (err) {
    if (err instanceof HttpError) throw new SettingError(err.message.replace(/^--http-route /, ''))
    throw err
  }
}

const msPerUnit: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const bytesPerUnit: Readonly<Record<string, number>> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 }

/** `<n>[unit]` with a unit of `units` -> a whole non-negative safe integer, else undefined. */
function scaled (text: string | number, units: Readonly<Record<string, number>>): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text >= 0 ? text : undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text)
  if (m === null || (m[2] !== '' && !Object.hasOwn(units, m[2])) || (m[2] === '' && m[1].includes('.'))) return undefined
  const n = Number(m[1]) * (m[2] === '' ? 1 : units[m[2]])
  // 1.1s is 1100.0000000000002 in floating point: whole is what a person meant, 0.1KiB (102.4) is not whole
  const whole = Math.round(n)
  return Number.isSafeInteger(whole) && Math.abs(n - whole) < 1e-6 ? whole : undefined
}

/** Milliseconds: a whole number, or with a unit (`500ms`, `30s`, `1.5s`, `2m`, `1h`). */
export function parseMsArg (text: string | number): number {
  const n = scaled(text, msPerUnit)
  if (n === undefined) throw new SettingError(`${JSON.stringify(text)} is not a whole number of milliseconds (or 500ms, 30s, 2m, 1h)`)
  return n
}

/** Bytes: a whole number, or with a binary unit (`512KiB`, `64MiB`, `1GiB`). */
export function parseBytesArg (text: string | number): number {
  const n = scaled(text, bytesPerUnit)
  if (n === undefined) throw new SettingError(`${JSON.stringify(text)} is not a whole number of bytes (or 512KiB, 64MiB, 1GiB)`)
  return n
}

/** A count: a whole non-negative number. */
export function parseCountArg (text: string | number): number {
  const n = scaled(text, {})
  if (n === undefined) throw new SettingError(`${JSON.stringify(text)} is not a whole number`)
  return n
}

/** A limit's value as a person writes it: `64MiB`, `30s`, `500ms`, `256`; parsing it gives the value back. */
export function formatLimit (unit: LimitInfo['unit'], value: number): string {
  const units = unit === 'bytes' ? bytesPerUnit : unit === 'ms' ? msPerUnit : {}
  let best = String(value)
  for (const [name, size] of Object.entries(units)) if (value >= size && value % size === 0) best = `${value / size}${name}`
  return best
}

const parserOfUnit: Readonly<Record<LimitInfo['unit'], (text: string | number) => number>> = { ms: parseMsArg, bytes: parseBytesArg, count: parseCountArg }

/** One limit by name (camelCase or kebab-case), its value a number or text in the limit's unit -> [its name, the value]. */
export function parseLimit (spelling: string, value: unknown): [string, number] {
  let info: LimitInfo
  try {
    info = limitInfo(spelling)
  } catch (err) {
    throw new LimitError((err as Error).message)
  }
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw new LimitError(`limit ${info.name} takes ${allowedValues(info)}, not ${value === null ? 'nothing' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a table' : typeof value}`)
  }
  try {
    return [info.name, checkLimit(info, parserOfUnit[info.unit](value))]
  } catch (err) {
    if (err instanceof SettingError || err instanceof NodeError) throw new LimitError(`limit ${info.name}: ${JSON.stringify(value)}: it takes ${allowedValues(info)}`)
    throw err
  }
}

/** `<name>=<value>`, as `--limit` takes it. */
export function parseLimitArg (text: string): [string, number] {
  const eq = text.indexOf('=')
  if (eq <= 0) throw new LimitError(`${JSON.stringify(text)} is not <name>=<value> (like maxInboundStreams=64, idleTimeoutMs=30s or maxInstanceMemoryBytes=256MiB)`)
  return parseLimit(text.slice(0, eq).trim(), text.slice(eq + 1).trim())
}

export function parseLogLevelArg (text: string): LogLevel {
  if (!(logLevels as readonly string[]).includes(text)) throw new SettingError(`log level ${JSON.stringify(text)}: use one of ${logLevels.join(', ')}`)
  return text as LogLevel
}

export function parseLogFormatArg (text: string): LogFormat {
  if (text !== 'text' && text !== 'json') throw new SettingError(`log format ${JSON.stringify(text)}: use text or json`)
  return text
}

/** A peer id for `--allow-peer`. */
export function parseAllowPeerArg (text: string): string {
  try {
    return checkPeerId(text, 'allow-peer')
  } catch (err) {
    if (err instanceof SecurityError) throw new SettingError(err.message.replace(/^allow-peer: /, ''))
    throw err
  }
}

export function parseLatticeArg (text: string): string {
  if (!isLatticeName(text)) throw new SettingError(`lattice name ${JSON.stringify(text)}: use 1-64 letters, digits, '.', '_' or '-'`)
  return text
}

/** `provider:` items: `[name=]<module>` strings, or maps `{name, module, config: {...}, secrets: {...}}`. */
function providersOf (value: unknown, fail: (message: string) => never): ProviderArg[] {
  const list = Array.isArray(value) ? value : [value]
  return list.map(item => {
    if (typeof item === 'string') return parseProviderArg(item)
    if (item === null || typeof item !== 'object') return fail('each provider is "[name=]<module>" or a map with module, name, config, secrets')
    const { module, name, config, secrets, ...rest } = item as Record<string, unknown>
    if (Object.keys(rest).length > 0) fail(`unknown provider key ${JSON.stringify(Object.keys(rest)[0])} (module, name, config, secrets)`)
    if (typeof module !== 'string') return fail('a provider needs module: <module> (builtin:keyvalue, builtin:postgres, builtin:blobstore, a file or a package)')
    const base = parseProviderArg(typeof name === 'string' ? `${name}=${module}` : module)
    const strings = (m: unknown, what: string): Record<string, string> => {
      if (m === undefined) return {}
      if (m === null || typeof m !== 'object' || Array.isArray(m)) return fail(`provider ${base.name}: ${what} must be a map of strings`)
      return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : fail(`provider ${base.name}: ${what}.${k} must be a string`)]))
    }
    const secretMap = strings(secrets, 'secrets')
    for (const [k, v] of Object.entries(secretMap)) parseProviderSetting(`${base.name}:${k}=${v}`, 'secret')
    return { ...base, config: strings(config, 'config'), secrets: secretMap }
  })
}

export function parseLinkArg (text: string): Link {
  try {
    return parseLink(text)
  } catch (err) {
    throw new SettingError((err as Error).message)
  }
}

/** One provider to run: the module, and the config and secrets given to it by name. */
export interface ProviderArg {
  /** How `--provider-config <name>:...` and `--provider-secret <name>:...` address it. */
  readonly name: string
  /** `builtin:keyvalue`, `builtin:postgres`, `builtin:blobstore`, a module file or a package. */
  readonly module: string
  readonly config: Readonly<Record<string, string>>
  /** `name -> env:VAR | file:/path`: resolved by the provider, never logged. */
  readonly secrets: Readonly<Record<string, string>>
}

const providerName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** `[name=]<module>`; the name defaults to the module's last path segment (`builtin:keyvalue` -> `keyvalue`). */
export function parseProviderArg (text: string): ProviderArg {
  const eq = text.indexOf('=')
  const named = eq > 0 && providerName.test(text.slice(0, eq)) && !text.slice(0, eq).includes(':')
  const module = named ? text.slice(eq + 1) : text
  if (module === '') throw new SettingError(`provider ${JSON.stringify(text)} names no module: write [name=]<module>, e.g. kv=builtin:keyvalue`)
  const name = named ? text.slice(0, eq) : module.replace(/^builtin:/, '').replace(/\.[cm]?[jt]s$/, '').split('/').pop() ?? module
  return { name, module, config: {}, secrets: {} }
}

/** `<name>:<key>=<value>`, for `--provider-config` and `--provider-secret`. */
export function parseProviderSetting (text: string, what: 'config' | 'secret'): { provider: string, key: string, value: string } {
  const colon = text.indexOf(':')
  const eq = text.indexOf('=', colon + 1)
  if (colon <= 0 || eq <= colon + 1) {
    const example = what === 'config' ? 'kv:path=/var/lib/wasmesh/kv.db' : 'pg:password=env:PGPASSWORD'
    throw new SettingError(`provider ${what} ${JSON.stringify(text)}: write <provider>:<key>=<value>, e.g. ${example}`)
  }
  const value = text.slice(eq + 1)
  if (what === 'secret' && !/^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$/.test(value)) {
    throw new SettingError(`provider secret ${text.slice(0, eq)}: give where it is, env:VARIABLE or file:/path, never the secret itself`)
  }
  return { provider: text.slice(0, colon), key: text.slice(colon + 1, eq), value }
}

/** A key's value as the file gave it, the line it is on (1-based) and the line of a key of its table, looked up only when needed. */
interface Entry {
  readonly value: unknown
  line (): number | undefined
  keyLine (key: string): number | undefined
}

/**
 * Reads a config file: `.yaml`/`.yml` as YAML, `.toml` as TOML (anything else is tried as YAML).
 * Relative paths in it (components, directories, grants) are relative to the file. Unknown keys,
 * values of the wrong type and syntax errors are `bad-config` errors naming the file, line and key;
 * limits the node cannot take are `invalid-config`.
 */
export async function loadConfigFile (file: string): Promise<NodeSettings> {
  const text = await readConfigText(file)
  const entries = extname(file) === '.toml' ? tomlEntries(file, text) : yamlEntries(file, text)
  return settingsOf(file, entries)
}

/** The file's text, refused past `maxConfigFileBytes` (read no further: it may be a device or a growing file). */
async function readConfigText (file: string): Promise<string> {
  const notRead = (err: unknown): never => {
    throw new ConfigError('config-not-found', `cannot read config file ${file}: ${(err as Error).message}`, { file }, { cause: err })
  }
  const handle = await open(file, 'r').catch(notRead)
  try {
    const buf = new Uint8Array(maxConfigFileBytes + 1)
    let length = 0
    while (length < buf.length) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length).catch(notRead)
      if (bytesRead === 0) break
      length += bytesRead
    }
    if (length > maxConfigFileBytes) throw new ConfigError('bad-config', `${file}: a config file is at most ${maxConfigFileBytes} bytes (maxConfigFileBytes)`, { file })
    return new TextDecoder().decode(buf.subarray(0, length))
  } finally {
    await handle.close()
  }
}

function yamlEntries (file: string, text: string): Map<string, Entry> {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const problem = doc.errors[0]
  if (problem !== undefined) {
    const line = lineCounter.linePos(problem.pos[0]).line
    // yaml reports a value nested past its recursion as the stack overflow it caught
    const message = /call stack/i.test(problem.message) ? 'values are nested too deeply' : problem.message.split('\n')[0]
    throw new ConfigError('bad-config', `${file}:${line}: ${message}`, { file, line })
  }
  const entries = new Map<string, Entry>()
  if (doc.contents === null) return entries
  if (!isMap(doc.contents)) throw new ConfigError('bad-config', `${file}:1: the file must be a mapping of keys (listen:, bootstrap:, ...)`, { file, line: 1 })
  const lineOf = (node: unknown): number | undefined => {
    const offset = isScalar(node) ? node.range?.[0] : undefined
    return offset === undefined ? undefined : lineCounter.linePos(offset).line
  }
  for (const pair of doc.contents.items) {
    const keyNode = pair.key
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode)
    const value: unknown = isScalar(pair.value) || pair.value === null ? (pair.value as { value?: unknown } | null)?.value ?? null : (pair.value as { toJSON(): unknown }).toJSON()
    const table = pair.value
    const keyLine = (k: string): number | undefined => isMap(table) ? lineOf(table.items.find(i => isScalar(i.key) && String(i.key.value) === k)?.key) : undefined
    entries.set(key, { value, line: () => lineOf(keyNode), keyLine })
  }
  return entries
}

function tomlEntries (file: string, text: string): Map<string, Entry> {
  let doc: Record<string, unknown>
  try {
    doc = parseToml(text) as Record<string, unknown>
  } catch (err) {
    if (err instanceof TomlError) {
      throw new ConfigError('bad-config', `${file}:${err.line}: ${err.message.split('\n')[0]}`, { file, line: err.line }, { cause: err })
    }
    throw err
  }
  const lines = text.split('\n')
  const quoted = (key: string): string => {
    const k = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    return `(${k}|"${k}"|'${k}')`
  }
  // smol-toml gives no positions for keys: find the line that defines each top-level key or table.
  const lineOf = (key: string): number | undefined => {
    const pattern = new RegExp(`^\\s*(\\[\\s*)?${quoted(key)}\\s*(=|\\]|\\.)`)
    const i = lines.findIndex(l => pattern.test(l))
    return i < 0 ? undefined : i + 1
  }
  // a table's own key: `key =` in its [table] section, or `table.key =`
  const keyLineOf = (table: string, key: string): number | undefined => {
    const header = new RegExp(`^\\s*\\[\\s*${quoted(table)}\\s*\\]`)
    const start = lines.findIndex(l => header.test(l))
    if (start >= 0) {
      const own = new RegExp(`^\\s*${quoted(key)}\\s*=`)
      for (let i = start + 1; i < lines.length && !/^\s*\[/.test(lines[i]); i++) if (own.test(lines[i])) return i + 1
    }
    const dotted = new RegExp(`^\\s*${quoted(table)}\\s*\\.\\s*${quoted(key)}\\s*=`)
    const i = lines.findIndex(l => dotted.test(l))
    return i < 0 ? undefined : i + 1
  }
  return new Map(Object.entries(doc).map(([key, value]) => [key, { value, line: () => lineOf(key), keyLine: k => keyLineOf(key, k) }]))
}

function settingsOf (file: string, entries: Map<string, Entry>): NodeSettings {
  const base = dirname(resolve(file))
  const out: Record<string, unknown> = {}
  for (const [key, entry] of entries) {
    const { value } = entry
    const line = entry.line()
    const fail = (message: string): never => {
      throw new ConfigError('bad-config', `${file}${line === undefined ? '' : `:${line}`}: key ${JSON.stringify(key)}: ${message}`, { file, line, key })
    }
    if (!(configKeys as readonly string[]).includes(key)) {
      throw new ConfigError('bad-config', `${file}${line === undefined ? '' : `:${line}`}: unknown key ${JSON.stringify(key)} (the keys are the flags of wasmesh node: ${configKeys.join(', ')})`, { file, line, key })
    }
    try {
      const strings = (): string[] => {
        const list = Array.isArray(value) ? value : [value]
        if (!list.every((v): v is string => typeof v === 'string')) fail('must be a string or a list of strings')
        return list as string[]
      }
      const string = (): string => typeof value === 'string' ? value : fail('must be a string')
      switch (key) {
        case 'listen': out.listen = strings().map(a => parseMultiaddrArg(a)); break
        case 'announce': out.announce = strings().map(a => parseMultiaddrArg(a)); break
        case 'bootstrap': out.bootstrap = strings().map(a => parseMultiaddrArg(a, { peerId: true })); break
        case 'component': out.component = strings().map(c => parseComponentArg(c, base)); break
        case 'oci-insecure': out.ociInsecure = strings().map(parseRegistryHostArg); break
        case 'grant': out.grant = strings().map(g => parseGrantArg(g, base)); break
        case 'inline': out.inline = strings().map(parseInlineArg); break
        case 'label': {
          if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
            const labels: Record<string, string> = {}
            for (const [k, v] of Object.entries(value)) {
              if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') fail(`label ${k} must be a string`)
              labels[k] = String(v)
            }
            out.label = labels
          } else {
            out.label = Object.fromEntries(strings().map(parseLabelArg))
          }
          break
        }
        case 'lattice': out.lattice = parseLatticeArg(string()); break
        case 'data-dir': out.dataDir = resolvePath(string(), base); break
        case 'cache-dir': out.cacheDir = resolvePath(string(), base); break
        case 'metrics': out.metrics = parseHostPortArg(string()); break
        case 'console': { const v = string(); out.console = v === 'auto' ? v : parseHostPortArg(v); break }
        case 'drain-timeout': out.drainTimeoutMs = parseMsArg(typeof value === 'number' ? value : string()); break
        case 'log-level': out.logLevel = parseLogLevelArg(string()); break
        case 'log-format': out.logFormat = parseLogFormatArg(string()); break
        case 'demo-host': out.demoHost = typeof value === 'boolean' ? value : fail('must be true or false'); break
        case 'relay': out.relay = typeof value === 'boolean' ? value : fail('must be true or false'); break
        case 'mdns': out.mdns = typeof value === 'boolean' ? value : fail('must be true or false'); break
        case 'provider': out.provider = providersOf(value, fail); break
        case 'provider-config': out.providerConfig = strings(); break
        case 'provider-secret': out.providerSecret = strings(); break
        case 'link': out.link = strings().map(parseLinkArg); break
        case 'config-value': out.configValue = componentSettingsOf(value, 'config-value', base, fail); break
        case 'secret': out.secret = componentSettingsOf(value, 'secret', base, fail); break
        case 'component-limit': out.componentLimit = strings().map(parseComponentLimitArg); break
        case 'limits': out.limits = limitsOf(file, line, entry.keyLine, value); break
        case 'require-signed': out.requireSigned = typeof value === 'boolean' ? value : fail('must be true or false'); break
        case 'trust-key': out.trustKey = strings().map(k => resolvePath(k, base)); break
        case 'lattice-key': out.latticeKey = resolvePath(string(), base); break
        case 'allow-peer': out.allowPeer = strings().map(parseAllowPeerArg); break
        case 'trust-file': out.trustFile = resolvePath(string(), base); break
        case 'member-cert': out.memberCert = resolvePath(string(), base); break
        case 'trust-admin': out.trustAdmin = strings().map(f => resolvePath(f, base)); break
        case 'policy': out.policy = resolvePath(string(), base); break
        case 'messaging': out.messaging = typeof value === 'boolean' ? value : fail('must be true or false'); break
        case 'control': out.control = typeof value === 'boolean' ? value : fail('must be true or false'); break
        case 'subscribe': out.subscribe = strings().map(parseSubscribeArg); break
        case 'http': { const v = string(); out.http = v === 'auto' ? v : parseHostPortArg(v); break }
        case 'http-route': out.httpRoute = strings().map(parseHttpRouteArg); break
      }
    } catch (err) {
      if (err instanceof SettingError) fail(err.message)
      throw err
    }
  }
  return out as NodeSettings
}

/** The `limits` table: each key a limit's name, each value a number or text in its unit; every problem `invalid-config` naming the file, line and limit. */
function limitsOf (file: string, line: number | undefined, keyLine: (key: string) => number | undefined, value: unknown): Record<string, number> {
  const at = (l: number | undefined): string => `${file}${l === undefined ? '' : `:${l}`}`
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError('invalid-config', `${at(line)}: limits: must be a table of <limit>: <value> (like maxInboundStreams: 64, idleTimeoutMs: 30s)`, { file, line, key: 'limits' })
  }
  const out: Record<string, number> = {}
  const from = new Map<string, string>()
  for (const [spelling, v] of Object.entries(value)) {
    try {
      const [name, n] = parseLimit(spelling, v)
      const twice = from.get(name)
      if (twice !== undefined) throw new LimitError(`limit ${name} is given twice (as ${twice} and ${spelling})`)
      from.set(name, spelling)
      out[name] = n
    } catch (err) {
      const l = keyLine(spelling) ?? line
      if (err instanceof LimitError) throw new ConfigError('invalid-config', `${at(l)}: limits.${spelling}: ${err.message}`, { file, line: l, key: `limits.${spelling}` }, { cause: err })
      throw err
    }
  }
  return out
}
