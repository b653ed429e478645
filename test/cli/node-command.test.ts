import { createServer } from 'node:net'
import type { Server } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { maxConfigFileBytes } from '../../cli/config.ts'
import { createNode } from '../../node/index.ts'
import { createMeshLibp2p, WRPC_PROTOCOL } from '../../node/libp2p.ts'
import { silentLogger } from '../../node/logger.ts'
import { eventually } from '../support/eventually.ts'
import { listeningOn, start, wasmesh } from './helpers.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

let scratch: ScratchDir
beforeAll(async () => { scratch = await scratchDir('cli-node') })
afterAll(async () => { await scratch?.remove() })

const loopback = ['--listen', '/ip4/127.0.0.1/tcp/0']

/** `wasmesh call ...` as printed, split into argv (the expression is single-quoted). */
function argvOf (line: string): string[] {
  // `wasmesh call ...`, or this install's Node and bin by path (tests run with no PATH)
  const m = /^(?:\S+ )?\S*wasmesh(?:\.js)? call '([^']+)' (.*)$/.exec(line)
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
    const node = start(['node', ...loopback, '--data-dir', join(scratch.path, 'a')])
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
      expect(callLine).toBe(`${process.execPath} ${fileURLToPath(new URL('../../bin/wasmesh.js', import.meta.url))} call 'local:demo/host#log("hello")' --bootstrap ${addrs[0]}`)
      expect(await wasmesh(argvOf(callLine))).toMatchObject({ code: 0, out: '()' })
      await node.err.waitFor(l => /log from peer 12D3KooW\w+: hello/.test(l), node.exited)
    } finally {
      expect(await node.stop()).toBe(0)
    }
    expect(node.err.text).toContain('withdrawing adverts')
  })

  it('runs an --inline component on its own thread and serves it like any other', async () => {
    const { upper } = await ensureExamples({ names: ['upper'] })
    const node = start(['node', ...loopback, '--data-dir', join(scratch.path, 'inline'), '--component', `upper=${upper}`, '--inline', 'upper'])
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

  it('gives one component its own limits with --component-limit: its idle instance is reaped, the other\'s is kept', async () => {
    const { upper, shout } = await ensureExamples({ names: ['upper', 'shout'] })
    const node = start(['node', ...loopback, '--data-dir', join(scratch.path, 'component-limit'), '--metrics', '127.0.0.1:0',
      '--component', `upper=${upper}`, '--component', `shout=${shout}`, '--component-limit', 'upper:instanceIdleTimeoutMs=200'])
    try {
      const metricsLine = await node.out.waitFor(l => l.startsWith('metrics: '), node.exited)
      const url = /^metrics: (\S+\/metrics)/.exec(metricsLine)?.[1] as string
      const instances = async (name: string): Promise<number | undefined> => {
        const text = await (await fetch(url)).text()
        const m = new RegExp(`^wasmesh_component_instances\\{component="${name}"[^}]*\\} (\\d+)$`, 'm').exec(text)
        return m === null ? undefined : Number(m[1])
      }
      await eventually('upper reaped', async () => await instances('upper') === 0)
      // shout has the node's default (5 min): its instance from the load is still there.
      expect(await instances('shout')).toBe(1)
      const callLine = await node.out.waitFor(l => l.includes(' call '), node.exited)
      const r = await wasmesh(argvOf(callLine.replace(/'[^']+'/, `'local:demo/upper#to-upper("hi")'`)))
      expect(r).toMatchObject({ code: 0, out: '"HI"' })
    } finally {
      expect(await node.stop()).toBe(0)
    }
  }, 60_000)

  it('keeps its identity in --data-dir across restarts', async () => {
    const peerOf = async (): Promise<string> => {
      const node = start(['node', ...loopback, '--data-dir', join(scratch.path, 'same')])
      const line = await node.out.waitFor(l => l.startsWith('peer id: '), node.exited)
      await node.stop()
      return line
    }
    expect(await peerOf()).toBe(await peerOf())
  })

  it('takes its settings from a config file, flags winning', async () => {
    const config = join(scratch.path, 'node.yaml')
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

  it('logs a short-lived client coming and going at debug, as a client, and a node joining at info', async () => {
    const node = start(['node', ...loopback, '--data-dir', join(scratch.path, 'clients'), '--log-level', 'debug', '--log-format', 'json'])
    const joinedOrLeft = /^(peer|client) (12D3KooW\w+) (joined|left)/
    const logged = (): Array<{ level: string, message: string }> => node.err.lines.filter(l => l.startsWith('{')).map(l => JSON.parse(l))
    try {
      await node.out.waitFor(l => l.includes(' call '), node.exited)
      const addr = listeningOn(node.out.text)[0]
      expect((await wasmesh(['mesh', '--bootstrap', addr])).code).toBe(0)
      await node.err.waitFor(l => l.startsWith('{') && / left/.test(JSON.parse(l).message), node.exited)
      const lines = logged().filter(l => joinedOrLeft.test(l.message))
      expect(lines.map(l => [l.level, l.message.replace(/12D3KooW\w+/, 'ID')])).toEqual([['debug', 'client ID joined'], ['debug', 'client ID left']])
      // a node joining is still news at info
      const peer = await createNode({ listen: [], bootstrap: [addr], logger: silentLogger })
      try {
        await peer.start()
        const line = await node.err.waitFor(l => l.includes(`${peer.peerId} joined`), node.exited)
        expect(JSON.parse(line)).toMatchObject({ level: 'info', message: `peer ${peer.peerId} joined` })
      } finally {
        await peer.stop()
      }
    } finally {
      expect(await node.stop()).toBe(0)
    }
  })

  it('falls back to a free port with a notice when 4001 is taken', async () => {
    const holder = await listenOn(4001)
    const node = start(['node', '--data-dir', join(scratch.path, 'fallback')])
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
      const r = await wasmesh(['node', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--data-dir', join(scratch.path, 'x')])
      expect(r.code).toBe(1)
      expect(r.err).toMatch(new RegExp(`^error \\[address-in-use\\]: cannot listen on /ip4/127.0.0.1/tcp/${port}`))
    } finally {
      await new Promise(resolve => holder?.close(resolve))
    }
  })

  it('refuses bad settings before starting', async () => {
    const bad = join(scratch.path, 'bad.toml')
    await writeFile(bad, 'lattice = "ok"\nlisten = "/ip4/127.0.0.1/tcp/0"\ncolour = "blue"\n')
    const cases: Array<[string[], number, RegExp]> = [
      [['node', '--frobnicate'], 2, /^error \[usage\]: wasmesh node takes no option --frobnicate \('wasmesh node --help' lists them\)/],
      [['node', 'extra'], 2, /^error \[usage\]: node takes no arguments/],
      [['node', '--config', bad], 1, /^error \[bad-config\]: .*bad\.toml:3: unknown key "colour"/],
      [['node', '--config', join(scratch.path, 'missing.yaml')], 1, /^error \[config-not-found\]/],
      [['node', '--component', join(scratch.path, 'none.wasm')], 1, /^error \[file-not-found\]: component none: no file/],
      [['node', '--grant', 'ghost:network'], 2, /^error \[usage\]: --grant ghost:\.\.\.: no component is named ghost/],
      [['node', '--grant', 'app:disk'], 2, /^error \[usage\]: --grant: grant "app:disk"/],
      [['node', '--inline', 'ghost'], 2, /^error \[usage\]: --inline ghost: no component is named ghost/],
      [['node', '--inline', 'no such'], 2, /^error \[usage\]: --inline: inline "no such" is not a component name/],
      [['node', '--component-limit', 'ghost:minInstances=1'], 2, /^error \[usage\]: --component-limit ghost:minInstances=\.\.\.: no component is named ghost/],
      [['node', '--component-limit', 'app:maxInboundStreams=4'], 2, /^error \[usage\]: --component-limit: .*maxInboundStreams is a limit of the node/],
      [['node', '--component-limit', 'app:minInstances=some'], 2, /^error \[usage\]: --component-limit: .*minInstances/],
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

describe('wasmesh node limits', () => {
  /**
   * Starts `wasmesh node` with `argv`, holds `open` silent wRPC streams on one connection to it, waits until it
   * has reset all but `limit` of them, and answers how many it keeps: what an operator's maxInboundStreams does.
   */
  async function streamsKept (argv: string[], open: number, limit: number): Promise<number> {
    const node = start(['node', ...argv])
    const attacker = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: [] })
    const held: Stream[] = []
    try {
      await node.out.waitFor(l => l.startsWith('serving:'), node.exited)
      await attacker.start()
      const addr = multiaddr(listeningOn(node.out.text)[0])
      for (let i = 0; i < open; i++) held.push(await attacker.dialProtocol(addr, WRPC_PROTOCOL))
      const gone = (): number => held.filter(s => s.status === 'reset' || s.status === 'aborted' || s.status === 'closed').length
      await eventually('the streams past the limit to be reset', () => gone() >= open - limit)
      return open - gone()
    } finally {
      for (const s of held) s.abort(new Error('done'))
      await attacker.stop()
      expect(await node.stop()).toBe(0)
    }
  }

  it('takes limits from the config file\'s limits table and --limit, flags winning, and the node enforces them', async () => {
    const config = join(scratch.path, 'limits.yaml')
    await writeFile(config, 'listen: [/ip4/127.0.0.1/tcp/0]\nlimits:\n  maxInboundStreams: 2\n  idle-timeout-ms: 1m\n')
    expect(await streamsKept(['--config', config, '--data-dir', join(scratch.path, 'limits-file')], 6, 2)).toBe(2)
    expect(await streamsKept(['--config', config, '--data-dir', join(scratch.path, 'limits-flag'), '--limit', 'maxInboundStreams=3'], 6, 3)).toBe(3)
  }, 60_000)

  it('refuses limits it cannot take with invalid-config, from a flag or the file, before starting', async () => {
    const bad = join(scratch.path, 'bad-limits.yaml')
    await writeFile(bad, 'limits:\n  maxInboundStreams: lots\n')
    const nested = join(scratch.path, 'nested-limits.yaml')
    await writeFile(nested, `limits:\n  maxInboundStreams: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`)
    const huge = join(scratch.path, 'huge.yaml')
    await writeFile(huge, `limits:\n${'  maxConnections: 1\n'.repeat(maxConfigFileBytes / 16)}`)
    const cases: Array<[string[], number, RegExp]> = [
      [['node', '--limit', 'maxInboundStream=2'], 2, /^error \[invalid-config\]: --limit maxInboundStream=2: unknown limit "maxInboundStream"; the limits are maxInboundStreams, /],
      [['node', '--limit', 'maxInboundStreams'], 2, /^error \[invalid-config\]: --limit maxInboundStreams: "maxInboundStreams" is not <name>=<value>/],
      [['node', '--limit', 'maxInboundStreams=-1'], 2, /^error \[invalid-config\]: --limit maxInboundStreams=-1: limit maxInboundStreams: "-1": it takes a whole number from 0 to 9007199254740991$/],
      [['node', '--limit', 'maxInboundStreams=1.5'], 2, /^error \[invalid-config\]: .*it takes a whole number from 0/],
      [['node', '--limit', 'maxFrameBytes=9007199254740993'], 2, /^error \[invalid-config\]: .*a whole number of bytes from 0 to 9007199254740991/],
      [['node', '--limit', 'idleTimeoutMs=3000000000'], 2, /^error \[invalid-config\]: .*milliseconds from 0 to 2147483647/],
      [['node', '--limit', 'idle-timeout-ms=forever'], 2, /^error \[invalid-config\]: --limit idle-timeout-ms=forever: limit idleTimeoutMs: "forever"/],
      [['node', '--limit', 'maxStreamWindowBytes=16MiB'], 1, /^error \[invalid-config\]: maxStreamWindowBytes \(16777216\) must not exceed maxReadBufferBytes \(8388608\)/],
      [['node', '--config', bad], 1, /^error \[invalid-config\]: .*bad-limits\.yaml:2: limits\.maxInboundStreams: limit maxInboundStreams: "lots"/],
      [['node', '--config', nested], 1, /^error \[(bad|invalid)-config\]: .*nested-limits\.yaml/],
      [['node', '--config', huge], 1, /^error \[bad-config\]: .*huge\.yaml: a config file is at most 1048576 bytes/],
      [['provider', 'kv=builtin:keyvalue', '--limit', 'nope=1'], 2, /^error \[invalid-config\]: --limit nope=1: unknown limit "nope"/]
    ]
    for (const [argv, code, message] of cases) {
      const r = await wasmesh(argv)
      expect(r.code, argv.join(' ')).toBe(code)
      expect(r.err, argv.join(' ')).toMatch(message)
      expect(r.err, argv.join(' ')).not.toContain('    at ')
    }
  }, 60_000)

  it('lists every limit with its default in --help, with an example of the flag and the table', async () => {
    const r = await wasmesh(['node', '--help'])
    expect(r.out).toContain('--limit <name>=<value>')
    expect(r.out).toMatch(/maxInboundStreams \(256\), .*maxInboundBufferedBytesPerNode \(256MiB\)/s)
    expect(r.out).toMatch(/idleTimeoutMs \(30s\)/)
    expect(r.out).toContain('wasmesh node --config node.yaml --limit maxInboundStreams=64')
    expect(r.out).toMatch(/\n  limits:\n    maxInboundStreams: 64\n/)
  })
})
