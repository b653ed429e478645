// Component signatures: a JWS (a JWT signed with EdDSA) over a component's sha256 digest, naming its signer, time and claims; made, read and verified over bytes and keys, no I/O.

import { createHash, createPublicKey } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { SignJWT, jwtVerify } from 'jose'
import { keyId } from './key-files.ts'
import { SecurityError, UntrustedComponentError } from './errors.ts'

/** The JWS `typ` of a component signature (RFC 8725 explicit typing: no other JWT passes for one). */
export const componentSignatureType = 'wasmesh-component+jwt'
/** The only algorithm taken: Ed25519 (RFC 8037). `none`, HMAC and every other alg are refused before any key is looked up. */
export const componentSignatureAlg = 'EdDSA'
/** Where a component file's signature lives: beside it, `<file>.sig`. */
export const signatureSuffix = '.sig'
/** A signature is a few hundred bytes (a few KiB with a long import list); more is not one, and is not parsed. */
export const defaultMaxComponentSignatureBytes = 64 * 1024
/** Clocks of the signer and the node may differ this much for `exp` and `nbf`. */
export const signatureClockToleranceSeconds = 300
/** Bounds on claims, so that what `inspect` and the logs print stays small. */
const maxClaimChars = 256
const maxClaimImports = 1024

/** What the signer says about the component besides its digest. */
export interface ComponentClaims {
  readonly name?: string
  readonly version?: string
  /**
   * The imports the component may have (interface ids `ns:pkg/iface@ver`, `ns:pkg/iface` for any version,
   * `ns:pkg/*` for any interface of a package, or a world function's name); a component importing anything
   * else is refused. The WASI interfaces the sandbox serves are not counted: grants govern those.
   */
  readonly imports?: readonly string[]
}

/** A signature as read from its bytes: what it claims, not yet whether it holds. */
export interface ComponentSignature {
  /** The signer's key id (RFC 7638 thumbprint): the JWS `kid`, and the JWT `iss`. */
  readonly keyId: string
  /** The signed component's sha256 (hex): the JWT `sub`, `sha256:<hex>`. */
  readonly digest: string
  readonly signedAt: Date
  readonly expiresAt?: Date
  readonly claims: ComponentClaims
  /** The signer's public key from the header (`jwk`): only to check the signature holds at all; never a reason to trust it. */
  readonly headerKey: KeyObject
  /** The compact JWS text. */
  readonly token: string
}

export interface SignOptions {
  readonly claims?: ComponentClaims
  /** The signature expires this long after `now`. */
  readonly expiresInMs?: number
  readonly now?: Date
}

export interface VerifyOptions {
  readonly maxComponentSignatureBytes?: number
  readonly now?: Date
}

export function componentDigest (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** The text of `<component>.sig`: one compact JWS and a newline. */
export async function signComponent (component: Uint8Array, key: KeyObject, opts: SignOptions = {}): Promise<string> {
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') throw new SecurityError('bad-key-file', 'signing needs an Ed25519 private key')
  const claims = checkComponentClaims(opts.claims ?? {})
  const kid = keyId(key)
  const { kty, crv, x } = createPublicKey(key).export({ format: 'jwk' })
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000)
  const jwt = new SignJWT(Object.keys(claims).length > 0 ? { component: claims } : {})
    .setProtectedHeader({ alg: componentSignatureAlg, typ: componentSignatureType, kid, jwk: { kty, crv, x } })
    .setIssuer(kid)
    .setSubject(`sha256:${componentDigest(component)}`)
    .setIssuedAt(now)
  if (opts.expiresInMs !== undefined) jwt.setExpirationTime(now + Math.ceil(opts.expiresInMs / 1000))
  return `${await jwt.sign(key)}\n`
}

const compactJws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

/**
 * Reads a signature's header and claims without verifying it (for `inspect`, and the first step of
 * `verifyComponentSignature`). Anything that is not a well-formed component signature is `malformed`.
 */
export function parseComponentSignature (signature: Uint8Array | string, opts: VerifyOptions = {}): ComponentSignature {
  const max = opts.maxComponentSignatureBytes ?? defaultMaxComponentSignatureBytes
  const size = typeof signature === 'string' ? Buffer.byteLength(signature) : signature.byteLength
  if (size > max) throw new UntrustedComponentError('too-large', `the signature is ${size} bytes, over maxComponentSignatureBytes (${max}): not a component signature`)
  const malformed = (why: string, cause?: unknown): never => {
    throw new UntrustedComponentError('malformed', `not a component signature: ${why}; make one with 'wasmesh sign'`, { cause })
  }
  let text: string
  try {
    text = typeof signature === 'string' ? signature : new TextDecoder('utf-8', { fatal: true }).decode(signature)
  } catch (err) {
    return malformed('not UTF-8 text', err)
  }
  text = text.trim()
  if (!compactJws.test(text)) return malformed('not a compact JWS (three base64url parts joined by dots)')
  const [head, body] = text.split('.')
  const header = jsonPart(head, 'header', malformed)
  const payload = jsonPart(body, 'payload', malformed)
  if (header.alg !== componentSignatureAlg) return malformed(`alg ${JSON.stringify(header.alg)}: component signatures are ${componentSignatureAlg} (Ed25519), every other alg is refused`)
  if (header.typ !== componentSignatureType) return malformed(`typ ${JSON.stringify(header.typ)}, not ${componentSignatureType}`)
  if (header.crit !== undefined) return malformed('it has critical header parameters, which component signatures do not use')
  if (typeof header.kid !== 'string' || header.kid.length === 0 || header.kid.length > maxClaimChars) return malformed('no key id (kid)')
  const headerKey = headerKeyOf(header.jwk, header.kid, malformed)
  if (payload.iss !== header.kid) return malformed('its issuer (iss) is not the key id (kid) that signed it')
  if (typeof payload.sub !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(payload.sub)) return malformed('its subject (sub) is not a sha256:<hex> digest')
  if (!isSeconds(payload.iat)) return malformed('no issued-at time (iat)')
  if (payload.exp !== undefined && !isSeconds(payload.exp)) return malformed('its expiry (exp) is not a time')
  if (payload.nbf !== undefined && !isSeconds(payload.nbf)) return malformed('its not-before (nbf) is not a time')
  const claims = payload.component === undefined ? {} : checkClaims(payload.component, message => new UntrustedComponentError('malformed', `not a component signature: ${message}`))
  return {
    keyId: header.kid,
    digest: payload.sub.slice('sha256:'.length),
    signedAt: new Date((payload.iat as number) * 1000),
    expiresAt: payload.exp === undefined ? undefined : new Date((payload.exp as number) * 1000),
    claims,
    headerKey,
    token: text
  }
}

function jsonPart (part: string, what: string, malformed: (why: string, cause?: unknown) => never): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
  } catch (err) {
    return malformed(`its ${what} is not base64url JSON`, err)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return malformed(`its ${what} is not a JSON object`)
  return value as Record<string, unknown>
}

function headerKeyOf (jwk: unknown, kid: string, malformed: (why: string, cause?: unknown) => never): KeyObject {
  const j = jwk as Record<string, unknown> | null
  if (j === null || typeof j !== 'object' || j.kty !== 'OKP' || j.crv !== 'Ed25519' || typeof j.x !== 'string' || 'd' in j) {
    return malformed('its header carries no Ed25519 public key (jwk)')
  }
  let key: KeyObject
  try {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: j.x }, format: 'jwk' })
  } catch (err) {
    return malformed('its header key (jwk) is not an Ed25519 key', err)
  }
  if (keyId(key) !== kid) return malformed('its header key (jwk) is not the key its id (kid) names')
  return key
}

function isSeconds (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

const importPattern = /^(?:[A-Za-z0-9-]+(?::[A-Za-z0-9-]+)+\/(?:\*|[A-Za-z0-9-]+(?:@[0-9A-Za-z.+-]+)?)|[A-Za-z0-9-]+)$/

/** Claims as `sign` is given them, checked (`invalid-claims`: what a signature cannot carry), with only the known fields. */
export function checkComponentClaims (claims: ComponentClaims): ComponentClaims {
  return checkClaims(claims, message => new SecurityError('invalid-claims', message))
}

/** Checks claims (as given to `sign`, or read from a signature) and returns them with only the known fields. */
function checkClaims (value: unknown, fail: (message: string) => Error): ComponentClaims {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw fail('its component claims are not an object')
  const { name, version, imports } = value as Record<string, unknown>
  const text = (v: unknown, what: string): string | undefined => {
    if (v === undefined) return undefined
    if (typeof v !== 'string' || v.length === 0 || v.length > maxClaimChars || /\p{Cc}/u.test(v)) throw fail(`the ${what} claim must be 1-${maxClaimChars} printable characters`)
    return v
  }
  const out: { name?: string, version?: string, imports?: string[] } = {}
  const n = text(name, 'name')
  const v = text(version, 'version')
  if (n !== undefined) out.name = n
  if (v !== undefined) out.version = v
  if (imports !== undefined) {
    if (!Array.isArray(imports) || imports.length > maxClaimImports) throw fail(`the imports claim must be a list of at most ${maxClaimImports} interface ids`)
    for (const i of imports) {
      if (typeof i !== 'string' || i.length > maxClaimChars || !importPattern.test(i)) {
        throw fail(`the imports claim ${JSON.stringify(i)} is not an interface id (ns:pkg/iface[@version], ns:pkg/*) or a function name`)
      }
    }
    out.imports = [...new Set(imports as string[])]
  }
  return out
}

/** Whether an allowed-imports entry covers an import: the same id, the id without its version, or `ns:pkg/*`. */
export function importAllowed (allowed: readonly string[], imported: string): boolean {
  const at = imported.indexOf('@')
  const unversioned = at < 0 ? imported : imported.slice(0, at)
  const slash = unversioned.lastIndexOf('/')
  const pkg = slash < 0 ? undefined : `${unversioned.slice(0, slash)}/*`
  return allowed.some(a => a === imported || a === unversioned || (pkg !== undefined && a === pkg))
}

/** The imports of a component its signature's claims do not allow (none when the claims list no imports). */
export function disallowedImports (claims: ComponentClaims, imports: readonly string[]): string[] {
  const allowed = claims.imports
  if (allowed === undefined) return []
  return imports.filter(i => !importAllowed(allowed, i))
}

/** Trusted public keys by key id; private keys are taken as their public half. */
export function trustedKeys (keys: readonly KeyObject[]): Map<string, KeyObject> {
  const out = new Map<string, KeyObject>()
  for (const k of keys) {
    if (k.asymmetricKeyType !== 'ed25519') throw new SecurityError('bad-key-file', `a trusted key must be Ed25519, not ${String(k.asymmetricKeyType ?? k.type)}`)
    const pub = k.type === 'private' ? createPublicKey(k) : k
    out.set(keyId(pub), pub)
  }
  return out
}

/**
 * Verifies that `signature` is a signature of exactly `component` by one of `trusted`, and in force now.
 * Every failure is an `UntrustedComponentError` with its reason; the header's own key is never used, only the
 * trusted key its `kid` names.
 */
export async function verifyComponentSignature (component: Uint8Array, signature: Uint8Array | string, trusted: ReadonlyMap<string, KeyObject>, opts: VerifyOptions = {}): Promise<ComponentSignature> {
  const parsed = parseComponentSignature(signature, opts)
  const key = trusted.get(parsed.keyId)
  if (key === undefined) {
    throw new UntrustedComponentError('untrusted-key', `signed by key ${parsed.keyId}, which is not trusted here (trusted: ${[...trusted.keys()].join(', ') || 'none'}): give its public key with --trust-key, or sign the component with a trusted key`)
  }
  await checkJws(parsed, key, opts.now)
  const digest = componentDigest(component)
  if (digest !== parsed.digest) {
    throw new UntrustedComponentError('digest-mismatch', `the signature is of sha256:${parsed.digest.slice(0, 12)}..., this component is sha256:${digest.slice(0, 12)}...: the component changed after it was signed, or the signature is another component's; sign it again`)
  }
  return parsed
}

/** The signature's own JWS check with one key: signature, typ, alg, exp and nbf. */
async function checkJws (parsed: ComponentSignature, key: KeyObject, now: Date | undefined): Promise<void> {
  try {
    await jwtVerify(parsed.token, key, {
      algorithms: [componentSignatureAlg],
      typ: componentSignatureType,
      clockTolerance: signatureClockToleranceSeconds,
      currentDate: now
    })
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') {
      throw new UntrustedComponentError('bad-signature', `the signature does not verify with key ${parsed.keyId}: it was altered or forged`, { cause: err })
    }
    if (code === 'ERR_JWT_EXPIRED') {
      throw new UntrustedComponentError('expired', `the signature by key ${parsed.keyId} expired at ${parsed.expiresAt?.toISOString() ?? '?'}: sign the component again`, { cause: err })
    }
    const claim = (err as { claim?: unknown }).claim
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'nbf') {
      throw new UntrustedComponentError('not-yet-valid', `the signature by key ${parsed.keyId} is not valid yet (nbf)`, { cause: err })
    }
    throw new UntrustedComponentError('malformed', `not a component signature: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * What `inspect` shows without trusting anyone: whether the signature holds for the key in its own header
 * and covers these bytes. Returns the problem, or undefined when it does.
 */
export async function selfCheck (component: Uint8Array, parsed: ComponentSignature, now?: Date): Promise<UntrustedComponentError | undefined> {
  try {
    await verifyComponentSignature(component, parsed.token, new Map([[parsed.keyId, parsed.headerKey]]), { now })
    return undefined
  } catch (err) {
    if (err instanceof UntrustedComponentError) return err
    throw err
  }
}
