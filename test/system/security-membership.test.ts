// Membership with real `wasmesh` processes on loopback: a private lattice's node lets in only key holders on its trust file, refuses everyone else in the handshake, counts and logs it, and reloads the trust file on change and on SIGHUP.

import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadOrCreateIdentity } from '../../node/identity.ts'
import { Processes, until } from './processes.ts'
import type { NodeProcess } from './processes.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

describe('membership with real processes', () => {
  const processes = new Processes()
  let dir: ScratchDir

  beforeAll(async () => { dir = await scratchDir('system-membership') })
  afterAll(async () => {
    await processes.killAll()
    await dir?.remove()
  })

  /** `wasmesh_connections_refused_total{reason}` of a node's /metrics. */
  async function refused (url: string, reason: string): Promise<number> {
    const text = await (await fetch(`${url}/metrics`)).text()
    const m = new RegExp(`^wasmesh_connections_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text)
    return m === null ? 0 : Number(m[1])
  }

  async function metricsUrl (node: NodeProcess): Promise<string> {
    return await until('the metrics line', 10_000, async () => /^metrics: (http:\/\/\S+)\/metrics/m.exec(node.output())?.[1])
  }

  const logLines = (node: NodeProcess, pattern: RegExp): number => node.output().split('\n').filter(l => pattern.test(l)).length

  it('only key holders on the trust file get in; outsiders fail in the handshake, members off the list are disconnected; both counted and logged; SIGHUP reloads', async () => {
    const key = join(dir.path, 'lattice.key')
    const otherKey = join(dir.path, 'other.key')
    for (const k of [key, otherKey]) expect((await processes.cli(['key', 'new', '--out', k])).code).toBe(0)
    const memberDir = join(dir.path, 'member')
    const laterDir = join(dir.path, 'later')
    const member = peerIdFromPrivateKey(await loadOrCreateIdentity(memberDir)).toString()
    const later = peerIdFromPrivateKey(await loadOrCreateIdentity(laterDir)).toString()
    const trust = join(dir.path, 'trust.yaml')
    await writeFile(trust, `peers:\n  - id: ${member}\n    labels: {role: ops}\n`)

    const a = await processes.node('a', ['--listen', '/ip4/127.0.0.1/tcp/0', '--lattice-key', key, '--trust-file', trust, '--metrics', '127.0.0.1:0', '--data-dir', join(dir.path, 'a'), '--cache-dir', join(dir.path, 'cache')])
    const addr = a.addresses[0]
    const url = await metricsUrl(a)
    const call = (args: string[]) => processes.cli(['call', 'local:demo/host#log("hi")', '--bootstrap', addr, '--timeout', '4000', '--log-level', 'silent', ...args])

    // a member with the key, on the trust file
    const ok = await call(['--lattice-key', key, '--data-dir', memberDir, '--timeout', '20000'])
    expect(ok, a.output()).toMatchObject({ code: 0, stdout: '()\n' })

    // an outsider without the key: refused in the handshake, at once
    const outsider = await call([])
    expect(outsider.code).toBe(1)
    expect(outsider.stderr).toMatch(/^error \[unreachable\]: could not reach any bootstrap peer: the address refused/)
    expect(outsider.stderr).toMatch(/give --lattice-key <file>/)
    expect(await refused(url, 'no-lattice-key')).toBeGreaterThanOrEqual(1)
    const mesh = await processes.cli(['mesh', '--bootstrap', addr, '--timeout', '4000', '--log-level', 'silent'])
    expect(mesh.code).toBe(1)
    expect(mesh.stdout).toBe('')

    // another lattice's key
    const stranger = await call(['--lattice-key', otherKey])
    expect(stranger.code).toBe(1)
    await until('a to count the other key', 10_000, async () => await refused(url, 'lattice-key') >= 1 || undefined)

    // a key holder not on the trust file: disconnected once its peer id is proven
    const notListed = await call(['--lattice-key', key, '--data-dir', laterDir])
    expect(notListed.code).toBe(1)
    expect(await refused(url, 'not-allowed')).toBeGreaterThanOrEqual(1)
    expect(a.output()).toMatch(new RegExp(`connection from peer ${later} at /ip4/127\\.0\\.0\\.1/tcp/\\d+: not on the allow-list`))
    expect(a.output()).toMatch(/spoke plain libp2p to a private lattice: it has no lattice key \(refused: no-lattice-key/)

    // the trust file edited: the watch reloads it, SIGHUP does it again on demand
    await writeFile(trust, `peers:\n  - id: ${member}\n  - id: ${later}\n`)
    await until('the watch to reload the trust file', 10_000, async () => logLines(a, /trust file .* reloaded: 2 peers allowed/) >= 1 || undefined)
    const before = logLines(a, /trust file .* reloaded/)
    a.kill('SIGHUP')
    await until('SIGHUP to reload the trust file', 10_000, async () => logLines(a, /trust file .* reloaded/) > before || undefined)
    const nowListed = await call(['--lattice-key', key, '--data-dir', laterDir, '--timeout', '20000'])
    expect(nowListed, a.output()).toMatchObject({ code: 0, stdout: '()\n' })

    // a bad edit keeps the list in force
    await writeFile(trust, 'peers: [{id: 12D3KooWnope}]\n')
    await until('the bad edit to be logged', 10_000, async () => logLines(a, /not reloaded, the previous list stays in force: .*trust\.yaml:1/) >= 1 || undefined)
    expect((await call(['--lattice-key', key, '--data-dir', laterDir, '--timeout', '20000'])).code).toBe(0)

    a.kill('SIGTERM')
    expect((await a.exited).code).toBe(0)
  }, 120_000)

  it('a node refuses to start with a lattice key others can read', async () => {
    const key = join(dir.path, 'readable.key')
    expect((await processes.cli(['key', 'new', '--out', key])).code).toBe(0)
    await chmod(key, 0o604)
    const r = await processes.cli(['node', '--lattice-key', key, '--data-dir', join(dir.path, 'readable')])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^error \[bad-key\]: the lattice key .* can be read by other users \(mode 604\): run 'chmod 600 /)
  })
})
