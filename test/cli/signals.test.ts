import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { createNode } from '../../node/index.ts'
import type { LocalService, MeshNode } from '../../node/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { LOCK_FILE } from '../../node/data-dir-lock.ts'
import { parseWit } from '../../protocol/wit/index.ts'
import { eventually } from '../support/mesh.ts'
import { killSpawned, listeningOn, spawnNpm, spawnWasmesh, wasmesh } from './helpers.ts'
import type { Spawned } from './helpers.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

/** `local:demo/upper` whose calls wait until the test releases them, so that a call is surely in flight. */
function heldUpper (): LocalService & { called: Promise<void>, release (): void } {
  const wit = 'package local:demo;\n\ninterface upper {\n  to-upper: func(msg: string) -> string;\n}\n'
  const iface = parseWit({ 'upper.wit': wit }).findInterface('local:demo/upper')!
  const called = Promise.withResolvers<void>()
  const released = Promise.withResolvers<void>()
  return {
    digest: createHash('sha256').update(wit + 'held').digest('hex'),
    name: 'held-upper',
    interfaces: [iface],
    wit,
    capacity: 8,
    called: called.promise,
    release: () => { released.resolve() },
    call: async (_iface, _func, params) => {
      called.resolve()
      await released.promise
      return [String(params[0]).toUpperCase()]
    }
  }
}

let scratch: ScratchDir
let built: Record<string, string>

beforeAll(async () => {
  built = await ensureExamples({ names: ['shout'] })
  scratch = await scratchDir('cli-signals')
})

afterEach(async () => { await killSpawned() })
afterAll(async () => { await scratch?.remove() })

/** A `wasmesh node` process on loopback, JSON logs, sharing one transpile cache; resolves once it printed its call line. */
async function spawnNode (name: string, ...argv: string[]): Promise<Spawned & { addr: string, peer: string }> {
  const node = spawnWasmesh(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(scratch.path, name), '--cache-dir', join(scratch.path, 'cache'), '--log-format', 'json', ...argv])
  await node.out.waitFor(l => l.includes(' call '), node.exited)
  const peer = node.out.lines[0].slice('peer id: '.length)
  return Object.assign(node, { addr: listeningOn(node.out.text)[0], peer })
}

/**
 * Until A has B's advert. A node that connects to its bootstrap peer while still loading components misses the
 * sync on connect (node.ts registers it after the components load) and learns B from B's next heartbeat.
 */
async function knowsUpper (addr: string): Promise<void> {
  await eventually('A knows upper on B', async () => {
    const r = await wasmesh(['mesh', '--bootstrap', addr, '--json', '--timeout', '5000'])
    return r.code === 0 && (JSON.parse(r.out) as { interfaces: Array<{ iface: string }> }).interfaces.some(i => i.iface === 'local:demo/upper')
  }, 30_000)
}

describe('wasmesh node as a process', () => {
  it('prints the documented start lines on stdout, and exits 0 on SIGTERM', async () => {
    const node = await spawnNode('layout', '--label', 'zone=z')
    const lines = node.out.lines
    expect(lines[0]).toMatch(/^peer id: 12D3KooW\w+$/)
    expect(lines[1]).toBe('lattice: default')
    expect(lines[2]).toBe('listening on:')
    const addrs = listeningOn(node.out.text)
    expect(addrs.length).toBeGreaterThan(0)
    for (const a of addrs) expect(a).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${node.peer}$`))
    expect(lines[3 + addrs.length]).toBe('')
    expect(lines[4 + addrs.length]).toBe('serving:')
    expect(lines).toContain('  local:demo/host  built in (--no-demo-host to turn off)')
    expect(lines.at(-2)).toBe('call it from another terminal:')
    expect(lines.at(-1)).toMatch(/^(\S+ )?\S*wasmesh(\.js)? call 'local:demo\/host#log\("hello"\)' --bootstrap \/ip4\//)
    node.child.kill('SIGTERM')
    expect(await node.exited).toBe(0)
    const messages = node.err.lines.filter(l => l !== '').map(l => JSON.parse(l).message as string)
    expect(messages).toContain('SIGTERM: withdrawing adverts, finishing calls in flight (up to 10000 ms); press Ctrl-C again to exit at once')
    expect(messages.at(-1)).toBe('stopped')
  })

  it('on SIGTERM withdraws its adverts at once and lets a call in flight finish, then exits 0', async () => {
    const upper = heldUpper()
    const b = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, cacheDir: join(scratch.path, 'cache') })
    try {
      await b.start()
      b.serve(upper)
      const a = await spawnNode('drain', '--component', built.shout, '--bootstrap', b.addresses()[0])
      await eventually('B sees shout on A', () => b.servers('local:demo/shout').length > 0, 30_000)
      await knowsUpper(a.addr)
      // shout on A calls upper on B, which holds the call: it is in flight on A
      const call = wasmesh(['call', 'local:demo/shout#shout("hi")', '--bootstrap', a.addr])
      await upper.called
      a.child.kill('SIGTERM')
      await a.err.waitFor(l => l.includes('withdrawing adverts'), a.exited)
      await eventually('A withdrawn from B', () => b.servers('local:demo/shout').length === 0 && b.peer(a.peer) === undefined, 10_000)
      upper.release()
      expect(await call).toMatchObject({ code: 0, out: '"HI!"' })
      expect(await a.exited).toBe(0)
    } finally {
      upper.release()
      await b.stop()
    }
  }, 120_000)

  it('exits at once with 130 on a second signal while draining', async () => {
    const upper = heldUpper()
    const b: MeshNode = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, cacheDir: join(scratch.path, 'cache') })
    try {
      await b.start()
      b.serve(upper)
      const a = await spawnNode('forced', '--component', built.shout, '--bootstrap', b.addresses()[0], '--drain-timeout', '600000')
      await eventually('B sees shout on A', () => b.servers('local:demo/shout').length > 0, 30_000)
      await knowsUpper(a.addr)
      const call = wasmesh(['call', 'local:demo/shout#shout("hi")', '--bootstrap', a.addr, '--timeout', '60000'])
      await upper.called
      a.child.kill('SIGINT')
      await a.err.waitFor(l => l.includes('withdrawing adverts'), a.exited)
      a.child.kill('SIGINT')
      expect(await a.exited).toBe(130)
      upper.release()
      expect((await call).code).toBe(1)
    } finally {
      upper.release()
      await b.stop()
    }
  }, 120_000)
})


/** The pid a node wrote into its data directory's lock. */
async function lockHolder (dataDir: string): Promise<number> {
  return Number((await readFile(join(dataDir, LOCK_FILE), 'utf8')).split(' ')[0])
}

describe('the data directory lock', () => {
  it('refuses a second node on a data directory in use, naming the directory and the pid, and frees it on stop', async () => {
    const dir = join(scratch.path, 'shared')
    const first = await spawnNode('shared')
    expect(await lockHolder(dir)).toBe(first.child.pid)
    const second = spawnWasmesh(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', dir, '--cache-dir', join(scratch.path, 'cache')])
    expect(await second.exited).toBe(1)
    expect(second.out.text).toBe('')
    const error = second.err.lines.find(l => l.startsWith('error ['))
    expect(error).toContain('error [data-dir-locked]: ')
    expect(error).toContain(`the data directory ${dir} is in use by a running wasmesh node (pid ${first.child.pid})`)
    expect(error).toContain('--data-dir')
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false)
    const again = await spawnNode('shared')
    expect(again.peer).toBe(first.peer)
    again.child.kill('SIGTERM')
    expect(await again.exited).toBe(0)
  }, 60_000)

  it('takes over the lock of a node that was killed, keeping its identity', async () => {
    const dir = join(scratch.path, 'killed')
    const first = await spawnNode('killed')
    first.child.kill('SIGKILL')
    await first.exited
    expect(await lockHolder(dir)).toBe(first.child.pid)
    const second = await spawnNode('killed')
    expect(second.peer).toBe(first.peer)
    expect(await lockHolder(dir)).toBe(second.child.pid)
    second.child.kill('SIGTERM')
    expect(await second.exited).toBe(0)
  }, 60_000)
})

describe('wasmesh node under npm', () => {
  const loopback = (name: string): string[] => ['--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(scratch.path, name), '--cache-dir', join(scratch.path, 'cache'), '--log-format', 'json']
  const messages = (lines: string[]): string[] => lines.filter(l => l.startsWith('{')).map(l => JSON.parse(l).message as string)

  it('stops the node, with a log line, on SIGTERM to the npx process (what a supervisor sends)', async () => {
    const npx = spawnNpm('npx', ['wasmesh', 'node', ...loopback('npx-term')])
    await npx.out.waitFor(l => l.includes(' call '), npx.exited)
    npx.child.kill('SIGTERM')
    await npx.exited
    // npm forwards the signal to its shell only; where that shell dies of it (dash), the node sees its parent go
    await eventually('every process of the npx tree to exit', () => npx.groupGone(), 15_000)
    const said = messages(npx.err.lines)
    expect(said.some(m => /^(SIGTERM|parent process \d+ exited): withdrawing adverts/.test(m))).toBe(true)
    expect(said.at(-1)).toBe('stopped')
  }, 60_000)

  it('npm start: one Ctrl-C drains and exits 0', async () => {
    // the terminal signals the whole group: npm (which forwards its copy), its shell and the node
    const npm = spawnNpm('npm', ['start', '--', ...loopback('npm-start')])
    await npm.out.waitFor(l => l.includes(' call '), npm.exited)
    npm.signalGroup('SIGINT')
    expect(await npm.exited).toBe(0)
    const said = messages(npm.err.lines)
    expect(said).toContain('SIGINT: withdrawing adverts, finishing calls in flight (up to 10000 ms); press Ctrl-C again to exit at once')
    expect(said).not.toContain('second signal: exiting at once')
    expect(said.at(-1)).toBe('stopped')
    expect(npm.groupGone()).toBe(true)
  }, 120_000)
})
