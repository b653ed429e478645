// The control commands against real `wasmesh node` processes: get hosts/inventory, scale and stop, labels, named config, links and events, and a node without --control refusing them.

import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { Processes, until } from './processes.ts'
import type { NodeProcess } from './processes.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { start } from '../cli/helpers.ts'

describe('wasmesh get/scale/stop/label/config/link/events with real nodes', () => {
  const processes = new Processes()
  let dir: ScratchDir
  let upper: string
  let open: NodeProcess
  let closed: NodeProcess
  let boot: string[]

  beforeAll(async () => {
    dir = await scratchDir('system-control')
    upper = (await ensureExamples({ names: ['upper'] })).upper
    open = await processes.node('open', ['--control', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(dir.path, 'open'), '--label', 'zone=a'])
    closed = await processes.node('closed', ['--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(dir.path, 'closed'), '--bootstrap', open.addresses[0]])
    boot = ['--bootstrap', open.addresses[0]]
  }, 120_000)

  afterAll(async () => {
    await processes.killAll()
    await dir?.remove()
  })

  const cli = async (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> => await processes.cli([...args, ...boot, '--timeout', '20000'], { timeoutMs: 60_000 })

  it('lists the hosts, with version and uptime where control is allowed', async () => {
    const hosts = await until('both hosts listed', 30_000, async () => {
      const r = await cli('get', 'hosts', '--json')
      const list = r.code === 0 ? JSON.parse(r.stdout) as Array<{ peer: string, version?: string, control?: string, labels: Record<string, string> }> : []
      return list.length === 2 ? list : undefined
    })
    const byPeer = new Map(hosts.map(h => [h.peer, h]))
    expect(byPeer.get(open.peerId)).toMatchObject({ labels: { zone: 'a' }, version: expect.stringMatching(/^\d+\.\d+\.\d+/) })
    expect(byPeer.get(closed.peerId)?.control).toContain('control-refused')
    // on loopback only, it is reachable from this machine alone
    expect(byPeer.get(open.peerId)).toMatchObject({ reachability: 'private' })
    const table = await cli('get', 'hosts')
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/^PEER\s+VERSION\s+UPTIME\s+COMPONENTS\s+REACHABILITY/)
  }, 90_000)

  it('shows how a node is reached and its connections', async () => {
    const r = await cli('get', 'network', open.peerId, '--json')
    expect(r.code, r.stderr).toBe(0)
    // keyed by peer, as for every per-node command
    const net = (JSON.parse(r.stdout) as Record<string, { reachability: string, connections: Array<{ peer: string, direction: string, relayed: boolean }> }>)[open.peerId]
    expect(net.reachability).toBe('private')
    // the second node dialled it
    expect(net.connections).toContainEqual(expect.objectContaining({ peer: closed.peerId, direction: 'inbound', relayed: false }))
    const text = await cli('get', 'network', open.peerId)
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain(`node ${open.peerId}: reachability private`)
    expect(text.stdout).toMatch(new RegExp(`${closed.peerId}\\s+inbound\\s+direct\\s+/ip4/127\\.0\\.0\\.1/tcp/`))
    const refused = await cli('get', 'network', closed.peerId)
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain('control-refused')
  }, 90_000)

  it('scales a component onto a node, shows it in the inventory, serves calls, and stops it; events follow', async () => {
    const events = start(['events', '--watch', '--json', ...boot])
    try {
      await events.err.waitFor(l => l === `watching events of ${open.peerId}`, events.exited)
      const put = await cli('config', 'put', 'greeting', 'lang=en')
      expect(put.code, put.stderr).toBe(0)
      const scaled = await cli('scale', upper, '--replicas', '3', '--config', 'greeting', '--json')
      expect(scaled.code, scaled.stderr).toBe(0)
      expect(JSON.parse(scaled.stdout)[open.peerId]).toMatchObject({ replicas: 3, digest: expect.stringMatching(/^[0-9a-f]{64}$/) })
      const inv = await cli('get', 'inventory', open.peerId, '--json')
      expect(inv.code, inv.stderr).toBe(0)
      expect(JSON.parse(inv.stdout)[open.peerId].components).toEqual([expect.objectContaining({ name: 'upper', maxInstances: 3, reference: upper, config: ['greeting'] })])
      const text = await cli('get', 'inventory', open.peerId)
      expect(text.stdout).toMatch(/upper\s+[0-9a-f]{12}\s+\d+\/3/)
      const called = await until('upper served', 30_000, async () => {
        const r = await cli('call', 'local:demo/upper#to-upper("hi")')
        return r.code === 0 ? r : undefined
      })
      expect(called.stdout.trim()).toBe('"HI"')
      const stopped = await cli('stop', 'upper')
      expect(stopped.code, stopped.stderr).toBe(0)
      expect((await cli('stop', 'upper')).stderr).toContain('not-found')
      await events.out.waitFor(l => l.includes('"component-scaled"') && l.includes('"0"'), events.exited)
      const kinds = events.out.lines.filter(l => l.startsWith('{')).map(l => (JSON.parse(l) as { kind: string }).kind)
      expect(kinds).toEqual(['config-set', 'component-scaled', 'component-scaled'])
    } finally {
      expect(await events.stop()).toBe(0)
    }
  }, 120_000)

  it('puts and deletes labels, named configs and links', async () => {
    expect((await cli('label', 'put', 'tier=gold')).code).toBe(0)
    await until('the label advertised', 30_000, async () => {
      const r = await cli('get', 'hosts', '--json')
      return r.code === 0 && (JSON.parse(r.stdout) as Array<{ peer: string, labels: Record<string, string> }>).some(h => h.peer === open.peerId && h.labels.tier === 'gold') ? true : undefined
    })
    expect((await cli('label', 'put', 'wasmesh.role=node')).stderr).toContain('invalid-argument')
    expect((await cli('label', 'del', 'tier')).stdout).toContain('tier deleted')

    expect((await cli('config', 'get', 'greeting', '--json')).stdout).toContain('"lang": "en"')
    expect((await cli('config', 'del', 'greeting')).stdout).toContain('deleted')
    const missing = await cli('config', 'get', 'greeting')
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('not-found')

    expect((await cli('link', 'put', 'upper:wasi:keyvalue/store=tier=cache')).code).toBe(0)
    expect((await cli('link', 'get')).stdout).toMatch(/upper:wasi:keyvalue\/store\s+default\s+tier=cache/)
    expect((await cli('link', 'del', 'upper', 'wasi:keyvalue/store')).stdout).toContain('1 link deleted')
    const bad = await cli('link', 'put', 'not a link')
    expect(bad.code).toBe(2)
  }, 120_000)

  it('is refused by a node run without --control, and says how to allow it', async () => {
    const r = await cli('label', 'put', 'zone=b', '--peer', closed.peerId)
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('control-refused')
    expect(r.stderr).toContain('--control')
    expect((await cli('scale', upper, '--replicas', 'many')).code).toBe(2)
    expect((await cli('events')).code).toBe(2)
  }, 60_000)
})
