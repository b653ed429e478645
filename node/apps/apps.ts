// `createApps`: the store, replication, placement and this node's share wired together, and the `Apps` a node offers.

import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PeerId } from '@libp2p/interface'
import type { Route } from '../http/index.ts'
import { createProvider, loadProviderModule } from '../providers/sdk.ts'
import { AppError } from './errors.ts'
import { parseManifest } from './manifest.ts'
import type { AppManifest } from './manifest.ts'
import type { Host } from './placement.ts'
import { createHostView } from './hosts.ts'
import { createReconciler, StartProblem } from './reconcile.ts'
import type { Assignment, Reconciler, Started } from './reconcile.ts'
import { newer, signAppRecord, verifyAppRecord } from './record.ts'
import type { SignedAppRecord } from './record.ts'
import { createReplicator } from './replicate.ts'
import type { IngestResult } from './replicate.ts'
import { decodeStatus, encodeStatus } from './status.ts'
import { createAppStore } from './store.ts'
import { appStatus, hostsOf, manifestOf, versionOf } from './view.ts'

import { defaultAppLimits } from './limits.ts'
import type { AppLimits } from './limits.ts'
import type { AppsAgent, AppsInit, DeployResult } from './index.ts'

/** The name a replica's component is loaded (and advertised) under: `<app>.<component>`. */
export function replicaName (app: string, component: string): string {
  return `${app}.${component}`
}

/** Built-in provider config naming files on the node (keyvalue `path`, blobstore `root`, postgres `ssl-ca-file`): refused from manifests. */
const nodeFileKeys = new Set(['path', 'root', 'ssl-ca-file'])

/** wasmCloud's http-server listens on 0.0.0.0:8000 unless a link's source config says `address`. */
const defaultHttpAddress = '0.0.0.0:8000'

export function createApps (init: AppsInit): AppsAgent {
  const limits: AppLimits = { ...defaultAppLimits, ...init.limits }
  const { log, self } = init
  const store = createAppStore(init.dataDir === undefined ? undefined : init.dataDir, limits)
  const manifests = new Map<string, AppManifest>()
  const hostView = createHostView(limits)
  let startedAt = performance.now()
  let timer: ReturnType<typeof setInterval> | undefined
  let debounce: ReturnType<typeof setTimeout> | undefined
  let unwatch: (() => void) | undefined
  let running = false

  function manifest (r: SignedAppRecord): AppManifest {
    let m = manifests.get(r.id)
    if (m === undefined) {
      m = manifestOf(r, limits)
      manifests.set(r.id, m)
      if (manifests.size > limits.maxApps * 2) manifests.delete(manifests.keys().next().value as string)
    }
    return m
  }

  /** Hosts placement counts: live nodes seen long enough (hosts.ts), this node once it has run that long. */
  function hosts (): Host[] {
    return hostView.hosts(hostsOf(init.peers().filter(p => p.local ? init.host : p.unreachable !== true)), performance.now(), self, startedAt)
  }

  function advertised (): Map<string, number> {
    const out = new Map<string, number>()
    for (const p of init.peers()) {
      if (p.local) continue
      for (const e of decodeStatus(p.apps)) {
        if (e.problem !== undefined) continue
        const k = `${e.app}/${e.component}@${e.id}`
        out.set(k, (out.get(k) ?? 0) + e.running)
      }
    }
    return out
  }

  const reconciler: Reconciler = createReconciler({
    self,
    log,
    timings: limits,
    apps: () => store.current().filter(r => r.record.kind === 'deploy').flatMap(record => {
      try { return [{ record, manifest: manifest(record) }] } catch { return [] }
    }),
    hosts: () => init.host ? hosts() : [],
    advertised,
    start: startAssignment,
    changed: init.changed
  })

  async function startAssignment (a: Assignment): Promise<Started> {
    const app = a.record.record.app
    const c = a.component
    const name = replicaName(app, c.name)
    if (c.capability === undefined) {
      const links = c.links.flatMap(l => l.interfaces.map(i => ({ target: `${l.namespace}:${l.package}/${i}`, labels: {}, ...(l.name !== undefined && l.name !== 'default' ? { name: l.name } : {}) })))
      const isRef = !c.source.startsWith('/')
      if (!isRef) {
        try { await readFile(c.source, { flag: 'r' }).then(() => {}) } catch (err) {
          throw new StartProblem('image-not-found', `${c.image}: ${(err as Error).message}`)
        }
      }
      let loaded: { digest: string }
      try {
        loaded = await init.load({ source: c.source, name, config: c.config, ...(links.length > 0 ? { links } : {}) })
      } catch (err) {
        throw new StartProblem(isRef && /ENOENT|not found|no such/i.test((err as Error).message) ? 'image-not-found' : 'load-failed', (err as Error).message)
      }
      return { stop: async () => { await init.unload(loaded.digest) } }
    }
    if (c.capability.kind === 'provider') {
      // Where a built-in keeps its files is the node's to say: a deployer naming a path could write anywhere the node may.
      const fileKey = Object.keys(c.config).find(k => nodeFileKeys.has(k))
      if (fileKey !== undefined) throw new StartProblem('start-failed', `${c.name}: config ${fileKey} names a file of the node; an app's built-ins keep their files in the node's data directory (<dataDir>/apps/${app}/${c.name})`)
      let provider
      try {
        const dataDir = init.dataDir === undefined ? undefined : join(init.dataDir, 'apps', app, c.name)
        provider = await createProvider(await loadProviderModule(c.capability.provider), { config: c.config, log: log.child(name), ...(dataDir !== undefined ? { dataDir } : {}) })
        await provider.start()
      } catch (err) {
        throw new StartProblem('start-failed', (err as Error).message)
      }
      init.serve(provider.service)
      const p = provider
      return { stop: async () => { init.unserve(p.service.digest); await p.stop() } }
    }
    if (c.capability.kind === 'http-server') {
      const link = c.links.find(l => l.namespace === 'wasi' && l.package === 'http')
      const address = link === undefined ? defaultHttpAddress : configValue(link.sourceConfig, 'address') ?? defaultHttpAddress
      const routes: Route[] = link === undefined ? [] : [{ match: 'default', target: { kind: 'component', component: replicaName(app, link.target) } }]
      const gateway = init.gateway(address, routes)
      try {
        await gateway.start()
      } catch (err) {
        throw new StartProblem(/EADDRINUSE/.test(String((err as { code?: unknown }).code ?? (err as Error).message)) ? 'address-in-use' : 'start-failed', (err as Error).message)
      }
      log.info(`app ${app}: ${c.name} serves HTTP on ${gateway.url} for ${link?.target ?? 'any component'}`)
      return { stop: async () => { await gateway.stop() } }
    }
    // messaging is the mesh's own: never placed (placement.ts)
    return { stop: async () => {} }
  }

  async function ingest (token: string, from: string): Promise<IngestResult> {
    let r: SignedAppRecord
    try {
      r = await verifyAppRecord(token, limits.maxAppRecordBytes)
      if (r.record.lattice !== init.lattice) throw new AppError('invalid-record', `the record is of lattice ${r.record.lattice}, not ${init.lattice}`)
      if (!newer(r, store.latest(r.record.app))) return { result: 'stale' }
      if (!(await init.mayDeploy(r.record.deployer, r.record.kind))) {
        throw new AppError('not-allowed', `${r.record.deployer} may not ${r.record.kind} apps here: the node's policy needs a call rule allowing wasmesh:lattice/apps#${r.record.kind}`)
      }
      if (r.record.kind === 'deploy') manifest(r)
    } catch (err) {
      const code = (err as { code?: unknown }).code
      const e = err instanceof AppError ? err : new AppError('invalid-record', (err as Error).message)
      log.debug(`app record from ${from} refused (${String(code)}): ${e.message}`)
      return { result: 'refused', code: e.code, message: e.message }
    }
    const put = store.put(r)
    if (put === 'stale') return { result: 'stale' }
    if (put === 'full') return { result: 'refused', code: 'manifest-too-large', message: `this node holds maxApps (${limits.maxApps}) deployed apps` }
    log.info(`app ${r.record.app}: ${r.record.kind} ${r.record.version} by ${r.record.deployer}`)
    await store.save().catch(err => { log.warn(`apps not saved: ${(err as Error).message}`) })
    void reconciler.run()
    return { result: 'new' }
  }

  const replicator = createReplicator({
    libp2p: init.libp2p,
    lattice: init.lattice,
    log,
    maxRecordBytes: limits.maxAppRecordBytes,
    maxSyncRecords: limits.maxAppSyncRecords,
    syncTimeoutMs: init.syncTimeoutMs,
    tokens: () => store.tokens(),
    ingest
  })

  async function send (kind: 'deploy' | 'undeploy', app: string, text?: string, baseDir?: string, version?: string): Promise<DeployResult> {
    if (!running) throw new AppError('not-delivered', 'the node is not started')
    const held = store.latest(app)
    const seq = Math.max(Date.now(), (held?.record.seq ?? 0) + 1)
    const signed = await signAppRecord({ kind, app, lattice: init.lattice, seq, version: version ?? `v${seq}`, deployer: self, ...(text !== undefined ? { manifest: text } : {}), ...(baseDir !== undefined ? { baseDir } : {}) }, init.privateKey)
    if (signed.token.length > limits.maxAppRecordBytes) throw new AppError('manifest-too-large', `the signed record is ${signed.token.length} bytes, over maxAppRecordBytes (${limits.maxAppRecordBytes})`)
    const own = await ingest(signed.token, self)
    if (own.result === 'refused') throw new AppError(own.code as AppError['code'], own.message)
    await replicator.publish(signed.token)
    const accepted: string[] = []
    const refused: Array<{ peer: string, code: string, message: string }> = []
    const targets = new Map<string, PeerId>()
    for (const c of init.libp2p.getConnections()) targets.set(c.remotePeer.toString(), c.remotePeer)
    const nodes = new Set(init.peers().filter(p => !p.local && p.client !== true).map(p => p.peer))
    await Promise.all([...targets].filter(([id]) => nodes.has(id)).map(async ([id, peer]) => {
      try {
        const r = await replicator.push(peer, signed.token)
        if (r.result === 'refused') refused.push({ peer: id, code: r.code, message: r.message })
        else accepted.push(id)
      } catch (err) {
        refused.push({ peer: id, code: 'not-delivered', message: (err as Error).message })
      }
    }))
    return { version: versionOf(signed), accepted, refused }
  }

  const api: AppsAgent = {
    async start () {
      if (running) return
      running = true
      startedAt = performance.now()
      reconciler.open()
      // Records saved by an earlier run are verified again: the file is no more trusted than a peer.
      for (const token of await store.load()) await ingest(token, self)
      await replicator.start()
      // Adverts arrive in bursts (a heartbeat of every peer): one pass per debounce window, not one per advert.
      unwatch = init.onPeersChange(() => {
        if (debounce !== undefined) return
        debounce = setTimeout(() => { debounce = undefined; void reconciler.run() }, limits.appReconcileDebounceMs)
      })
      timer = setInterval(() => { void reconciler.run() }, limits.appReconcileIntervalMs)
      void reconciler.run()
    },
    async stop () {
      if (!running) return
      running = false
      clearInterval(timer)
      clearTimeout(debounce)
      debounce = undefined
      unwatch?.()
      await replicator.stop()
      await reconciler.stopAll()
    },
    statusText: () => encodeStatus(reconciler.entries()),
    async deploy (text, opts = {}) {
      const m = parseManifest(text, { baseDir: opts.baseDir, limits })
      return await send('deploy', m.name, text, opts.baseDir, m.version)
    },
    async undeploy (app) {
      const held = store.latest(app)
      if (held === undefined || held.record.kind === 'undeploy') throw new AppError('no-such-app', `no app named ${app} is deployed (app list shows them)`)
      return await send('undeploy', app, undefined, undefined, held.record.version)
    },
    list: () => store.current().map(versionOf).sort((a, b) => a.app.localeCompare(b.app)),
    history: app => store.history(app).map(versionOf),
    status (app) {
      const r = store.latest(app)
      if (r === undefined) throw new AppError('no-such-app', `no app named ${app} is known here (app list shows them)`)
      return appStatus(r, init.peers(), reconciler.entries(), limits)
    },
    local: () => reconciler.entries(),
    refresh: async () => { await replicator.syncAll() },
    ingest: async token => await ingest(token, 'local'),
    stats: () => ({ ...replicator.stats, replicaSetsStarted: reconciler.counts.started, replicaSetsStopped: reconciler.counts.stopped })
  }
  return api
}

/** Config keys as wadm examples spell them (`address`, `ADDRESS`): case does not matter. */
function configValue (config: Readonly<Record<string, string>>, key: string): string | undefined {
  const k = Object.keys(config).find(x => x.toLowerCase() === key)
  return k === undefined ? undefined : config[k]
}

