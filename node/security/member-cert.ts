// Member certificates: a peer id, its labels and an expiry, signed by a lattice admin key, as a JWT (JWS compact, EdDSA).

import type { KeyObject } from 'node:crypto'
import { SignJWT, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose'
import { keyId } from './key-files.ts'
import { SecurityError } from './errors.ts'

/** Labels a certificate vouches for: the only labels of a peer a policy or a label filter trusts. */
export type MemberLabels = Readonly<Record<string, string>>

/** What a verified certificate says. */
export interface MemberCert {
  /** The peer id it was issued to (`sub`). */
  readonly peer: string
  readonly labels: MemberLabels
  /** The lattice it was issued for (`lattice`). */
  readonly lattice: string
  /** Seconds since the epoch (`iat`, `exp`). */
  readonly issuedAt: number
  readonly expiresAt: number
  /** The key id (RFC 7638 thumbprint) of the admin key that signed it. */
  readonly issuer: string
}

export interface MemberCertLimits {
  /** The most bytes a certificate may have; a longer one is refused before it is parsed. */
  readonly maxMemberCertBytes: number
  /** The most labels one certificate may carry. */
  readonly maxMemberCertLabels: number
  /** The most bytes of one label's key or value. */
  readonly maxMemberLabelBytes: number
}

export const defaultMemberCertLimits: MemberCertLimits = Object.freeze({
  maxMemberCertBytes: 8 * 1024,
  maxMemberCertLabels: 64,
  maxMemberLabelBytes: 256
})

/** The JWT `typ` of a member certificate, so that no other JWT an admin key signed passes for one. */
export const memberCertType = 'wasmesh-member+jwt'

/** Tolerated clock difference between the admin's machine and this one. */
const clockToleranceS = 60

/** Label keys as adverts allow them, minus the reserved `wasmesh.` prefix. */
const labelKey = /^[A-Za-z0-9][A-Za-z0-9._\-/]*$/

export interface SignMemberInit {
  readonly peer: string
  readonly labels?: MemberLabels
  readonly lattice?: string
  /** Seconds since the epoch. */
  readonly expiresAt: number
  /** Seconds since the epoch. Default now. */
  readonly issuedAt?: number
}

/** Signs a member certificate with an admin's private signing key; returns its text (a JWT). */
export async function signMemberCert (adminKey: KeyObject, init: SignMemberInit, limits: MemberCertLimits = defaultMemberCertLimits): Promise<string> {
  const labels = checkLabels(init.labels ?? {}, limits)
  const issuedAt = init.issuedAt ?? Math.floor(Date.now() / 1000)
  if (!Number.isSafeInteger(init.expiresAt) || init.expiresAt <= issuedAt) throw new SecurityError('bad-member-cert', 'a member certificate must expire after it is issued')
  const kid = keyId(adminKey)
  const token = await new SignJWT({ labels, lattice: init.lattice ?? 'default' })
    .setProtectedHeader({ alg: 'EdDSA', typ: memberCertType, kid })
    .setSubject(init.peer)
    .setIssuer(kid)
    .setIssuedAt(issuedAt)
    .setExpirationTime(init.expiresAt)
    .sign(adminKey)
  if (token.length > limits.maxMemberCertBytes) throw new SecurityError('bad-member-cert', `the certificate would be ${token.length} bytes, more than maxMemberCertBytes (${limits.maxMemberCertBytes}): give fewer or shorter labels`)
  return token
}

export interface VerifyMemberInit {
  /** The admin public keys this node trusts. */
  readonly trusted: readonly KeyObject[]
  /** The peer the certificate must name: the connection's remote peer, so a replayed certificate of another peer is useless. */
  readonly peer: string
  /** The lattice it must be issued for. */
  readonly lattice: string
  readonly limits?: MemberCertLimits
  /** Seconds since the epoch. Default now. */
  readonly now?: number
}

/**
 * Verifies a certificate's bytes: bounded size, a JWT of our `typ`, signed (EdDSA) by one of the
 * trusted admin keys, issued to `peer` for `lattice`, not expired. Throws a `SecurityError` whose
 * code says which check failed.
 */
export async function verifyMemberCert (bytes: Uint8Array | string, init: VerifyMemberInit): Promise<MemberCert> {
  const limits = init.limits ?? defaultMemberCertLimits
  const size = typeof bytes === 'string' ? bytes.length : bytes.byteLength
  if (size > limits.maxMemberCertBytes) throw new SecurityError('bad-member-cert', `a member certificate is at most ${limits.maxMemberCertBytes} bytes (maxMemberCertBytes), this one has ${size}`)
  let text: string
  try {
    text = typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new SecurityError('bad-member-cert', 'a member certificate is ASCII text (a JWT); these bytes are not even UTF-8')
  }
  text = text.trim()
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(text)) throw new SecurityError('bad-member-cert', 'not a member certificate (a JWT of three base64url parts): truncated or garbage')
  let kid: unknown
  try {
    const header = decodeProtectedHeader(text)
    if (header.typ !== memberCertType) throw new Error(`typ ${JSON.stringify(header.typ)}, not ${memberCertType}`)
    if (header.alg !== 'EdDSA') throw new Error(`alg ${JSON.stringify(header.alg)}, not EdDSA`)
    kid = header.kid
  } catch (err) {
    throw new SecurityError('bad-member-cert', `not a member certificate: ${(err as Error).message}`, { cause: err })
  }
  const key = init.trusted.find(k => keyId(k) === kid)
  if (key === undefined) throw new SecurityError('member-cert-untrusted', `the certificate is signed by admin key ${typeof kid === 'string' ? kid.slice(0, 64) : '(none named)'}, which this node does not trust (--trust-admin)`)
  let payload: Record<string, unknown>
  try {
    const now = init.now ?? Math.floor(Date.now() / 1000)
    const verified = await jwtVerify(text, key, { algorithms: ['EdDSA'], typ: memberCertType, clockTolerance: clockToleranceS, currentDate: new Date(now * 1000), requiredClaims: ['sub', 'exp', 'iat'] })
    payload = verified.payload as Record<string, unknown>
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new SecurityError('member-cert-expired', 'the member certificate has expired: ask the lattice admin for a new one (wasmesh key sign-member)', { cause: err })
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new SecurityError('member-cert-untrusted', `the certificate's signature does not verify with admin key ${String(kid)}: forged or altered`, { cause: err })
    if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'nbf') throw new SecurityError('member-cert-expired', 'the member certificate is not valid yet', { cause: err })
    throw new SecurityError('bad-member-cert', `not a valid member certificate: ${(err as Error).message}`, { cause: err })
  }
  const { sub, iat, exp } = payload
  if (typeof sub !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') throw new SecurityError('bad-member-cert', 'a member certificate needs sub, iat and exp')
  if (iat > (init.now ?? Date.now() / 1000) + clockToleranceS) throw new SecurityError('member-cert-expired', 'the member certificate is issued in the future')
  if (sub !== init.peer) throw new SecurityError('member-cert-wrong-peer', `the certificate was issued to ${sub.slice(0, 80)}, not to ${init.peer}: a certificate is good only for the peer it names`)
  const lattice = payload.lattice ?? 'default'
  if (lattice !== init.lattice) throw new SecurityError('member-cert-other-lattice', `the certificate is for lattice ${JSON.stringify(String(lattice).slice(0, 64))}, not ${JSON.stringify(init.lattice)}`)
  const labels = checkLabels(payload.labels ?? {}, limits)
  return { peer: sub, labels, lattice: init.lattice, issuedAt: iat, expiresAt: exp, issuer: String(kid) }
}

/** Labels within the limits, as a frozen plain object (a `__proto__` key stays a key). */
function checkLabels (labels: unknown, limits: MemberCertLimits): MemberLabels {
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) throw new SecurityError('bad-member-cert', 'labels must be a map of strings')
  const entries = Object.entries(labels)
  if (entries.length > limits.maxMemberCertLabels) throw new SecurityError('bad-member-cert', `a certificate carries at most ${limits.maxMemberCertLabels} labels (maxMemberCertLabels), not ${entries.length}`)
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw new SecurityError('bad-member-cert', `label ${JSON.stringify(k.slice(0, 64))} must be a string`)
    if (!labelKey.test(k) || k.startsWith('wasmesh.')) throw new SecurityError('bad-member-cert', `label key ${JSON.stringify(k.slice(0, 64))}: letters, digits, . _ - /, not starting with wasmesh.`)
    if (k.length > limits.maxMemberLabelBytes || Buffer.byteLength(v) > limits.maxMemberLabelBytes) throw new SecurityError('bad-member-cert', `label ${JSON.stringify(k.slice(0, 64))}: keys and values are at most ${limits.maxMemberLabelBytes} bytes (maxMemberLabelBytes)`)
  }
  return Object.freeze(Object.fromEntries(entries))
}

/** `30d`, `12h`, `90m`, `3600s` -> seconds. */
export function parseDurationS (text: string): number {
  const m = /^(\d+)\s*([smhd])$/.exec(text.trim())
  if (m === null) throw new SecurityError('bad-member-cert', `${JSON.stringify(text)} is not a duration (like 30d, 12h, 90m)`)
  const n = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd']
  if (!Number.isSafeInteger(n) || n <= 0) throw new SecurityError('bad-member-cert', `${JSON.stringify(text)}: a duration must be more than 0`)
  return n
}

/**
 * Checks this node's own certificate before it is presented: it must name this node's peer id, this
 * lattice, not be expired, and (when this node trusts admins) verify with one of them, so that an operator
 * learns of a wrong file at start, not from peers' refusals.
 */
export async function checkOwnMemberCert (text: string, init: VerifyMemberInit): Promise<MemberCert> {
  if (init.trusted.length > 0) {
    try {
      return await verifyMemberCert(text, init)
    } catch (err) {
      if (err instanceof SecurityError) throw new SecurityError(err.code, `this node's member certificate: ${err.message}`, { cause: err })
      throw err
    }
  }
  // no admin key to check the signature with: the claims at least must be right
  let payload: Record<string, unknown>
  try {
    if (text.length > (init.limits ?? defaultMemberCertLimits).maxMemberCertBytes) throw new Error('too large')
    payload = decodeJwt(text.trim()) as Record<string, unknown>
  } catch (err) {
    throw new SecurityError('bad-member-cert', `this node's member certificate is not one: ${(err as Error).message}`, { cause: err })
  }
  if (payload.sub !== init.peer) throw new SecurityError('member-cert-wrong-peer', `this node's member certificate was issued to ${String(payload.sub).slice(0, 80)}, not to this node (${init.peer}): sign one for this peer id, or start with the data directory that holds its identity`)
  if ((payload.lattice ?? 'default') !== init.lattice) throw new SecurityError('member-cert-other-lattice', `this node's member certificate is for lattice ${String(payload.lattice)}, not ${init.lattice}`)
  if (typeof payload.exp !== 'number' || payload.exp * 1000 <= (init.now ?? Date.now() / 1000) * 1000) throw new SecurityError('member-cert-expired', "this node's member certificate has expired: ask the lattice admin for a new one")
  return { peer: init.peer, labels: checkLabels(payload.labels ?? {}, init.limits ?? defaultMemberCertLimits), lattice: init.lattice, issuedAt: Number(payload.iat), expiresAt: payload.exp, issuer: '' }
}
