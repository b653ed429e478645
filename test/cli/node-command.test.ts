import { createServer } from 'node:net'
import type { Server } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { listeningOn, start, wasmesh } from './helpers.ts'

let scratch: string
beforeAll(async () => { scratch = await mkdtemp(join(tmpdir(), 'wasmesh-cli-node-')) })
afterAll(async () => { await rm(scratch, { recursive: true, force: true }) })

const loopback = ['--listen', '/ip4/127.0.0.1/tcp/0']

/** `wasmesh call ...` as printed, split into argv (the expression is single-quoted). */
function argvOf (line: string): string[] {
  const m = /^(?:npx )?wasmesh call '([^']+)' (.*)$/.exec(line)
  if (m === null) throw new Error(`not a call line: ${line}`)
  return ['call', m[1], ...m[2].split(' ')]
}

async function listenOn (port: number): Promise<Server | undefined> {
  const server = createServer()
  return await new Promise(resolve => {
    server.once('error', () => { resolve(undefined) })
    server.listen({ host: '0.0.0.0', port, exclusive: true }, () => { resolve(server) })
  })
}

describe('wasmesh node', () => {
  it('prints its peer id, bootstrap addresses and a call line that works, and stops with status 0', async () => {
    const node = start(['node', ...loopback, '--data-dir', join(scratch, 'a')])
    try {
      const callLine = await node.out.waitFor(l => l.includes(' call '), node.exited)
      const lines = node.out.lines
      expect(lines[0]).toMatch(/^peer id: 12D3KooW\w+$/)
      const peer = lines[0].slice('peer id: '.length)
      expect(lines[1]).toBe('lattice: default')
      const addrs = listeningOn(node.out.text)
      expect(addrs.length).toBeGreaterThan(0)
      for (const a of addrs) expect(a).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${peer}$`))
      expect(node.out.text).toContain('serving:\n  local:demo/host  built in')
      expect(callLine).toBe(`wasmesh call 'local:demo/host#log("hello")' --bootstrap ${addrs[0]}`)
      expect(await wasmesh(argvOf(callLine))).toMatchObject({ code: 0, out: '' })
      await node.err.waitFor(l => /log from peer 12D3KooW\w+: hello/.test(l), node.exited)
    } finally {
      expect(await node.stop()).toBe(0)
    }
    expect(node.err.text).toContain('withdrawing adverts')
  })

  it('runs an --inline component on its own thread and serves it like any other', async () => {
    const { upper } = await ensureExamples({ names: ['upper'] })
    const node = start(['node', ...loopback, '--data-dir', join(scratch, 'inline'), '--component', `upper=${upper}`, '--inline', 'upper'])
    try {
      const callLine = await node.out.waitFor(l => l.includes(' call '), node.exited)
      expect(node.out.text).toMatch(/\n {2}local:demo\/upper\S* {2}upper \(inline\)\n/)
      const r = await wasmesh(argvOf(callLine))
      expect(r.code).toBe(0)
      expect(r.out).toMatch(/^"[^a-z"]+"$/)
    } finally {
      expect(await node.stop()).toBe(0)
    }
  }, 60_000)

  it('keeps its identity in --data-dir across restarts', async () => {
    const peerOf = async (): Promise<string> => {
      const node = start(['node', ...loopback, '--data-dir', join(scratch, 'same')])
      const line = await node.out.waitFor(l => l.startsWith('peer id: '), node.exited)
      await node.stop()
      return line
    }
    expect(await peerOf()).toBe(await peerOf())
  })

  it('takes its settings from a config file, flags winning', async () => {
    const config = join(scratch, 'node.yaml')
    await writeFile(config, [
      'listen: [/ip4/127.0.0.1/tcp/0]',
      'lattice: from-file',
      'label: {zone: file, rack: r1}',
      'data-dir: cfg-data',
      'demo-host: false',
      'log-level: debug'
    ].join('\n'))
    const node = start(['node', '--config', config, '--label', 'zone=flag', '--lattice', 'from-flag', '--log-format', 'json'])
    try {
      await node.out.waitFor(l => l.startsWith('serving:'), node.exited)
      expect(node.out.text).toContain('lattice: from-flag')
      expect(node.out.text).toContain('serving:\n  nothing')
      const addr = listeningOn(node.out.text)[0]
      const mesh = await wasmesh(['mesh', '--bootstrap', addr, '--lattice', 'from-flag', '--json'])
      expect(mesh.code).toBe(0)
      expect(JSON.parse(mesh.out).peers[0].labels).toEqual({ zone: 'flag', rack: 'r1' })
      // debug from the file, JSON from the flag
      expect(node.err.lines.filter(l => l !== '').map(l => JSON.parse(l).level)).toContain('debug')
    } finally {
      expect(await node.stop()).toBe(0)
    }
  })

  it('falls back to a free port with a notice when 4001 is taken', async () => {
    const holder = await listenOn(4001)
    const node = start(['node', '--data-dir', join(scratch, 'fallback')])
    try {
      await node.out.waitFor(l => l.startsWith('serving:'), node.exited)
      expect(node.err.text).toMatch(/^notice: port 4001 is in use/m)
      const addrs = listeningOn(node.out.text)
      expect(addrs.length).toBeGreaterThan(0)
      for (const a of addrs) expect(a).not.toMatch(/\/tcp\/4001\//)
    } finally {
      await node.stop()
      await new Promise(resolve => holder?.close(resolve) ?? resolve(undefined))
    }
  })

  it('fails with address-in-use when a --listen address is taken', async () => {
    const holder = await listenOn(0)
    try {
      const port = (holder!.address() as { port: number }).port
      const r = await wasmesh(['node', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--data-dir', join(scratch, 'x')])
      expect(r.code).toBe(1)
      expect(r.err).toMatch(new RegExp(`^error \\[address-in-use\\]: cannot listen on /ip4/127.0.0.1/tcp/${port}`))
    } finally {
      await new Promise(resolve => holder?.close(resolve))
    }
  })

  it('refuses bad settings before starting', async () => {
    const bad = join(scratch, 'bad.toml')
    await writeFile(bad, 'lattice = "ok"\nlisten = "/ip4/127.0.0.1/tcp/0"\ncolour = "blue"\n')
    const cases: Array<[string[], number, RegExp]> = [
      [['node', '--frobnicate'], 2, /^error \[usage\]: Unknown option '--frobnicate'/],
      [['node', 'extra'], 2, /^error \[usage\]: node takes no arguments/],
      [['node', '--config', bad], 1, /^error \[bad-config\]: .*bad\.toml:3: unknown key "colour"/],
      [['node', '--config', join(scratch, 'missing.yaml')], 1, /^error \[config-not-found\]/],
      [['node', '--component', join(scratch, 'none.wasm')], 1, /^error \[file-not-found\]: component none: no file/],
      [['node', '--grant', 'ghost:network'], 2, /^error \[usage\]: --grant ghost:\.\.\.: no component is named ghost/],
      [['node', '--grant', 'app:disk'], 2, /^error \[usage\]: --grant: grant "app:disk"/],
      [['node', '--inline', 'ghost'], 2, /^error \[usage\]: --inline ghost: no component is named ghost/],
      [['node', '--inline', 'no such'], 2, /^error \[usage\]: --inline: inline "no such" is not a component name/],
      [['node', '--bootstrap', '/ip4/127.0.0.1/tcp/4001'], 2, /^error \[usage\]: --bootstrap: .*\/p2p\/<peer-id>/],
      [['node', '--drain-timeout', 'later'], 2, /^error \[usage\]: --drain-timeout/],
      [['node', '--metrics', 'nope'], 2, /^error \[usage\]: --metrics/],
      [['node', '--log-format', 'xml'], 2, /^error \[usage\]: --log-format/]
    ]
    for (const [argv, code, message] of cases) {
      const r = await wasmesh(argv)
      expect(r.code, argv.join(' ')).toBe(code)
      expect(r.err, argv.join(' ')).toMatch(message)
      expect(r.err, argv.join(' ')).not.toContain('    at ')
    }
  })

  it('has help with examples for every command', async () => {
    for (const command of ['node', 'call', 'mesh', 'inspect']) {
      const r = await wasmesh([command, '--help'])
      expect(r.code, command).toBe(0)
      expect(r.out, command).toMatch(/^Usage: wasmesh /)
      expect(r.out, command).toContain('Examples:')
    }
  })
})
