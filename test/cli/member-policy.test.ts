// `wasmesh key sign-member` and the node's security settings in a config file: what they take and how they refuse.

import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadConfigFile } from '../../cli/config.ts'
import { readPublicKey, verifyMemberCert } from '../../node/security/index.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { wasmesh } from './helpers.ts'

let dir: ScratchDir
let peer: string

beforeAll(async () => {
  dir = await scratchDir('cli-security')
  peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  expect((await wasmesh(['key', 'new', '--signing', '--out', join(dir.path, 'admin.key')])).code).toBe(0)
  expect((await wasmesh(['key', 'public', join(dir.path, 'admin.key'), '--out', join(dir.path, 'admin.pub')])).code).toBe(0)
})
afterAll(async () => { await dir?.remove() })

describe('wasmesh key sign-member', () => {
  it('signs a certificate a node trusting the admin verifies, with the labels, lattice and expiry given', async () => {
    const out = join(dir.path, 'web.cert')
    const run = await wasmesh(['key', 'sign-member', '--key', join(dir.path, 'admin.key'), '--peer', peer, '--label', 'role=web', '--label', 'zone=eu-1', '--expires', '2h', '--lattice', 'prod', '--out', out])
    expect(run.code, run.err).toBe(0)
    expect(run.out).toContain(`wrote the member certificate ${out} for ${peer} (labels role=web, zone=eu-1, lattice prod, expires `)
    const cert = await verifyMemberCert((await readFile(out, 'utf8')).trim(), { trusted: [await readPublicKey(join(dir.path, 'admin.pub'))], peer, lattice: 'prod' })
    expect(cert.labels).toEqual({ role: 'web', 'zone': 'eu-1' })
    expect(cert.expiresAt - cert.issuedAt).toBe(7200)
    // never over an existing file
    const again = await wasmesh(['key', 'sign-member', '--key', join(dir.path, 'admin.key'), '--peer', peer, '--expires', '1h', '--out', out])
    expect(again.code).toBe(2)
    expect(again.err).toContain('exists: remove it first')
  })

  it('refuses what it cannot sign, saying what to give', async () => {
    const key = join(dir.path, 'admin.key')
    const cases: Array<[string[], RegExp]> = [
      [['--peer', peer, '--expires', '1h', '--out', 'x'], /needs --key/],
      [['--key', key, '--expires', '1h', '--out', 'x'], /needs --peer/],
      [['--key', key, '--peer', 'nobody', '--expires', '1h', '--out', 'x'], /--peer: "nobody" is not a peer id/],
      [['--key', key, '--peer', peer, '--expires', 'soon', '--out', 'x'], /--expires: "soon" is not a duration/],
      [['--key', key, '--peer', peer, '--expires', '1h', '--label', 'nolabel', '--out', 'x'], /--label: label "nolabel" is not key=value/],
      [['--key', join(dir.path, 'admin.pub'), '--peer', peer, '--expires', '1h', '--out', join(dir.path, 'y.cert')], /error \[bad-key\]: the signing key .*admin\.pub can be read by other users/]
    ]
    for (const [args, message] of cases) {
      const run = await wasmesh(['key', 'sign-member', ...args])
      expect(run.code, args.join(' ')).not.toBe(0)
      expect(run.err, args.join(' ')).toMatch(message)
    }
  })
})

describe("the node's security settings", () => {
  it('reads member-cert, trust-admin and policy from a config file, relative to it', async () => {
    const file = join(dir.path, 'node.yaml')
    await writeFile(file, 'member-cert: web.cert\ntrust-admin: [admin.pub, other.pub]\npolicy: policy.yaml\n')
    expect(await loadConfigFile(file)).toEqual({ memberCert: join(dir.path, 'web.cert'), trustAdmin: [join(dir.path, 'admin.pub'), join(dir.path, 'other.pub')], policy: join(dir.path, 'policy.yaml') })
  })

  it('refuses to start on a policy file it cannot use, naming the line', async () => {
    const policy = join(dir.path, 'bad-policy.yaml')
    await writeFile(policy, 'rules:\n  - allow: call\n    peers: [anyone]\n    interfaces: ["*"]\n')
    const run = await wasmesh(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(dir.path, 'n1'), '--policy', policy])
    expect(run.code).toBe(2)
    expect(run.err).toContain(`error [invalid-config]: ${policy}:3: peers: "anyone" is not "*", a peer id or label:key=value`)
    const missing = await wasmesh(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(dir.path, 'n1'), '--trust-admin', join(dir.path, 'nope.pub')])
    expect(missing.code).toBe(1)
    expect(missing.err).toMatch(/error \[bad-key\]: cannot read the public key .*nope\.pub: no such file/)
  })
})
