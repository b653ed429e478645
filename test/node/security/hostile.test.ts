// Mutated certificates and policy files by the thousand: every one verifies to the original claims or is refused with a SecurityError, never a crash.

import { createPublicKey } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { SecurityError, generateSigningKey, parsePolicy, signMemberCert, verifyMemberCert } from '../../../node/security/index.ts'
import { createPrng } from '../../../simulations/prng.ts'

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=:#*[]{}",\n '

/** Flips, inserts, deletes and truncates characters of `text`. */
function mutate (text: string, random: () => number): string {
  const out = [...text]
  const n = 1 + Math.floor(random() * 4)
  for (let i = 0; i < n; i++) {
    const at = Math.floor(random() * (out.length + 1))
    switch (Math.floor(random() * 4)) {
      case 0: out.splice(at, 0, alphabet[Math.floor(random() * alphabet.length)]); break
      case 1: out.splice(at, 1); break
      case 2: out.length = at; break
      default: if (out.length > 0) out[at % out.length] = alphabet[Math.floor(random() * alphabet.length)]
    }
  }
  return out.join('')
}

describe('hostile input to the security decoders', () => {
  it('never verifies a mutated certificate to other claims than the signed ones', async () => {
    const admin = generateSigningKey()
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const cert = await signMemberCert(admin, { peer, labels: { role: 'web' }, expiresAt: Math.floor(Date.now() / 1000) + 3600 })
    const prng = createPrng(15)
    const random = (): number => prng.next()
    const codes = new Map<string, number>()
    let verified = 0
    for (let i = 0; i < 2000; i++) {
      const input = mutate(cert, random)
      try {
        const got = await verifyMemberCert(input, { trusted: [createPublicKey(admin)], peer, lattice: 'default' })
        // base64url has slack bits and a trailing newline is trimmed: the same claims may still decode
        expect(got.labels).toEqual({ role: 'web' })
        expect(got.peer).toBe(peer)
        verified++
      } catch (err) {
        expect(err).toBeInstanceOf(SecurityError)
        const code = (err as SecurityError).code
        codes.set(code, (codes.get(code) ?? 0) + 1)
      }
    }
    expect(verified).toBeLessThan(200)
    expect(codes.get('bad-member-cert')).toBeGreaterThan(100)
    expect(codes.get('member-cert-untrusted')).toBeGreaterThan(100)
  }, 60_000)

  it('parses a mutated policy or refuses it as bad-policy naming a line', () => {
    const policy = `version: 1
default: allow
data: [acme:ledger/*]
rules:
  - name: web uses kv
    allow: call
    peers: ["label:role=web,zone=eu", "*"]
    interfaces: ["wasi:keyvalue/store#open", wasi:keyvalue/*]
  - deny: serve
    peers: ["*"]
    interfaces: [acme:ledger/books@1.0.0]
`
    const prng = createPrng(16)
    const random = (): number => prng.next()
    let parsed = 0
    for (let i = 0; i < 5000; i++) {
      const input = mutate(policy, random)
      try {
        parsePolicy(input, 'p.yaml')
        parsed++
      } catch (err) {
        expect(err, input).toBeInstanceOf(SecurityError)
        expect((err as SecurityError).code).toBe('bad-policy')
        expect((err as Error).message).toMatch(/^p\.yaml(:\d+)?: /)
      }
    }
    expect(parsed).toBeGreaterThan(100)
    expect(parsed).toBeLessThan(4900)
  }, 60_000)
})
