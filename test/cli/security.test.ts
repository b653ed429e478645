// The membership settings of the command line: `wasmesh key new` (lattice), --lattice-key refused when unusable, the trust file and --allow-peer checked, and the safe default (loopback only).

import { chmod, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfigFile } from '../../cli/config.ts'
import { parseLatticeKey } from '../../node/security/index.ts'
import { listeningOn, start, wasmesh } from './helpers.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

let scratch: ScratchDir
beforeAll(async () => { scratch = await scratchDir('cli-security') })
afterAll(async () => { await scratch?.remove() })

const peer = '12D3KooWQ8efjLNtpUov2f4H1Nty9LyAydCMvhEVUZzcg1KDZY82'

async function keyFile (name: string): Promise<string> {
  const file = join(scratch.path, name)
  expect((await wasmesh(['key', 'new', '--out', file])).code).toBe(0)
  return file
}

describe('wasmesh key new (a lattice key)', () => {
  it('writes a swarm.key file, mode 600, that parses as a lattice key', async () => {
    const file = join(scratch.path, 'new.key')
    const r = await wasmesh(['key', 'new', '--out', file])
    expect(r).toMatchObject({ code: 0 })
    expect(r.out).toContain(`--lattice-key ${file}`)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const text = await readFile(file, 'utf8')
    expect(text).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
    expect(() => parseLatticeKey(text)).not.toThrow()
    // two keys are two keys
    expect(await readFile(await keyFile('other.key'), 'utf8')).not.toBe(text)
  })

  it('refuses to overwrite a file without --force, and overwrites with it', async () => {
    const file = await keyFile('exists.key')
    const before = await readFile(file, 'utf8')
    const r = await wasmesh(['key', 'new', '--out', file])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/exists: remove it first/)
    expect(await readFile(file, 'utf8')).toBe(before)
    expect((await wasmesh(['key', 'new', '--out', file, '--force'])).code).toBe(0)
    expect(await readFile(file, 'utf8')).not.toBe(before)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
  })
})

describe('--lattice-key refused when it cannot be used', () => {
  const node = (args: string[], env: Record<string, string> = {}) => wasmesh(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(scratch.path, 'refused'), ...args], { env })

  it('a world-readable key: bad-key, exit 1, says chmod 600', async () => {
    const file = await keyFile('open.key')
    await chmod(file, 0o644)
    const r = await node(['--lattice-key', file])
    expect(r.code).toBe(1)
    expect(r.err).toMatch(new RegExp(`^error \\[bad-key\\]: the lattice key ${file} can be read by other users \\(mode 644\\): run 'chmod 600 ${file}'`))
  })

  it('a missing, wrong-size or garbage key: bad-key, exit 1, says how to make one', async () => {
    const missing = await node(['--lattice-key', join(scratch.path, 'nope.key')])
    expect(missing).toMatchObject({ code: 1 })
    expect(missing.err).toMatch(/^error \[bad-key\]: cannot read the lattice key .*nope\.key: no such file/)
    const short = join(scratch.path, 'short.key')
    await writeFile(short, `/key/swarm/psk/1.0.0/\n/base16/\n${'ab'.repeat(31)}\n`, { mode: 0o600 })
    const r = await node(['--lattice-key', short])
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^error \[bad-key\]: .* must hold 64 hex digits \(32 bytes\), not 62 characters: make one with 'wasmesh key new --out lattice.key'/)
    const garbage = join(scratch.path, 'garbage.key')
    await writeFile(garbage, new Uint8Array(4096).fill(0xfe), { mode: 0o600 })
    expect((await node(['--lattice-key', garbage])).err).toMatch(/^error \[bad-key\]: .* is not a lattice key/)
  })

  it('from WASMESH_LATTICE_KEY_FILE too, on call and mesh as well, saying where it came from', async () => {
    const file = await keyFile('env.key')
    await chmod(file, 0o640)
    const r = await node([], { WASMESH_LATTICE_KEY_FILE: file })
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^error \[bad-key\]: .*chmod 600/)
    const call = await wasmesh(['call', 'a:b/c#d()', '--bootstrap', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`], { env: { WASMESH_LATTICE_KEY_FILE: file } })
    expect(call.code).toBe(1)
    expect(call.err).toMatch(/^error \[bad-key\]: .*\(from WASMESH_LATTICE_KEY_FILE\)/)
    const mesh = await wasmesh(['mesh', '--bootstrap', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`, '--lattice-key', file])
    expect(mesh.code).toBe(1)
    expect(mesh.err).toMatch(/^error \[bad-key\]/)
  })

  it('a trust file that does not parse is bad-key naming its line; a bad --allow-peer is a usage mistake', async () => {
    const trust = join(scratch.path, 'trust.yaml')
    await writeFile(trust, `peers:\n  - id: ${peer}\n  - id: not-a-peer\n`)
    const r = await node(['--trust-file', trust])
    expect(r.code).toBe(1)
    expect(r.err).toMatch(new RegExp(`^error \\[bad-key\\]: ${trust}:3: "not-a-peer" is not a peer id`))
    await writeFile(trust, `peers:\n  - id: ${peer}\n    zone: eu\n`)
    expect((await node(['--trust-file', trust])).err).toMatch(/trust\.yaml:3: unknown key "zone" of a peer: id, labels/)
    await writeFile(trust, `peers:\n  - id: ${peer}\n  - id: ${peer}\n`)
    expect((await node(['--trust-file', trust])).err).toMatch(/trust\.yaml:3: peer .* is listed twice \(also on line 2\)/)
    const bad = await node(['--allow-peer', 'nobody'])
    expect(bad.code).toBe(2)
    expect(bad.err).toMatch(/^error \[usage\]: --allow-peer: "nobody" is not a peer id/)
  })

  it('the config file takes lattice-key, trust-file and allow-peer, paths relative to it', async () => {
    const file = join(scratch.path, 'node.yaml')
    await writeFile(file, `lattice-key: keys/lattice.key\ntrust-file: trust.yaml\nallow-peer: [${peer}]\n`)
    expect(await loadConfigFile(file)).toEqual({ latticeKey: join(scratch.path, 'keys/lattice.key'), trustFile: join(scratch.path, 'trust.yaml'), allowPeer: [peer] })
    await writeFile(file, 'allow-peer: [nobody]\n')
    await expect(loadConfigFile(file)).rejects.toMatchObject({ code: 'bad-config', line: 1 })
  })
})

describe('the safe default', () => {
  it('with no lattice key and no --listen: loopback only, and the banner says how to open it up', async () => {
    const node = start(['node', '--data-dir', join(scratch.path, 'default')])
    try {
      await node.out.waitFor(l => l.startsWith('serving:'), node.exited)
      const addrs = listeningOn(node.out.text)
      expect(addrs.length).toBeGreaterThan(0)
      for (const a of addrs) expect(a).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
      expect(node.out.text).toMatch(/^loopback only: other machines cannot reach this node/m)
      expect(node.out.text).toContain('--lattice-key lattice.key')
      expect(node.err.text).not.toMatch(/warning/)
    } finally {
      expect(await node.stop()).toBe(0)
    }
  })

  it('listening beyond loopback without a lattice key warns and names the risk; with one, it does not', async () => {
    const open = start(['node', '--listen', '/ip4/0.0.0.0/tcp/0', '--data-dir', join(scratch.path, 'open')])
    try {
      await open.out.waitFor(l => l.startsWith('serving:'), open.exited)
      expect(open.err.text).toMatch(/^warning: listening on \/ip4\/0\.0\.0\.0\/tcp\/0 without a lattice key: anyone who can reach this port joins the lattice, reads every advert and calls every export/m)
      expect(open.out.text).not.toMatch(/loopback only/)
    } finally {
      expect(await open.stop()).toBe(0)
    }
    const key = await keyFile('private.key')
    const priv = start(['node', '--lattice-key', key, '--data-dir', join(scratch.path, 'private')])
    try {
      await priv.out.waitFor(l => l.startsWith('serving:'), priv.exited)
      expect(priv.out.lines[1]).toBe('lattice: default (private: lattice key required)')
      expect(priv.err.text).not.toMatch(/warning/)
      expect(priv.out.text).not.toMatch(/loopback only/)
      expect(priv.out.text).toMatch(new RegExp(` --lattice-key ${key}$`, 'm'))
    } finally {
      expect(await priv.stop()).toBe(0)
    }
  })
})
