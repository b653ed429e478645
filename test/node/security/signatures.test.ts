// Component signatures over bytes and keys: what verifies, and every forged, replayed, tampered or hostile signature refused with its reason.

import { createHmac, createPublicKey, generateKeyPairSync } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  UntrustedComponentError, disallowedImports, generateSigningKey, importAllowed, keyId, parseComponentSignature, selfCheck,
  signComponent, trustedKeys, verifyComponentSignature
} from '../../../node/security/index.ts'

const component = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 1, 2, 3, 4])
const admin = generateSigningKey()
const other = generateSigningKey()
const trusted = trustedKeys([createPublicKey(admin)])

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')

async function refusal (promise: Promise<unknown>): Promise<UntrustedComponentError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(UntrustedComponentError)
  expect((err as UntrustedComponentError).code).toBe('untrusted-component')
  return err as UntrustedComponentError
}

/** A token with this header and payload, signed by `key` as a JWS would be (EdDSA over `header.payload`). */
async function forge (header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject = admin): Promise<string> {
  const { sign } = await import('node:crypto')
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`
}

function partsOf (token: string): { header: Record<string, unknown>, payload: Record<string, unknown> } {
  const [h, p] = token.trim().split('.')
  return { header: JSON.parse(Buffer.from(h, 'base64url').toString()), payload: JSON.parse(Buffer.from(p, 'base64url').toString()) }
}

describe('component signatures', () => {
  it('sign a component\'s digest with the signer\'s key id, time and claims, and verify with the trusted key', async () => {
    const now = new Date('2026-12-03T12:00:00Z')
    const sig = await signComponent(component, admin, { claims: { name: 'upper', version: '1.2.0', imports: ['local:demo/host'] }, now })
    expect(sig.endsWith('\n')).toBe(true)
    const { header, payload } = partsOf(sig)
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'wasmesh-component+jwt', kid: keyId(admin) })
    expect(payload).toMatchObject({ iss: keyId(admin), iat: now.getTime() / 1000, component: { name: 'upper', version: '1.2.0', imports: ['local:demo/host'] } })
    const verified = await verifyComponentSignature(component, sig, trusted, { now })
    expect(verified.keyId).toBe(keyId(admin))
    expect(verified.signedAt.toISOString()).toBe(now.toISOString())
    expect(verified.claims).toEqual({ name: 'upper', version: '1.2.0', imports: ['local:demo/host'] })
    expect(await selfCheck(component, verified, now)).toBeUndefined()
  })

  it('refuse a component changed by one byte after signing, and a signature of another component (digest-mismatch)', async () => {
    const sig = await signComponent(component, admin)
    const tampered = component.slice()
    tampered[tampered.length - 1] ^= 1
    expect((await refusal(verifyComponentSignature(tampered, sig, trusted))).reason).toBe('digest-mismatch')
    const another = await signComponent(new Uint8Array([...component, 9]), admin)
    const replayed = await refusal(verifyComponentSignature(component, another, trusted))
    expect(replayed.reason).toBe('digest-mismatch')
    expect(replayed.message).toMatch(/another component's/)
    // inspect's own check says the same without trusting anyone
    expect((await selfCheck(tampered, parseComponentSignature(sig)))?.reason).toBe('digest-mismatch')
  })

  it('refuse a signature by a key not trusted, naming the key', async () => {
    const sig = await signComponent(component, other)
    const err = await refusal(verifyComponentSignature(component, sig, trusted))
    expect(err.reason).toBe('untrusted-key')
    expect(err.message).toContain(keyId(other))
    expect(err.message).toContain('--trust-key')
    // valid for its own key, only not trusted
    expect(await selfCheck(component, parseComponentSignature(sig))).toBeUndefined()
  })

  it('refuse a forged header that names the trusted key over another key\'s signature (bad-signature)', async () => {
    const honest = partsOf(await signComponent(component, admin))
    // signed by `other`, but claiming to be admin's (kid, iss and jwk all admin's): the trusted key does not verify it
    const forged = await forge(honest.header, honest.payload, other)
    expect((await refusal(verifyComponentSignature(component, forged, trusted))).reason).toBe('bad-signature')
    // a valid signature whose claims were edited afterwards
    const sig = await signComponent(component, admin)
    const [h, , s] = sig.trim().split('.')
    const edited = `${h}.${b64({ ...honest.payload, component: { name: 'evil' } })}.${s}`
    expect((await refusal(verifyComponentSignature(component, edited, trusted))).reason).toBe('bad-signature')
  })

  it('refuse alg none, HMAC with the public key as secret (alg confusion) and other algs before any key is used', async () => {
    const { header, payload } = partsOf(await signComponent(component, admin))
    const none = `${b64({ ...header, alg: 'none' })}.${b64(payload)}.`
    expect((await refusal(verifyComponentSignature(component, none, trusted))).reason).toBe('malformed')
    const noneSigned = `${b64({ ...header, alg: 'none' })}.${b64(payload)}.AAAA`
    const e1 = await refusal(verifyComponentSignature(component, noneSigned, trusted))
    expect([e1.reason, e1.message]).toEqual(['malformed', expect.stringMatching(/alg "none"/)])
    const secret = Buffer.from(createPublicKey(admin).export({ format: 'jwk' }).x as string, 'base64url')
    const input = `${b64({ ...header, alg: 'HS256' })}.${b64(payload)}`
    const hmac = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
    expect((await refusal(verifyComponentSignature(component, hmac, trusted))).reason).toBe('malformed')
    for (const alg of ['ES256', 'RS256', 'Ed25519', 'EDDSA', '', null]) {
      const t = await forge({ ...header, alg }, payload)
      expect((await refusal(verifyComponentSignature(component, t, trusted))).reason).toBe('malformed')
    }
  })

  it('refuse garbage, truncated, huge and mistyped signatures with a reason, never a crash', async () => {
    const sig = await signComponent(component, admin)
    const cases: Array<[string, Uint8Array | string, string]> = [
      ['empty', '', 'malformed'],
      ['garbage', new Uint8Array([0xff, 0xfe, 0x00, 0x01, 0x80]), 'malformed'],
      ['text', 'hello world', 'malformed'],
      ['truncated to two parts', sig.slice(0, sig.lastIndexOf('.')), 'malformed'],
      ['truncated signature', sig.trim().slice(0, -10), 'bad-signature'],
      ['cut in the header', sig.slice(0, 20), 'malformed'],
      ['huge', 'a'.repeat(64 * 1024 + 1), 'too-large'],
      ['a JSON serialization', JSON.stringify({ payload: 'x', signatures: [] }), 'malformed'],
      ['nested JSON', `${b64('['.repeat(40_000))}.${b64('{}')}.AAAA`, 'malformed'],
      ['header not an object', `${b64('[1]')}.${b64('{}')}.AAAA`, 'malformed'],
      ['five parts (JWE)', 'a.b.c.d.e', 'malformed']
    ]
    for (const [what, bytes, reason] of cases) {
      const err = await refusal(verifyComponentSignature(component, bytes, trusted))
      expect([what, err.reason]).toEqual([what, reason])
    }
    // the limit is the caller's
    expect((await refusal(verifyComponentSignature(component, sig, trusted, { maxComponentSignatureBytes: 100 }))).reason).toBe('too-large')
  })

  it('refuse headers and claims that do not make a component signature', async () => {
    const { header, payload } = partsOf(await signComponent(component, admin))
    const otherJwk = createPublicKey(other).export({ format: 'jwk' })
    const bad: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      ['typ JWT', { ...header, typ: 'JWT' }, payload],
      ['no typ', { ...header, typ: undefined }, payload],
      ['crit', { ...header, crit: ['b64'], b64: false }, payload],
      ['no kid', { ...header, kid: undefined }, payload],
      ['jwk of another key', { ...header, jwk: { kty: otherJwk.kty, crv: otherJwk.crv, x: otherJwk.x } }, payload],
      ['private jwk', { ...header, jwk: admin.export({ format: 'jwk' }) }, payload],
      ['iss not kid', header, { ...payload, iss: keyId(other) }],
      ['sub not a digest', header, { ...payload, sub: 'upper.wasm' }],
      ['no iat', header, { ...payload, iat: undefined }],
      ['exp text', header, { ...payload, exp: 'tomorrow' }],
      ['imports not a list', header, { ...payload, component: { imports: 'local:demo/host' } }],
      ['import not an id', header, { ...payload, component: { imports: ['local:demo/host; rm -rf'] } }],
      ['name with a control character', header, { ...payload, component: { name: 'a\u001b[2Jb' } }],
      ['too many imports', header, { ...payload, component: { imports: Array.from({ length: 1025 }, (_, i) => `a:b/c${i}`) } }]
    ]
    for (const [what, h, p] of bad) {
      const err = await refusal(verifyComponentSignature(component, await forge(h, p), trusted))
      expect([what, err.reason]).toEqual([what, 'malformed'])
    }
  })

  it('refuse an expired signature, and one not valid yet', async () => {
    const now = new Date('2026-12-03T12:00:00Z')
    const sig = await signComponent(component, admin, { now, expiresInMs: 3_600_000 })
    await verifyComponentSignature(component, sig, trusted, { now: new Date(now.getTime() + 3_000_000) })
    expect((await refusal(verifyComponentSignature(component, sig, trusted, { now: new Date(now.getTime() + 2 * 3_600_000) }))).reason).toBe('expired')
    const { header, payload } = partsOf(sig)
    const later = await forge(header, { ...payload, nbf: payload.iat as number + 86_400 })
    expect((await refusal(verifyComponentSignature(component, later, trusted, { now }))).reason).toBe('not-yet-valid')
  })

  it('match allowed imports by id, by id without version, and by package', () => {
    expect(importAllowed(['local:demo/host'], 'local:demo/host@0.1.0')).toBe(true)
    expect(importAllowed(['local:demo/host@0.1.0'], 'local:demo/host@0.1.0')).toBe(true)
    expect(importAllowed(['local:demo/host@0.2.0'], 'local:demo/host@0.1.0')).toBe(false)
    expect(importAllowed(['wasi:keyvalue/*'], 'wasi:keyvalue/store@0.2.0-draft')).toBe(true)
    expect(importAllowed(['wasi:keyvalue/*'], 'wasi:keyvalues/store')).toBe(false)
    expect(importAllowed(['local:demo/hos'], 'local:demo/host')).toBe(false)
    expect(disallowedImports({ imports: ['local:demo/host'] }, ['local:demo/host', 'wasmcloud:postgres/query@0.2.0-draft'])).toEqual(['wasmcloud:postgres/query@0.2.0-draft'])
    expect(disallowedImports({}, ['anything:at/all'])).toEqual([])
  })

  it('refuse to sign with a public key or claims that are not claims', async () => {
    await expect(signComponent(component, createPublicKey(admin))).rejects.toMatchObject({ code: 'bad-key-file' })
    await expect(signComponent(component, admin, { claims: { imports: ['not an id'] } })).rejects.toMatchObject({ code: 'invalid-claims' })
    expect(() => trustedKeys([generateKeyPairSync('x25519').publicKey])).toThrow(/Ed25519/)
  })
})
