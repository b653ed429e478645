// Apps from wadm manifests on a mesh of four real processes: deploy, scale, kill -9, roll over, overlapping spreads, undeploy, and hostile records.
import { createServer } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { peerIdFromString } from '@libp2p/peer-id'
import { ensureExamples } from '../../examples/build.ts'
import { createNode } from '../../node/index.ts'
import { createLogger } from '../../node/logger.ts'
import type { MeshNode } from '../../node/index.ts'
import { nodeInternals } from '../../node/node.ts'
import { request } from '../../node/request.ts'
import { appsPushProtocol, appsSyncProtocol, placeComponent, signAppRecord } from '../../node/apps/index.ts'
import type { AppStatus } from '../../node/apps/index.ts'
import { eventually } from '../support/eventually.ts'
import { scratchDir, type ScratchDir } from '../support/scratch.ts'
import { Processes, type NodeProcess } from './processes.ts'

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => { resolve(port) })
    })
  })
}

const zones: Record<string, string> = { n1: 'a', n2: 'a', n3: 'b', n4: 'b' }

/** The app: the http-counter component (2 replicas by default) linked to keyvalue, and wasmCloud's http-server linked to it. */
function counterManifest (o: { image: string, port: number, instances: number, version: string, greeting?: string }): string {
  return `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: counter
  annotations:
    version: ${o.version}
spec:
  components:
    - name: web
      type: component
      properties:
        image: file://${o.image}
        config:
          - name: greeting
            properties:
              greeting: ${o.greeting ?? 'hello'}
      traits:
        - type: spreadscaler
          properties:
            instances: ${o.instances}
        - type: link
          properties:
            target:
              name: kv
            namespace: wasi
            package: keyvalue
            interfaces: [store, atomics]
    - name: kv
      type: capability
      properties:
        image: ghcr.io/wasmcloud/keyvalue-redis:0.23.0
      traits:
        - type: spreadscaler
          properties:
            instances: 1
    - name: httpserver
      type: capability
      properties:
        image: ghcr.io/wasmcloud/http-server:0.23.0
      traits:
        - type: spreadscaler
          properties:
            instances: 1
        - type: link
          properties:
            target:
              name: web
            namespace: wasi
            package: http
            interfaces: [incoming-handler]
            source:
              config:
                - name: default-http
                  properties:
                    address: 127.0.0.1:${o.port}
`
}

/** An app whose one component is spread over zone a only, overlapping another app's spread. */
function zoneManifest (name: string, image: string, instances: number): string {
  return `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: ${name}
spec:
  components:
    - name: upper
      type: component
      properties:
        image: file://${image}
      traits:
        - type: spreadscaler
          properties:
            replicas: ${instances}
            spread:
              - name: zone-a
                requirements:
                  zone: a
`
}

describe('apps on a mesh of four processes', () => {
  const processes = new Processes()
  let dir: ScratchDir
  let paths: Record<string, string>
  const nodes = new Map<string, NodeProcess>()
  let watcher: MeshNode
  let port: number

  const common = (name: string): string[] => [
    '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(dir.path, name), '--cache-dir', join(dir.path, 'cache'), '--no-demo-host',
    '--label', `zone=${zones[name]}`,
    '--limit', 'advertIntervalMs=500', '--limit', 'advertTtlMs=2000', '--limit', 'appJoinSettleMs=200',
    '--limit', 'appReconcileIntervalMs=200', '--limit', 'appHandoverTimeoutMs=5000'
  ]
  const bootstrap = (): string => [...nodes.values()].find(n => n.name !== 'killed')?.addresses[0] as string
  const cli = async (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await processes.cli(['app', ...args, '--bootstrap', bootstrap(), '--timeout', '90000'], { timeoutMs: 120_000 })

  /** The app's status as a client of the mesh sees it from the adverts. */
  const status = (app: string): AppStatus => watcher.apps.status(app)
  const settled = async (app: string, check: (s: AppStatus) => boolean, timeoutMs = 60_000): Promise<AppStatus> =>
    await eventually(`${app} to settle`, () => { const s = status(app); return s.state === 'deployed' && check(s) ? s : undefined }, { timeoutMs, intervalMs: 100 })

  beforeAll(async () => {
    paths = await ensureExamples({ names: ['http-counter', 'upper'] })
    dir = await scratchDir('apps-system')
    port = await freePort()
    for (const name of ['n1', 'n2', 'n3', 'n4']) {
      const first = nodes.get('n1')
      nodes.set(name, await processes.node(name, [...common(name), ...(first !== undefined ? ['--bootstrap', first.addresses[0]] : [])]))
    }
    watcher = await createNode({ role: 'client', logger: createLogger({ level: 'warn' }), listen: [], bootstrap: [nodes.get('n1')?.addresses[0] as string], timings: { advertIntervalMs: 500, advertTtlMs: 2000 } })
    await watcher.start()
    await eventually('the watcher to see four nodes', () => watcher.peers().filter(p => !p.local && p.client !== true).length === 4, { timeoutMs: 30_000 })
  }, 300_000)

  afterAll(async () => {
    await watcher?.stop()
    await processes.killAll()
    await dir?.remove()
  })

  it('deploys the counter app: the file:// image relative to the manifest, HTTP on the link address, keyvalue behind it', async () => {
    const file = join(dir.path, 'counter.yaml')
    await writeFile(file, counterManifest({ image: relative(dir.path, paths['http-counter']), port, instances: 2, version: 'v1' }))
    const r = await cli(['deploy', file, '--wait', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).version).toMatchObject({ app: 'counter', version: 'v1', kind: 'deploy' })
    const s = await settled('counter', () => true)
    expect(s.components.map(c => [c.name, c.running, c.desired])).toEqual([['web', 2, 2], ['kv', 1, 1], ['httpserver', 1, 1]])
    const first = await eventually('the counter to answer', async () => { const res = await fetch(`http://127.0.0.1:${port}/hits`); return res.status === 200 ? await res.text() : undefined }, { timeoutMs: 20_000, intervalMs: 200 })
    const second = await (await fetch(`http://127.0.0.1:${port}/hits`)).text()
    expect(Number(/hits: (\d+)/.exec(second)?.[1])).toBe(Number(/hits: (\d+)/.exec(first)?.[1]) + 1)
    const list = await cli(['list'])
    expect(list.stdout).toMatch(/counter\s+v1\s+deployed/)
  }, 240_000)

  it('scales up and down by redeploying', async () => {
    const file = join(dir.path, 'counter.yaml')
    await writeFile(file, counterManifest({ image: relative(dir.path, paths['http-counter']), port, instances: 4, version: 'v1-4' }))
    expect((await cli(['deploy', file])).code).toBe(0)
    await settled('counter', s => s.version.version === 'v1-4' && s.components[0].running === 4)
    await writeFile(file, counterManifest({ image: relative(dir.path, paths['http-counter']), port, instances: 1, version: 'v1-1' }))
    expect((await cli(['deploy', file])).code).toBe(0)
    const s = await settled('counter', s => s.version.version === 'v1-1' && s.components[0].running === 1)
    expect(Object.keys(s.components[0].hosts)).toHaveLength(1)
    expect((await fetch(`http://127.0.0.1:${port}/hits`)).status).toBe(200)
  }, 240_000)

  it('places the replicas of a node killed with -9 elsewhere, and reports how long it took', async () => {
    const file = join(dir.path, 'counter.yaml')
    await writeFile(file, counterManifest({ image: relative(dir.path, paths['http-counter']), port, instances: 3, version: 'v1-3' }))
    expect((await cli(['deploy', file])).code).toBe(0)
    const before = await settled('counter', s => s.version.version === 'v1-3' && s.components[0].running === 3)
    // a node with web replicas (any but the watcher's bootstrap); whatever else it ran (keyvalue, the HTTP server) moves too
    const victim = [...nodes.values()].filter(n => n.name !== 'n1').sort((x, y) => (before.components[0].hosts[y.peerId] ?? 0) - (before.components[0].hosts[x.peerId] ?? 0))[0]
    const victimId = victim.peerId
    const t0 = performance.now()
    victim.kill('SIGKILL')
    await victim.exited
    nodes.delete(victim.name)
    const after = await settled('counter', s => s.components[0].running === 3 && s.components[0].hosts[victimId as string] === undefined && s.components.every(c => c.running === c.desired), 60_000)
    const ms = Math.round(performance.now() - t0)
    console.log(`replicas back after kill -9: ${ms} ms (advertTtlMs=2000, advertIntervalMs=500)`)
    expect(Object.keys(after.components[0].hosts).every(p => p !== victimId)).toBe(true)
    await eventually('the counter to answer again', async () => (await fetch(`http://127.0.0.1:${port}/hits`)).status === 200, { timeoutMs: 20_000, intervalMs: 200 })
  }, 240_000)

  it('rolls a new version over: every replica of it running, none of the old', async () => {
    const file = join(dir.path, 'counter.yaml')
    await writeFile(file, counterManifest({ image: relative(dir.path, paths['http-counter']), port, instances: 3, version: 'v2', greeting: 'bonjour' }))
    expect((await cli(['deploy', file])).code).toBe(0)
    const s = await settled('counter', s => s.version.version === 'v2' && s.components.every(c => c.previous === 0))
    expect(s.components[0].running).toBe(3)
    const history = await cli(['history', 'counter', '--json'])
    expect((JSON.parse(history.stdout) as Array<{ version: string }>).map(v => v.version)).toEqual(['v1', 'v1-4', 'v1-1', 'v1-3', 'v2'])
  }, 240_000)

  it('settles two apps with overlapping spreads where every node computes them to be', async () => {
    await writeFile(join(dir.path, 'left.yaml'), zoneManifest('left', paths.upper, 3))
    await writeFile(join(dir.path, 'right.yaml'), zoneManifest('right', paths.upper, 2))
    expect((await cli(['deploy', join(dir.path, 'left.yaml')])).code).toBe(0)
    expect((await cli(['deploy', join(dir.path, 'right.yaml')])).code).toBe(0)
    const hosts = [...nodes.values()].map(n => ({ peer: n.peerId, labels: { zone: zones[n.name] } }))
    for (const [app, n] of [['left', 3], ['right', 2]] as const) {
      const want = Object.fromEntries(placeComponent(app, 'upper', { kind: 'spread', instances: n, spreads: [{ name: 'zone-a', requirements: { zone: 'a' }, weight: 100 }] }, hosts).hosts)
      const s = await settled(app, s => JSON.stringify(Object.entries(s.components[0].hosts).sort()) === JSON.stringify(Object.entries(want).sort()))
      expect(s.components[0].running).toBe(n)
      for (const peer of Object.keys(s.components[0].hosts)) expect(zones[[...nodes.values()].find(x => x.peerId === peer)?.name as string]).toBe('a')
    }
  }, 240_000)

  it('says why a component is short: no host matches the labels, image not found', async () => {
    await writeFile(join(dir.path, 'moon.yaml'), zoneManifest('moon', paths.upper, 2).replace('zone: a', 'zone: moon'))
    expect((await cli(['deploy', join(dir.path, 'moon.yaml')])).code).toBe(0)
    await eventually('moon status', () => status('moon').components[0].reasons.some(r => r.includes('no host matches the labels')), { timeoutMs: 20_000 })
    const out = await cli(['status', 'moon'])
    expect(out.stdout).toContain('no host matches the labels')
    await writeFile(join(dir.path, 'lost.yaml'), zoneManifest('lost', join(dir.path, 'missing.wasm'), 1))
    expect((await cli(['deploy', join(dir.path, 'lost.yaml')])).code).toBe(0)
    await eventually('lost status', () => status('lost').components[0].reasons.some(r => r.includes('image not found')), { timeoutMs: 20_000 })
  }, 240_000)

  it('refuses forged, altered, garbage, huge and replayed records over the wire, and keeps running', async () => {
    const target = nodes.get('n1') as NodeProcess
    const libp2p = nodeInternals(watcher).libp2p
    const push = async (body: Uint8Array): Promise<{ result: string, code?: string }> =>
      JSON.parse(new TextDecoder().decode(await request(libp2p, peerIdFromString(target.peerId), appsPushProtocol('default'), body, { maxRequestBytes: 2 * 1024 * 1024, maxResponseBytes: 4096, timeoutMs: 10_000 })))
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
    const key = await generateKeyPair('Ed25519')
    const other = await generateKeyPair('Ed25519')
    const me = peerIdFromPrivateKey(key).toString()
    const record = { kind: 'undeploy' as const, app: 'counter', lattice: 'default', seq: Date.now() + 60_000, version: 'x', deployer: me }
    // signed by another key in my name: it would undeploy counter
    expect(await push(enc((await signAppRecord(record, other)).token))).toMatchObject({ result: 'refused', code: 'bad-signature' })
    expect(await push(enc('{{garbage'))).toMatchObject({ result: 'refused', code: 'invalid-record' })
    expect(await push(enc('a'.repeat(4096)))).toMatchObject({ result: 'refused', code: 'invalid-record' })
    // over maxAppRecordBytes: the stream is cut where the bytes enter, never read whole
    await expect(push(enc('a'.repeat(1024 * 1024)))).rejects.toThrow()
    // genuine records replayed, taken from the node's own sync answer: every one is stale, and v2 stays
    const tokens = JSON.parse(new TextDecoder().decode(await request(libp2p, peerIdFromString(target.peerId), appsSyncProtocol('default'), new Uint8Array(0), { maxRequestBytes: 0, maxResponseBytes: 16 * 1024 * 1024, timeoutMs: 10_000 }))) as string[]
    expect(tokens.length).toBeGreaterThanOrEqual(5)
    for (const token of tokens) expect(await push(enc(token))).toMatchObject({ result: 'stale' })
    // a genuine record with its payload altered (a later seq, so it would win): the signature no longer holds
    const [h, p, sig] = tokens[tokens.length - 1].split('.')
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>
    const altered = `${h}.${Buffer.from(JSON.stringify({ ...payload, kind: 'undeploy', seq: Date.now() + 60_000 })).toString('base64url')}.${sig}`
    expect(await push(enc(altered))).toMatchObject({ result: 'refused', code: 'bad-signature' })
    expect(status('counter').version.version).toBe('v2')
    expect(status('counter').state).toBe('deployed')
    expect((await fetch(`http://127.0.0.1:${port}/hits`)).status).toBe(200)
  }, 240_000)

  it('undeploys: every replica stops and the HTTP address closes', async () => {
    for (const app of ['counter', 'left', 'right', 'moon', 'lost']) {
      const r = await cli(['undeploy', app, '--wait'])
      expect(r.code, r.stderr).toBe(0)
    }
    await eventually('no node to advertise a replica', () => watcher.peers().every(p => (p.apps ?? '') === ''), { timeoutMs: 20_000 })
    await expect(fetch(`http://127.0.0.1:${port}/hits`)).rejects.toThrow()
    expect(status('counter').state).toBe('undeployed')
    const again = await cli(['undeploy', 'counter'])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('no-such-app')
  }, 240_000)
})
