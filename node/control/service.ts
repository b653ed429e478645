// The control service: decodes each control call's arguments, checks them against the limits, and changes the node through its ControlHost.

import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { isReservedLabel } from '../../protocol/advert.ts'
import type { LocalService, ServiceCallContext } from '../api.ts'
import { LABEL_KEY, LINK_NAME, checkLinks, parseLink, printLink } from '../links.ts'
import type { Link } from '../links.ts'
import { createProvider, loadProviderModule, builtinProviders } from '../providers/sdk.ts'
import type { Provider } from '../providers/sdk.ts'
import { createConfigStore, checkConfigName } from './config-store.ts'
import { ControlError } from './errors.ts'
import { createEventHub } from './events.ts'
import type { Control, ControlHost } from './index.ts'
import { controlInterface, controlWit } from './wit.ts'

const IFACE = 'wasmesh:lattice/control@0.1.0'
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const bytes = (s: string): number => Buffer.byteLength(s, 'utf8')

/** The version in wasmesh's package.json (from node/control/ in the repository, dist/node/control/ installed). */
function packageVersion (): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    const file = new URL(up, import.meta.url)
    if (existsSync(file)) {
      try { return String((JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version ?? 'unknown') } catch { return 'unknown' }
    }
  }
  return 'unknown'
}

function bad (what: string, expected: string): ControlError {
  return new ControlError('invalid-argument', `${what}: expected ${expected}`)
}

/** Own calls skip the wire's codec: every argument is checked here as well. */
function str (v: unknown, what: string): string {
  if (typeof v !== 'string') throw bad(what, 'a string')
  return v
}

function u32 (v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw bad(what, 'a u32')
  return v
}

function strings (v: unknown, what: string, max: number): string[] {
  if (!Array.isArray(v) || !v.every(s => typeof s === 'string')) throw bad(what, 'a list of strings')
  if (v.length > max) throw new ControlError('limit-exceeded', `${what} has ${v.length} items, past ${max}`)
  return v as string[]
}

function pairs (v: unknown, what: string, max: number): Array<[string, string]> {
  if (!Array.isArray(v) || !v.every(p => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string')) throw bad(what, 'a list of (string, string) pairs')
  if (v.length > max) throw new ControlError('limit-exceeded', `${what} has ${v.length} pairs, past ${max}`)
  return v as Array<[string, string]>
}

function record (v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(what, 'a record')
  return v as Record<string, unknown>
}

function checkLabel (key: string, value: string | undefined, maxValueBytes: number): void {
  if (!LABEL_KEY.test(key)) throw new ControlError('invalid-argument', `label key ${JSON.stringify(key.slice(0, 80))}: use 1-63 of A-Z a-z 0-9 . _ / - starting with a letter or digit`)
  if (isReservedLabel(key)) throw new ControlError('invalid-argument', `label key ${key}: keys starting with wasmesh. are reserved for the advert's own fields`)
  if (value !== undefined && bytes(value) > maxValueBytes) throw new ControlError('limit-exceeded', `label ${key}: its value of ${bytes(value)} bytes is past maxLabelValueBytes (${maxValueBytes})`)
}

/** A link as the WIT record carries it. */
interface WireLink { component: string, target: string, name: string, labels: Array<[string, string]>, peer: string }

function toWire (l: Link): WireLink {
  return { component: l.component, target: l.target, name: l.name ?? '', labels: Object.entries(l.labels ?? {}), peer: l.peer ?? '' }
}

interface Scaled { readonly reference: string, readonly replicas: number, readonly config: readonly string[] }
interface Started { readonly provider: Provider, readonly reference: string }

export function createControlService (host: ControlHost): Control {
  const { limits, log } = host
  const events = createEventHub({ peer: host.self, maxEventWatchers: limits.maxEventWatchers, maxEventQueue: limits.maxEventQueue })
  const configs = createConfigStore(limits)
  const iface = controlInterface()
  const version = packageVersion()
  const startedAt = performance.now()
  /** Components scaled over control, by digest. */
  const scaled = new Map<string, Scaled>()
  /** Providers started over control, by name. */
  const providers = new Map<string, Started>()
  /** Changes run one at a time: two scales of one component must not interleave their unload and load. */
  let queue: Promise<unknown> = Promise.resolve()
  const serial = async <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn)
    queue = run.catch(() => {})
    return await run
  }

  function mayControl (caller: string): void {
    if (caller === host.self || host.open || host.policyActive()) return
    throw new ControlError('control-refused', `this node does not let peers control it: run it with --control, or give it a policy with a rule allowing ${IFACE} to ${caller}`)
  }

  function findComponent (ref: string): { id: string, name: string } | undefined {
    const all = host.components()
    return all.find(c => c.digest === ref) ?? all.find(c => scaled.get(c.digest)?.reference === ref) ?? all.find(c => c.name === ref)
  }

  function inventory (): unknown {
    const components = host.components()
    const digests = new Set(components.map(c => c.digest))
    const byDigest = new Map(host.services().map(s => [s.digest, s]))
    const started = new Map([...providers.values()].map(p => [p.provider.service.digest, p.reference]))
    return {
      peer: host.self,
      version,
      uptimeMs: BigInt(Math.round(performance.now() - startedAt)),
      labels: Object.entries(host.labels()),
      components: components.map(c => {
        const s = scaled.get(c.digest)
        let instances = 0
        try { instances = host.componentStats(c.id).instances } catch { /* unloaded meanwhile */ }
        return {
          name: c.name,
          digest: c.digest,
          reference: s?.reference ?? '',
          instances,
          maxInstances: s?.replicas ?? byDigest.get(c.digest)?.capacity ?? 0,
          exports: c.exports.interfaces.map(i => i.id),
          config: [...(s?.config ?? [])]
        }
      }),
      providers: host.services()
        .filter(s => !digests.has(s.digest) && s !== service)
        .map(s => ({ name: s.name, digest: s.digest, reference: started.get(s.digest) ?? '', exports: s.interfaces.map(i => i.id) })),
      links: host.links().map(toWire),
      configs: configs.names()
    }
  }

  async function scale (request: unknown): Promise<string> {
    const r = record(request, 'scale-component request')
    const reference = str(r.reference, 'reference')
    const replicas = u32(r.replicas, 'replicas')
    const configNames = strings(r.config ?? [], 'config', limits.maxConfigs)
    if (reference === '' || reference.includes('\u0000')) throw bad('reference', 'a file path (or a sha256:/OCI reference)')
    if (bytes(reference) > limits.maxReferenceBytes) throw new ControlError('limit-exceeded', `reference of ${bytes(reference)} bytes is past maxReferenceBytes (${limits.maxReferenceBytes})`)
    if (replicas > limits.maxReplicas) throw new ControlError('limit-exceeded', `replicas ${replicas} is past maxReplicas (${limits.maxReplicas})`)
    for (const n of configNames) checkConfigName(n)
    return await serial(async () => {
      const old = findComponent(reference)
      if (replicas === 0) {
        if (old === undefined) return ''
        await unloadComponent(old)
        return old.id
      }
      const config = configs.merge(configNames)
      // A rescale loads the component again with its new instance limit: the old one is unloaded first (same digest).
      if (old !== undefined) await unloadComponent(old, true)
      try {
        // The reference passes through as the source, so that sha256:/OCI references work once ComponentSpec.source takes them.
        const component = await host.load({ source: reference, limits: { maxInstances: replicas }, config })
        scaled.set(component.digest, { reference, replicas, config: configNames })
        events.emit('component-scaled', component.name, { digest: component.digest, replicas: String(replicas), reference })
        return component.digest
      } catch (err) {
        const message = (err as Error).message
        events.emit('component-failed', reference, { reason: message })
        throw new ControlError('load-failed', `${reference} did not load: ${message}`, { cause: err })
      }
    })
  }

  async function unloadComponent (c: { id: string, name: string }, quiet = false): Promise<void> {
    await host.unload(c.id)
    scaled.delete(c.id)
    if (!quiet) events.emit('component-scaled', c.name, { digest: c.id, replicas: '0' })
  }

  async function startProvider (reference: string, name: string, configNames: string[]): Promise<string> {
    if (!reference.startsWith('builtin:') || !Object.hasOwn(builtinProviders, reference.slice('builtin:'.length))) {
      // A peer never makes this node import code from a path: only the built-ins start over control.
      throw bad(`provider ${JSON.stringify(reference.slice(0, 80))}`, `a built-in provider (${Object.keys(builtinProviders).map(n => `builtin:${n}`).join(', ')})`)
    }
    if (!NAME.test(name)) throw bad(`provider name ${JSON.stringify(name.slice(0, 80))}`, '1-64 of A-Z a-z 0-9 . _ -')
    for (const n of configNames) checkConfigName(n)
    return await serial(async () => {
      if (providers.has(name)) throw new ControlError('invalid-argument', `a provider named ${name} runs here already: stop it first, or pick another name`)
      const config = configs.merge(configNames)
      try {
        const module = await loadProviderModule(reference)
        const provider = await createProvider(module, { config, log: log.child(name), dataDir: host.dataDir })
        await provider.start()
        host.serve(provider.service)
        providers.set(name, { provider, reference })
        events.emit('provider-started', name, { reference, digest: provider.service.digest })
        return provider.service.digest
      } catch (err) {
        const message = (err as Error).message
        events.emit('provider-failed', name, { reference, reason: message })
        throw new ControlError('provider-failed', `${reference} did not start: ${message}`, { cause: err })
      }
    })
  }

  async function stopProvider (name: string): Promise<void> {
    await serial(async () => {
      const p = providers.get(name)
      if (p === undefined) throw new ControlError('not-found', `no provider named ${JSON.stringify(name.slice(0, 80))} was started over control here (wasmesh get inventory lists them)`)
      providers.delete(name)
      host.unserve(p.provider.service.digest)
      await p.provider.stop()
      events.emit('provider-stopped', name, { reference: p.reference })
    })
  }

  function putLink (v: unknown): void {
    const r = record(v, 'link')
    const component = str(r.component, 'link component')
    const target = str(r.target, 'link target')
    const name = str(r.name, 'link name')
    const labels = pairs(r.labels, 'link labels', limits.maxLabels)
    const peer = str(r.peer, 'link peer')
    if (name !== '' && !LINK_NAME.test(name)) throw bad(`link name ${JSON.stringify(name.slice(0, 80))}`, '1-64 of A-Z a-z 0-9 . _ -')
    if ((peer === '') === (labels.length === 0)) throw bad('link', 'either labels or a peer (not both, not neither)')
    const labelMap: Record<string, string> = {}
    for (const [k, val] of labels) { checkLabel(k, val, limits.maxLabelValueBytes); labelMap[k] = val }
    const link: Link = {
      component, target,
      ...(name !== '' && name !== 'default' ? { name } : {}),
      ...(peer !== '' ? { peer } : { labels: labelMap })
    }
    if (host.links().length >= limits.maxLinks) throw new ControlError('limit-exceeded', `this node holds ${host.links().length} links, its maxLinks: delete one first`)
    // the same checks a --link gets (the syntax of component and target, contradictions with other links)
    try {
      // the syntax a --link is held to (printed and read back), then contradictions with the links in force
      parseLink(printLink(link))
      checkLinks([...host.links(), link])
    } catch (err) {
      throw new ControlError('invalid-argument', (err as Error).message)
    }
    host.putLink(link)
    events.emit('link-set', `${component}:${target}`, { name: name === '' ? 'default' : name, ...(peer !== '' ? { peer } : { labels: labels.map(([k, val]) => `${k}=${val}`).join(',') }) })
  }

  function setLabel (key: string, value: string | undefined): boolean {
    checkLabel(key, value, limits.maxLabelValueBytes)
    const labels = { ...host.labels() }
    const had = Object.hasOwn(labels, key)
    if (value === undefined) {
      if (!had) return false
      delete labels[key]
    } else {
      if (!had && Object.keys(labels).length >= limits.maxLabels) throw new ControlError('limit-exceeded', `this node has ${Object.keys(labels).length} labels, its maxLabels`)
      labels[key] = value
    }
    host.setLabels(labels)
    events.emit('labels-changed', key, value === undefined ? { deleted: 'true' } : { value })
    return true
  }

  const ok = (val?: unknown): unknown[] => [{ tag: 'ok', val }]

  /** Failures the WIT types carry (`result<_, control-error>`); anything else goes back as an error frame. */
  async function answer (run: () => unknown): Promise<unknown[]> {
    try {
      return ok(await run())
    } catch (err) {
      if (err instanceof ControlError && err.code !== 'control-refused') return [{ tag: 'err', val: { code: err.code, message: err.message } }]
      throw err
    }
  }

  async function call (_iface: string, func: string, params: unknown[], ctx: ServiceCallContext): Promise<unknown[]> {
    mayControl(ctx.caller)
    const p = (i: number): unknown => params[i]
    switch (func) {
      case 'get-inventory': return [inventory()]
      case 'get-network': return [host.network()]
      case 'scale-component': return await answer(async () => await scale(p(0)))
      case 'stop-component': return await answer(async () => {
        const ref = str(p(0), 'component')
        await serial(async () => {
          const c = findComponent(ref)
          if (c === undefined) throw new ControlError('not-found', `no component ${JSON.stringify(ref.slice(0, 80))} runs here (by name, digest or reference; wasmesh get inventory lists them)`)
          await unloadComponent(c)
        })
      })
      case 'start-provider': return await answer(async () => await startProvider(str(p(0), 'reference'), str(p(1), 'name'), strings(p(2), 'config', limits.maxConfigs)))
      case 'stop-provider': return await answer(async () => { await stopProvider(str(p(0), 'name')) })
      case 'put-link': return await answer(() => { putLink(p(0)) })
      case 'delete-link': return await answer(() => {
        const component = str(p(0), 'component')
        const target = str(p(1), 'target')
        const name = str(p(2), 'name')
        const n = host.deleteLinks(component, target, name === '' || name === 'default' ? undefined : name)
        if (n > 0) events.emit('link-deleted', `${component}:${target}`, { name: name === '' ? 'default' : name })
        return n
      })
      case 'list-links': return [host.links().map(toWire)]
      case 'put-config': return await answer(() => {
        const name = str(p(0), 'name')
        configs.put(name, pairs(p(1), 'values', limits.maxConfigEntries))
        events.emit('config-set', name)
      })
      case 'get-config': {
        const c = configs.get(str(p(0), 'name'))
        return [c === undefined ? undefined : Object.entries(c)]
      }
      case 'delete-config': return await answer(() => {
        const name = str(p(0), 'name')
        const gone = configs.delete(name)
        if (gone) events.emit('config-deleted', name)
        return gone
      })
      case 'put-label': return await answer(() => { setLabel(str(p(0), 'key'), str(p(1), 'value')) })
      case 'delete-label': return await answer(() => setLabel(str(p(0), 'key'), undefined))
      case 'watch-events': return [events.watch()]
      default: throw new ControlError('invalid-argument', `${IFACE} has no function ${func}`)
    }
  }

  const service: LocalService = {
    // its WIT's digest: peers fetch the WIT to call it by this, as for a component
    digest: createHash('sha256').update(controlWit).digest('hex'),
    name: 'control',
    interfaces: [iface],
    wit: controlWit,
    // Under a policy, nobody may call it unless a rule allows it (as for a data store).
    touchesData: true,
    // Served, not advertised: a control call names its peer, so no router ever needs to find "a server" of it.
    advertised: false,
    capacity: 16,
    call
  }

  return {
    service,
    events,
    config: names => configs.merge(names),
    start () {
      events.emit('host-started', host.self, { version })
    },
    async stop () {
      events.emit('host-stopping', host.self)
      events.close()
      // the runtime's components go with the node's stop; a restart starts from init.components again
      scaled.clear()
      for (const [name, p] of [...providers]) {
        providers.delete(name)
        host.unserve(p.provider.service.digest)
        await p.provider.stop().catch((err: Error) => { log.warn(`provider ${name} did not stop cleanly: ${err.message}`) })
      }
    },
    stats: () => events.stats()
  }
}
