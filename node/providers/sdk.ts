// The provider SDK: native TypeScript that serves a WIT world's exports on the mesh exactly as a component does.

import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { functionOf, parseWit, printType, printWit } from '../../protocol/wit/index.ts'
import type { HandleType, Interface, Resource, Type, Wit } from '../../protocol/wit/model.ts'
import { encodeValues } from '../../protocol/value.ts'
import { silentLogger } from '../logger.ts'
import type { Logger } from '../logger.ts'
import type { LocalService, ServiceCallContext } from '../api.ts'
import { forEachHandle, handleKey, hasHandles, mapHandles } from '../runtime/values.ts'
import { interfaceCompatible } from '../../protocol/versions.ts'
import { ProviderError } from './errors.ts'
import { HandleTable } from './handles.ts'
import { checkSecretRefs, redact, redactingLogger, resolveSecrets } from './secrets.ts'

/**
 * One function of a provider: called with the WIT params in jco's conventions, returns the result
 * (or a promise of it). `never[]` lets any typed function be assigned without `any`.
 */
export type ProviderFunction = (...args: never[]) => unknown

type Callable = (...args: unknown[]) => unknown

export interface ProviderModule {
  readonly name: string
  /** WIT sources (file name -> text) holding the world the provider implements. */
  readonly wit: Readonly<Record<string, string>>
  /** The world, `ns:pkg/world@version`, whose exports are implemented. */
  readonly world: string
  /**
   * Implementations by exported interface id (as in the world, e.g. 'wasi:keyvalue/store@0.2.0-draft'),
   * then by component-model function name: 'open', '[constructor]r', '[method]bucket.get',
   * '[static]r.s', '[resource-drop]bucket' (optional). Params and results in jco's conventions
   * (protocol/README.md): params as positional args; a result<T,E> is returned as
   * { tag: 'ok'|'err', val }; a method gets its resource's JS object as its first arg `self`, and
   * returning a resource means returning the JS object: the SDK swaps objects and opaque handles.
   */
  readonly exports: Readonly<Record<string, Readonly<Record<string, ProviderFunction>>>>
  /** It holds or reaches data (a database, a store): under a node's policy no peer may call it unless a rule allows it. */
  readonly touchesData?: boolean
  start? (ctx: ProviderContext): Promise<void> | void
  stop? (): Promise<void> | void
}

export interface ProviderContext {
  /** Named key/value config of this provider instance. */
  readonly config: Readonly<Record<string, string>>
  /** Secrets resolved from environment variables or files (`env:NAME`, `file:/path` in the config), never logged, never in adverts or metrics. */
  secret (name: string): string | undefined
  /** Redacts every secret value from what it prints. */
  readonly log: Logger
  /** The node's data directory, when the provider runs in a node that has one: where embedded state belongs. */
  readonly dataDir?: string
}

export interface ProviderLimits {
  /** Resource handles held at once, all caller peers together. */
  readonly maxHandles: number
  /** Resource handles one caller peer may hold at once. */
  readonly maxHandlesPerPeer: number
}

export const defaultProviderLimits: ProviderLimits = Object.freeze({
  maxHandles: 100_000,
  maxHandlesPerPeer: 10_000
})

export interface ProviderOptions {
  readonly config?: Readonly<Record<string, string>>
  /** Secret name -> `env:NAME` | `file:/path`; the values are read at start. */
  readonly secrets?: Readonly<Record<string, string>>
  readonly log?: Logger
  readonly limits?: Partial<ProviderLimits>
  /** Concurrent calls advertised as this provider's capacity (routing spreads load by it). Default 64. */
  readonly capacity?: number
  /** Passed to the module as `ctx.dataDir`. */
  readonly dataDir?: string
}

export interface ProviderStats {
  /** Resource handles held by callers now. */
  readonly handles: number
  /** Calls taken since creation. */
  readonly calls: number
}

export interface Provider {
  /** What `node.serve` takes; serve it only after `start()` resolved. */
  readonly service: LocalService
  readonly module: ProviderModule
  start (): Promise<void>
  /** Stops taking calls, releases every handle (calling the module's drops), then stops the module. */
  stop (): Promise<void>
  stats (): ProviderStats
}

interface Implemented {
  readonly iface: Interface
  readonly impls: Readonly<Record<string, ProviderFunction>>
}

function messageOf (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function hasAsync (type: Type): boolean {
  switch (type.kind) {
    case 'future': case 'stream': return true
    case 'list': return hasAsync(type.element)
    case 'option': return hasAsync(type.some)
    case 'result': return (type.ok !== null && hasAsync(type.ok)) || (type.err !== null && hasAsync(type.err))
    case 'tuple': return type.elements.some(hasAsync)
    case 'record': return type.fields.some(f => hasAsync(f.type))
    case 'variant': return type.cases.some(c => c.type !== null && hasAsync(c.type))
    default: return false
  }
}

/** Structural check of what `import()` gave, naming the first thing that is wrong. */
function whyNotModule (m: unknown): string | undefined {
  if (typeof m !== 'object' || m === null) return `it is ${m === null ? 'null' : typeof m}, not an object`
  const o = m as Record<string, unknown>
  if (typeof o.name !== 'string' || o.name === '') return "'name' must be a non-empty string"
  if (typeof o.world !== 'string') return "'world' must be a string like ns:pkg/world@version"
  if (typeof o.wit !== 'object' || o.wit === null || Object.values(o.wit).some(v => typeof v !== 'string')) return "'wit' must map file names to WIT text"
  if (typeof o.exports !== 'object' || o.exports === null) return "'exports' must map interface ids to implementations"
  for (const [id, impls] of Object.entries(o.exports)) {
    if (typeof impls !== 'object' || impls === null) return `'exports' of ${id} must map function names to functions`
  }
  if (o.start !== undefined && typeof o.start !== 'function') return "'start' must be a function"
  if (o.stop !== undefined && typeof o.stop !== 'function') return "'stop' must be a function"
  return undefined
}

/** The world's exported interfaces, matched against the module's implementations; every mismatch found at once. */
function checkModule (module: ProviderModule): { wit: Wit, implemented: Implemented[] } {
  const problems: string[] = []
  const fail = (): never => {
    throw new ProviderError('provider-mismatch', `provider ${module.name} does not match its WIT:\n  - ${problems.join('\n  - ')}`)
  }
  const why = whyNotModule(module)
  if (why !== undefined) throw new ProviderError('provider-mismatch', `provider module: ${why}`)
  let wit: Wit
  try {
    wit = parseWit(module.wit)
  } catch (err) {
    throw new ProviderError('provider-mismatch', `provider ${module.name}: its WIT does not parse: ${messageOf(err)}`, { cause: err })
  }
  const world = wit.findWorld(module.world)
  if (world === undefined) {
    const worlds = wit.packages.flatMap(p => [...p.worlds.values()].map(w => w.id))
    throw new ProviderError('provider-mismatch', `provider ${module.name}: no world ${module.world} in its WIT (worlds: ${worlds.join(', ') || 'none'})`)
  }
  const implemented: Implemented[] = []
  for (const [key, item] of world.exports) {
    if (item.kind !== 'interface') {
      problems.push(`the world exports ${item.kind} ${key}: a provider exports interfaces only (the mesh routes by interface)`)
      continue
    }
    const iface = item.interface
    const impls = module.exports[iface.id]
    if (impls === undefined) {
      problems.push(`no implementation of the exported interface ${iface.id} (exports['${iface.id}'])`)
      continue
    }
    for (const func of iface.functions.values()) {
      const impl = impls[func.name]
      const wanted = func.params.map(p => p.name).join(', ')
      if (impl === undefined) problems.push(`${iface.id}: missing function '${func.name}' (${wanted})`)
      else if (typeof impl !== 'function') problems.push(`${iface.id}: '${func.name}' is ${typeof impl}, not a function`)
      else if (impl.length !== func.params.length) {
        problems.push(`${iface.id}: '${func.name}' takes ${impl.length} parameter${impl.length === 1 ? '' : 's'}, its WIT has ${func.params.length} (${wanted})`)
      }
    }
    for (const [name, impl] of Object.entries(impls)) {
      if (iface.functions.has(name)) continue
      const drop = functionOf(iface, name)
      if (drop === undefined || !name.startsWith('[resource-drop]')) {
        problems.push(`${iface.id}: '${name}' is not a function of the interface (it has: ${[...iface.functions.keys()].join(', ')})`)
      } else if (typeof impl !== 'function') {
        problems.push(`${iface.id}: '${name}' is ${typeof impl}, not a function`)
      } else if (impl.length !== 1) {
        problems.push(`${iface.id}: '${name}' takes ${impl.length} parameters, a drop takes 1 (self)`)
      }
    }
    implemented.push({ iface, impls })
  }
  const exportedIds = new Set(implemented.map(i => i.iface.id))
  for (const id of Object.keys(module.exports)) {
    if (!exportedIds.has(id) && !problems.some(p => p.includes(id))) {
      problems.push(`exports['${id}'] is not an interface the world ${module.world} exports (it exports: ${[...exportedIds].join(', ') || 'nothing'})`)
    }
  }
  if (implemented.length === 0 && problems.length === 0) problems.push(`the world ${module.world} exports nothing`)
  if (problems.length > 0) fail()
  return { wit, implemented }
}

/**
 * Checks `module` against its WIT (every exported function implemented with the WIT's number of
 * parameters, nothing extra) and wraps it as a `LocalService`. Nothing is called until `start()`.
 */
export async function createProvider (module: ProviderModule, opts: ProviderOptions = {}): Promise<Provider> {
  const { wit, implemented } = checkModule(module)
  const secretRefs = { ...opts.secrets }
  checkSecretRefs(secretRefs)
  const limits: ProviderLimits = { ...defaultProviderLimits, ...opts.limits }
  for (const [k, v] of Object.entries(limits)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new ProviderError('invalid-config', `limit ${k} must be a positive integer, got ${String(v)}`)
  }
  const capacity = opts.capacity ?? 64
  if (!Number.isSafeInteger(capacity) || capacity < 1) throw new ProviderError('invalid-config', `capacity must be a positive integer, got ${String(capacity)}`)

  let secrets = new Map<string, string>()
  const log = redactingLogger((opts.log ?? silentLogger).child(module.name), () => secrets.values())
  const text = printWit(wit)
  const handles = new HandleTable(limits)
  const byId = new Map(implemented.map(i => [i.iface.id, i]))
  let state: 'created' | 'starting' | 'started' | 'stopped' = 'created'
  let calls = 0

  function find (iface: string): Implemented | undefined {
    const exact = byId.get(iface)
    if (exact !== undefined) return exact
    for (const [id, i] of byId) if (interfaceCompatible(iface, id)) return i
    return undefined
  }

  /** The module's drop for a resource: declared with the resource's own interface, else with any exported interface. */
  function dropOf (resource: Resource): ProviderFunction | undefined {
    const name = `[resource-drop]${resource.name}`
    const own = byId.get(resource.owner)?.impls[name]
    if (own !== undefined) return own
    for (const i of byId.values()) {
      const r = i.iface.types.get(resource.name)
      if (r?.kind === 'resource' && r.owner === resource.owner && i.impls[name] !== undefined) return i.impls[name]
    }
    return undefined
  }

  /** Runs the module's drop of released handles; a failing drop is logged, never thrown at a caller who let go. */
  async function release (entries: ReadonlyArray<{ resource: string, value: unknown }>, resources: (key: string) => Resource | undefined): Promise<void> {
    await Promise.all(entries.map(async entry => {
      const r = resources(entry.resource)
      const drop = r === undefined ? undefined : dropOf(r)
      if (drop === undefined) return
      try {
        await (drop as Callable)(entry.value)
      } catch (err) {
        log.warn(`dropping a ${entry.resource} failed: ${messageOf(err)}`)
      }
    }))
  }

  const resourcesByKey = new Map<string, Resource>()
  for (const { iface } of implemented) {
    for (const t of iface.types.values()) if (t.kind === 'resource') resourcesByKey.set(`${t.owner}#${t.name}`, t)
  }
  const resourceOf = (key: string): Resource | undefined => resourcesByKey.get(key)

  /** A provider's failure, as the caller sees it: its string code (else `internal`), its message without a stack, secrets redacted. */
  function callError (err: unknown, where: string): ProviderError {
    if (err instanceof ProviderError) return err
    const code = (err as { code?: unknown } | null)?.code
    const message = redact(messageOf(err), secrets.values())
    if (typeof code === 'string' && code !== '') {
      log.debug(`${where} failed (${code}): ${message}`)
      return new ProviderError(code, `${where}: ${message}`)
    }
    log.warn(`${where} threw: ${err instanceof Error && err.stack !== undefined ? redact(err.stack, secrets.values()) : message}`)
    return new ProviderError('internal', `${where} failed: ${message}`)
  }

  async function call (ifaceId: string, name: string, params: unknown[], ctx: ServiceCallContext): Promise<unknown[]> {
    calls++
    if (state !== 'started') throw new ProviderError('provider-stopped', `provider ${module.name} is ${state === 'stopped' ? 'stopped' : 'not started'}`)
    const entry = find(ifaceId)
    const func = functionOf(entry?.iface, name)
    if (entry === undefined || func === undefined) throw new ProviderError('no-such-function', `provider ${module.name} has no function ${name} in ${ifaceId}`)
    const where = `${entry.iface.id}#${name}`
    const caller = ctx.caller

    if (name.startsWith('[resource-drop]') && !entry.iface.functions.has(name)) {
      const type = func.params[0].type as HandleType
      const found = handles.lookup(caller, params[0], type.resource, where)
      const removed = handles.remove(found.key)
      if (removed !== undefined) await release([removed], resourceOf)
      return []
    }

    // Handles in params become the provider's objects; an owned one leaves the table (it is the provider's to drop now).
    const args = func.params.map((p, i) => mapHandles(p.type, params[i], (t, v) => {
      const found = handles.lookup(caller, v, t.resource, `${where} param ${p.name}`)
      if (t.kind === 'own') handles.remove(found.key)
      return found.value
    }))

    const resultType = func.results[0]
    const givesHandles = resultType !== undefined && hasHandles(resultType)
    if (givesHandles) {
      const full = handles.room(caller, 1)
      if (full !== undefined) throw full
    }

    let value: unknown
    try {
      value = await (entry.impls[name] as Callable)(...args)
    } catch (err) {
      throw callError(err, where)
    }
    if (resultType === undefined) return []

    let result = value
    if (givesHandles) {
      const made: unknown[] = []
      forEachHandle(resultType, value, (_t, v) => { made.push(v) })
      const full = handles.room(caller, made.length)
      if (full !== undefined) {
        await dropMade(resultType, value)
        throw full
      }
      result = mapHandles(resultType, value, (t, v) => {
        if (v === undefined || v === null) throw new ProviderError('internal', `${where} returned ${String(v)} for a ${t.resource.name}: return the resource's object`)
        return handles.add(caller, t.resource, v)
      })
    }
    if (!hasAsync(resultType)) {
      try {
        encodeValues([resultType], [result])
      } catch (err) {
        if (givesHandles) await dropGiven(resultType, result)
        throw new ProviderError('internal', `${where} returned a value that is not a ${printType(resultType)}: ${messageOf(err)}`, { cause: err })
      }
    }
    return [result]
  }

  /** Releases the handles a result had been given before it turned out not to encode. */
  async function dropGiven (type: Type, result: unknown): Promise<void> {
    const entries: Array<{ resource: string, value: unknown }> = []
    forEachHandle(type, result, (_t, v) => {
      if (!(v instanceof Uint8Array)) return
      const removed = handles.remove(handleKey(v))
      if (removed !== undefined) entries.push(removed)
    })
    await release(entries, resourceOf)
  }

  /** Drops objects made for a result that could not be given out (a handle limit). */
  async function dropMade (type: Type, value: unknown): Promise<void> {
    const entries: Array<{ resource: string, value: unknown }> = []
    forEachHandle(type, value, (t, v) => { entries.push({ resource: `${t.resource.owner}#${t.resource.name}`, value: v }) })
    await release(entries, resourceOf)
  }

  const service: LocalService = {
    digest: createHash('sha256').update(text).update('\n').update(module.name).digest('hex'),
    name: module.name,
    interfaces: implemented.map(i => i.iface),
    wit: text,
    capacity,
    ...(module.touchesData === true ? { touchesData: true } : {}),
    call,
    peerGone (peer) {
      const gone = handles.removeAll(peer)
      if (gone.length === 0) return
      log.debug(`released ${gone.length} handle${gone.length === 1 ? '' : 's'} of ${peer}, which disconnected`)
      void release(gone, resourceOf)
    }
  }

  return {
    service,
    module,
    async start () {
      if (state === 'started') return
      if (state !== 'created') throw new ProviderError('provider-start-failed', `provider ${module.name} was already ${state === 'starting' ? 'starting' : 'stopped'}: create a new one`)
      state = 'starting'
      try {
        secrets = await resolveSecrets(secretRefs)
        const ctx: ProviderContext = {
          config: Object.freeze({ ...opts.config }),
          secret: name => secrets.get(name),
          log,
          ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {})
        }
        await module.start?.(ctx)
      } catch (err) {
        state = 'stopped'
        const message = redact(messageOf(err), secrets.values())
        log.error(`failed to start: ${message}`)
        throw new ProviderError('provider-start-failed', `provider ${module.name} failed to start: ${message}`, { cause: err })
      }
      state = 'started'
    },
    async stop () {
      if (state === 'stopped' || state === 'created') {
        state = 'stopped'
        return
      }
      state = 'stopped'
      await release(handles.removeAll(), resourceOf)
      try {
        await module.stop?.()
      } catch (err) {
        log.warn(`stop failed: ${redact(messageOf(err), secrets.values())}`)
      }
    },
    stats: () => ({ handles: handles.size, calls })
  }
}

/** `builtin:<name>` specifiers and the module files they load. */
export const builtinProviders: Readonly<Record<string, URL>> = Object.freeze({
  keyvalue: new URL('./keyvalue/index.ts', import.meta.url),
  blobstore: new URL('./blobstore/index.ts', import.meta.url),
  postgres: new URL('./postgres/index.ts', import.meta.url)
})

function looksLikePath (specifier: string): boolean {
  return specifier.startsWith('.') || isAbsolute(specifier) || /\.(m?[jt]s|cjs)$/.test(specifier) || existsSync(specifier)
}

/**
 * Imports a provider: `builtin:keyvalue`, a module file (`./my-provider.ts`, resolved from the
 * working directory) or a package name (resolved from the working directory first). The default
 * export is a ProviderModule, or a function returning one (so that each call gets a fresh instance).
 */
export async function loadProviderModule (specifier: string): Promise<ProviderModule> {
  let url: string
  if (specifier.startsWith('builtin:')) {
    const builtin = builtinProviders[specifier.slice('builtin:'.length)]
    if (builtin === undefined) throw new ProviderError('provider-load-failed', `no built-in provider ${specifier} (there are: ${Object.keys(builtinProviders).map(n => `builtin:${n}`).join(', ')})`)
    url = builtin.href
  } else if (looksLikePath(specifier)) {
    url = pathToFileURL(resolve(specifier)).href
  } else {
    try {
      url = pathToFileURL(createRequire(join(process.cwd(), 'package.json')).resolve(specifier)).href
    } catch {
      url = specifier
    }
  }
  let loaded: { default?: unknown }
  try {
    loaded = await import(url) as { default?: unknown }
  } catch (err) {
    throw new ProviderError('provider-load-failed', `cannot import provider ${specifier}: ${messageOf(err)}`, { cause: err })
  }
  let candidate = loaded.default
  if (typeof candidate === 'function') {
    try {
      candidate = await (candidate as () => unknown)()
    } catch (err) {
      throw new ProviderError('provider-load-failed', `provider ${specifier}: its default export threw: ${messageOf(err)}`, { cause: err })
    }
  }
  if (candidate === undefined) throw new ProviderError('provider-load-failed', `provider ${specifier} has no default export (export default a ProviderModule)`)
  const why = whyNotModule(candidate)
  if (why !== undefined) throw new ProviderError('provider-load-failed', `provider ${specifier}: its default export is not a ProviderModule: ${why}`)
  return candidate as ProviderModule
}
