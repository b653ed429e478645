// wasmesh key new/public, sign and inspect's signature section, and the node's --require-signed settings, through main() as a user types them.

import { chmod, copyFile, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { start, wasmesh } from './helpers.ts'

const arith = fileURLToPath(new URL('../../examples/build/arith.wasm', import.meta.url))
const upper = fileURLToPath(new URL('../../examples/build/upper.wasm', import.meta.url))

let scratch: ScratchDir
let dir: string
const at = (name: string): string => join(dir, name)

beforeAll(async () => {
  scratch = await scratchDir('cli-sign')
  dir = scratch.path
  expect((await wasmesh(['key', 'new', '--signing', '--out', at('admin.key')])).code).toBe(0)
  expect((await wasmesh(['key', 'public', at('admin.key'), '--out', at('admin.pub')])).code).toBe(0)
  expect((await wasmesh(['key', 'new', '--signing', '--out', at('other.key')])).code).toBe(0)
  expect((await wasmesh(['key', 'public', at('other.key'), '--out', at('other.pub')])).code).toBe(0)
})
afterAll(async () => { await scratch?.remove() })

/** A fresh copy of a component in the scratch folder, so that each test signs and changes its own. */
async function copyOf (source: string, name: string): Promise<string> {
  await copyFile(source, at(name))
  return at(name)
}

describe('wasmesh key', () => {
  it('write a signing key only its owner can read, and its public half with the same key id', async () => {
    const made = await wasmesh(['key', 'new', '--signing', '--out', at('k1.key')])
    expect(made.code).toBe(0)
    const id = /key id ([A-Za-z0-9_-]{43})/.exec(made.out)?.[1]
    expect(id).toBeDefined()
    expect((await stat(at('k1.key'))).mode & 0o777).toBe(0o600)
    const jwk = JSON.parse(await readFile(at('k1.key'), 'utf8')) as Record<string, unknown>
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: id })
    expect(typeof jwk.d).toBe('string')
    const pub = await wasmesh(['key', 'public', at('k1.key'), '--out', at('k1.pub')])
    expect(pub.out).toContain(`key id ${id}`)
    const pubJwk = JSON.parse(await readFile(at('k1.pub'), 'utf8')) as Record<string, unknown>
    expect(pubJwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid: id })
    expect(pubJwk.d).toBeUndefined()
    // printed to standard output without --out
    expect(JSON.parse((await wasmesh(['key', 'public', at('k1.key')])).out)).toEqual(pubJwk)
  })

  it('never overwrite a key, and refuse files that are not keys or that others can read', async () => {
    const again = await wasmesh(['key', 'new', '--signing', '--out', at('admin.key')])
    expect([again.code, again.err]).toEqual([2, expect.stringMatching(/^error \[usage\]: .*admin\.key exists/)])
    expect((await wasmesh(['key', 'public', at('admin.key'), '--out', at('admin.pub')])).code).toBe(2)
    await writeFile(at('lattice.key'), '')
    expect((await wasmesh(['key', 'new', '--out', at('lattice2.key')])).code).toBe(0)
    const lattice = await wasmesh(['key', 'public', at('lattice2.key')])
    expect([lattice.code, lattice.err]).toEqual([1, expect.stringMatching(/^error \[bad-key\]: .*not a JWK/)])
    await writeFile(at('open.key'), await readFile(at('admin.key')), { mode: 0o644 })
    await chmod(at('open.key'), 0o644)
    const open = await wasmesh(['sign', await copyOf(arith, 'open.wasm'), '--key', at('open.key')])
    expect([open.code, open.err]).toEqual([1, expect.stringMatching(/^error \[bad-key\]: .*can be read by other users \(mode 644\): run 'chmod 600/)])
    // a public key is refused for its permissions first; one kept 0600 for what it is
    await writeFile(at('pub.key'), await readFile(at('admin.pub')), { mode: 0o600 })
    const pub = await wasmesh(['sign', at('open.wasm'), '--key', at('pub.key')])
    expect([pub.code, pub.err]).toEqual([1, expect.stringMatching(/^error \[bad-key\]: .*holds a public key/)])
    const missing = await wasmesh(['sign', at('open.wasm'), '--key', at('nope.key')])
    expect([missing.code, missing.err]).toEqual([1, expect.stringMatching(/^error \[bad-key\]: .*no such file/)])
  })
})

describe('wasmesh sign and inspect', () => {
  it('write <file>.sig and show who signed it, when, the claims, and that it verifies', async () => {
    const file = await copyOf(arith, 'arith.wasm')
    const signed = await wasmesh(['sign', file, '--key', at('admin.key'), '--name', 'arith', '--version', '1.2.3', '--expires', '30d'])
    expect(signed.code).toBe(0)
    expect(signed.out).toMatch(new RegExp(`^signed ${file} \\(sha256:[0-9a-f]{64}\\) with key \\S+: wrote ${file}\\.sig$`))
    const id = JSON.parse(await readFile(at('admin.pub'), 'utf8')).kid as string
    const text = await wasmesh(['inspect', file])
    expect(text.code).toBe(0)
    expect(text.out).toContain(`signature  ${file}.sig`)
    expect(text.out).toMatch(new RegExp(`key id +${id}`))
    expect(text.out).toMatch(/name +arith/)
    expect(text.out).toMatch(/version +1\.2\.3/)
    expect(text.out).toMatch(/verifies +yes/)
    expect(text.out).toMatch(/trusted +not checked/)
    const json = JSON.parse((await wasmesh(['inspect', file, '--json', '--trust-key', at('admin.pub')])).out)
    expect(json.signature).toMatchObject({ file: `${file}.sig`, keyId: id, claims: { name: 'arith', version: '1.2.3' }, verifies: true, trusted: true })
    expect(Date.parse(json.signature.expiresAt) - Date.parse(json.signature.signedAt)).toBe(30 * 86_400_000)
    const other = JSON.parse((await wasmesh(['inspect', file, '--json', '--trust-key', at('other.pub')])).out)
    expect(other.signature).toMatchObject({ verifies: true, trusted: false, trustProblem: { reason: 'untrusted-key' } })
    expect((await wasmesh(['inspect', file, '--trust-key', at('other.pub')])).out).toMatch(/trusted +no \(untrusted-key\)/)
    // --out writes the same kind of signature elsewhere (to ship it apart from the file)
    expect((await wasmesh(['sign', file, '--key', at('other.key'), '--out', at('elsewhere.sig')])).out).toContain(`wrote ${at('elsewhere.sig')}`)
    expect((await readFile(at('elsewhere.sig'), 'utf8')).split('.')).toHaveLength(3)
    expect(JSON.parse((await wasmesh(['inspect', file, '--json'])).out).signature.keyId).toBe(id)
  })

  it('show a tampered component, a replayed signature and a garbage one as not verifying, without failing', async () => {
    const file = await copyOf(arith, 'tampered.wasm')
    expect((await wasmesh(['sign', file, '--key', at('admin.key')])).code).toBe(0)
    const bytes = await readFile(file)
    bytes[bytes.length - 1] ^= 1
    await writeFile(file, bytes)
    const tampered = JSON.parse((await wasmesh(['inspect', file, '--json', '--trust-key', at('admin.pub')])).out)
    expect(tampered.signature).toMatchObject({ verifies: false, problem: { reason: 'digest-mismatch' }, trusted: false, trustProblem: { reason: 'digest-mismatch' } })
    const garbage = await copyOf(arith, 'garbage.wasm')
    await writeFile(`${garbage}.sig`, new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x00]))
    const shown = await wasmesh(['inspect', garbage])
    expect(shown.code).toBe(0)
    expect(shown.out).toMatch(/verifies +no \(malformed\): not a component signature/)
    const unsigned = await copyOf(arith, 'unsigned.wasm')
    const none = await wasmesh(['inspect', unsigned])
    expect(none.out).toContain(`signature  none (no ${unsigned}.sig`)
    expect(JSON.parse((await wasmesh(['inspect', unsigned, '--json'])).out).signature).toBeNull()
  })

  it('refuse to sign a component that imports more than --allow-import allows, and sign one that does not', async () => {
    const file = await copyOf(upper, 'upper.wasm')
    const refused = await wasmesh(['sign', file, '--key', at('admin.key'), '--allow-import', 'wasi:keyvalue/*'])
    expect([refused.code, refused.err]).toEqual([2, expect.stringMatching(/^error \[usage\]: .* imports local:demo\/host, which --allow-import does not allow/)])
    expect((await stat(`${file}.sig`).catch(() => undefined))).toBeUndefined()
    expect((await wasmesh(['sign', file, '--key', at('admin.key'), '--allow-import', 'local:demo/host'])).code).toBe(0)
    expect((await wasmesh(['inspect', file])).out).toMatch(/imports +only local:demo\/host/)
    const bad = await wasmesh(['sign', file, '--key', at('admin.key'), '--allow-import', 'not an interface'])
    expect([bad.code, bad.err]).toEqual([2, expect.stringMatching(/^error \[usage\]: .*not an interface id/)])
    const expires = await wasmesh(['sign', file, '--key', at('admin.key'), '--expires', 'soon'])
    expect([expires.code, expires.err]).toEqual([2, expect.stringMatching(/^error \[usage\]: --expires: /)])
  })

  it('refuse what is not a component, and take no second file', async () => {
    await writeFile(at('text.wasm'), 'hello')
    const text = await wasmesh(['sign', at('text.wasm'), '--key', at('admin.key')])
    expect([text.code, text.err]).toEqual([1, expect.stringMatching(/^error \[not-a-component\]/)])
    expect((await wasmesh(['sign', at('nope.wasm'), '--key', at('admin.key')])).err).toMatch(/^error \[file-not-found\]/)
    expect((await wasmesh(['sign', at('a.wasm'), at('b.wasm'), '--key', at('admin.key')])).code).toBe(2)
    expect((await wasmesh(['sign', at('a.wasm')])).err).toMatch(/^error \[usage\]: sign needs --key/)
  })
})

describe('wasmesh node --require-signed', () => {
  const loopback = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-demo-host', '--log-level', 'silent']

  it('need trust keys with --require-signed, and --require-signed with trust keys', async () => {
    const alone = await wasmesh(['node', ...loopback, '--data-dir', at('n1'), '--require-signed'])
    expect([alone.code, alone.err]).toEqual([2, expect.stringMatching(/^error \[usage\]: --require-signed needs at least one --trust-key/)])
    const keys = await wasmesh(['node', ...loopback, '--data-dir', at('n1'), '--trust-key', at('admin.pub')])
    expect([keys.code, keys.err]).toEqual([2, expect.stringMatching(/^error \[usage\]: --trust-key is given without --require-signed/)])
    const notKey = await wasmesh(['node', ...loopback, '--data-dir', at('n1'), '--require-signed', '--trust-key', arith])
    expect([notKey.code, notKey.err]).toEqual([1, expect.stringMatching(/^error \[bad-key\]: .*\(--trust-key .*arith\.wasm\)/)])
  })

  it('take require-signed and trust-key from a config file, relative to it, and refuse an unsigned component', async () => {
    const file = await copyOf(arith, 'config-unsigned.wasm')
    await writeFile(at('node.yaml'), 'require-signed: true\ntrust-key: admin.pub\ncomponent: [config-unsigned.wasm]\n')
    const run = await wasmesh(['node', ...loopback, '--data-dir', at('n2'), '--config', at('node.yaml')])
    expect([run.code, run.err]).toEqual([1, expect.stringMatching(new RegExp(`^error \\[untrusted-component\\]: ${file}: no signature: ${file}\\.sig does not exist`))])
    expect(run.out).not.toContain('listening on:')
    // --no-require-signed turns the file's off, trust keys and all
    const off = start(['node', ...loopback, '--data-dir', at('n3'), '--config', at('node.yaml'), '--no-require-signed'])
    try {
      await off.out.waitFor(l => l.includes('wasmesh:examples/arith  config-unsigned'), off.exited)
    } finally {
      expect(await off.stop()).toBe(0)
    }
    // a signed component passes with the same file
    expect((await wasmesh(['sign', file, '--key', at('admin.key')])).code).toBe(0)
    const signed = start(['node', ...loopback, '--data-dir', at('n3'), '--config', at('node.yaml')])
    try {
      await signed.out.waitFor(l => l.includes('wasmesh:examples/arith  config-unsigned'), signed.exited)
    } finally {
      expect(await signed.stop()).toBe(0)
    }
    await writeFile(at('bad.yaml'), 'require-signed: yes please\n')
    const bad = await wasmesh(['node', ...loopback, '--data-dir', at('n2'), '--config', at('bad.yaml')])
    expect([bad.code, bad.err]).toEqual([1, expect.stringMatching(/^error \[bad-config\]: .*bad\.yaml:1: key "require-signed": must be true or false/)])
  })
})
