// Member certificates: what verifies, and every forged, expired, replayed, oversized, truncated or garbage one refused with its code.

import { createPublicKey } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { SignJWT } from 'jose'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateSigningKey, keyId, signMemberCert, verifyMemberCert, checkOwnMemberCert, memberCertType, parseDurationS } from '../../../node/security/index.ts'

const admin = generateSigningKey()
const adminPub = createPublicKey(admin)
const stranger = generateSigningKey()
const now = Math.floor(Date.now() / 1000)

async function peerId (): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

async function codeOf (p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    return (err as { code: string }).code
  }
  return 'no error'
}

describe('member certificates', () => {
  it('verifies one signed by a trusted admin for that peer and lattice, with its labels', async () => {
    const peer = await peerId()
    const cert = await signMemberCert(admin, { peer, labels: { role: 'web', zone: 'eu-1' }, lattice: 'prod', expiresAt: now + 3600 })
    const got = await verifyMemberCert(cert, { trusted: [adminPub], peer, lattice: 'prod' })
    expect(got).toMatchObject({ peer, labels: { role: 'web', zone: 'eu-1' }, lattice: 'prod', expiresAt: now + 3600, issuer: keyId(admin) })
    // the bytes as they arrive on the wire verify the same
    expect((await verifyMemberCert(new TextEncoder().encode(cert), { trusted: [adminPub], peer, lattice: 'prod' })).labels).toEqual({ role: 'web', zone: 'eu-1' })
  })

  it('refuses one signed by an admin this node does not trust, and one whose claims were altered', async () => {
    const peer = await peerId()
    const foreign = await signMemberCert(stranger, { peer, labels: { role: 'admin' }, expiresAt: now + 3600 })
    expect(await codeOf(verifyMemberCert(foreign, { trusted: [adminPub], peer, lattice: 'default' }))).toBe('member-cert-untrusted')
    // the trusted admin's key id in the header, the stranger's signature: forged
    const forged = await new SignJWT({ labels: { role: 'admin' }, lattice: 'default' })
      .setProtectedHeader({ alg: 'EdDSA', typ: memberCertType, kid: keyId(admin) }).setSubject(peer).setIssuedAt(now).setExpirationTime(now + 3600).sign(stranger)
    expect(await codeOf(verifyMemberCert(forged, { trusted: [adminPub], peer, lattice: 'default' }))).toBe('member-cert-untrusted')
    // a real certificate whose payload is swapped for one with more labels
    const real = await signMemberCert(admin, { peer, labels: { role: 'web' }, expiresAt: now + 3600 })
    const [h, , s] = real.split('.')
    const payload = Buffer.from(JSON.stringify({ sub: peer, labels: { role: 'admin' }, lattice: 'default', iat: now, exp: now + 3600 })).toString('base64url')
    expect(await codeOf(verifyMemberCert(`${h}.${payload}.${s}`, { trusted: [adminPub], peer, lattice: 'default' }))).toBe('member-cert-untrusted')
  })

  it('refuses a certificate replayed by another peer, one for another lattice, and an expired one', async () => {
    const peer = await peerId()
    const cert = await signMemberCert(admin, { peer, labels: { role: 'web' }, expiresAt: now + 3600 })
    expect(await codeOf(verifyMemberCert(cert, { trusted: [adminPub], peer: await peerId(), lattice: 'default' }))).toBe('member-cert-wrong-peer')
    expect(await codeOf(verifyMemberCert(cert, { trusted: [adminPub], peer, lattice: 'prod' }))).toBe('member-cert-other-lattice')
    const old = await signMemberCert(admin, { peer, expiresAt: now - 3600, issuedAt: now - 7200 })
    expect(await codeOf(verifyMemberCert(old, { trusted: [adminPub], peer, lattice: 'default' }))).toBe('member-cert-expired')
    // within the clock tolerance of the future: fine; far ahead: not valid
    expect(await codeOf(verifyMemberCert(cert, { trusted: [adminPub], peer, lattice: 'default', now: now + 7200 }))).toBe('member-cert-expired')
  })

  it('refuses garbage, truncated, oversized and wrongly typed certificates as bad-member-cert', async () => {
    const peer = await peerId()
    const cert = await signMemberCert(admin, { peer, labels: { role: 'web' }, expiresAt: now + 3600 })
    const init = { trusted: [adminPub], peer, lattice: 'default' }
    for (const bad of [
      '', 'garbage', cert.slice(0, cert.length - 10).replace(/\.[^.]*$/, ''), cert.slice(0, cert.lastIndexOf('.')), 'a.b.c', `${cert}.x`,
      new Uint8Array([0xff, 0xfe, 0x00, 0x01]), 'x'.repeat(9000), new Uint8Array(1024 * 1024)
    ]) {
      expect(await codeOf(verifyMemberCert(bad, init)), String(bad).slice(0, 40)).toBe('bad-member-cert')
    }
    // truncated inside the signature: the signature no longer verifies
    expect(await codeOf(verifyMemberCert(cert.slice(0, -4), init))).toBe('member-cert-untrusted')
    // a JWT the admin signed for something else (another typ), and alg none
    const other = await new SignJWT({ labels: {} }).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: keyId(admin) }).setSubject(peer).setIssuedAt(now).setExpirationTime(now + 60).sign(admin)
    expect(await codeOf(verifyMemberCert(other, init))).toBe('bad-member-cert')
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: memberCertType, kid: keyId(admin) })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: peer, exp: now + 60, iat: now })).toString('base64url')}.x`
    expect(await codeOf(verifyMemberCert(none, init))).toBe('bad-member-cert')
    // labels past the limits, or not strings, or reserved
    expect(await codeOf(signMemberCert(admin, { peer, labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])), expiresAt: now + 60 }))).toBe('bad-member-cert')
    expect(await codeOf(signMemberCert(admin, { peer, labels: { 'wasmesh.role': 'client' }, expiresAt: now + 60 }))).toBe('bad-member-cert')
    const badLabels = await new SignJWT({ labels: { role: 5 }, lattice: 'default' }).setProtectedHeader({ alg: 'EdDSA', typ: memberCertType, kid: keyId(admin) }).setSubject(peer).setIssuedAt(now).setExpirationTime(now + 60).sign(admin)
    expect(await codeOf(verifyMemberCert(badLabels, init))).toBe('bad-member-cert')
  })

  it("checks a node's own certificate at start: its peer id, lattice and expiry, and the signature when it trusts admins", async () => {
    const peer = await peerId()
    const cert = await signMemberCert(admin, { peer, labels: { role: 'web' }, expiresAt: now + 3600 })
    expect((await checkOwnMemberCert(cert, { trusted: [], peer, lattice: 'default' })).labels).toEqual({ role: 'web' })
    expect(await codeOf(checkOwnMemberCert(cert, { trusted: [], peer: await peerId(), lattice: 'default' }))).toBe('member-cert-wrong-peer')
    expect(await codeOf(checkOwnMemberCert(cert, { trusted: [createPublicKey(stranger)], peer, lattice: 'default' }))).toBe('member-cert-untrusted')
    expect(await codeOf(checkOwnMemberCert('nonsense', { trusted: [], peer, lattice: 'default' }))).toBe('bad-member-cert')
  })

  it('reads durations for --expires', () => {
    expect(parseDurationS('30d')).toBe(30 * 86400)
    expect(parseDurationS('12h')).toBe(12 * 3600)
    expect(() => parseDurationS('0d')).toThrow(/more than 0/)
    expect(() => parseDurationS('soon')).toThrow(/not a duration/)
  })
})
