// Key files on disk: private ones written 0600 and refused when others can read them, Ed25519 signing keys as JWKs (RFC 8037).

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { constants } from 'node:fs'
import { open, rename, rm } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import { SecurityError } from './errors.ts'

/** Key files are small; a bigger one is not a key (and is not read whole into memory). */
export const maxKeyFileBytes = 64 * 1024

/**
 * Reads a private key file, refusing one that group or others may read (as ssh does): a lattice
 * key or signing key that leaked to another account is no longer a secret.
 */
export async function readPrivateFile (path: string, what: string): Promise<Uint8Array> {
  return await readKeyFile(path, what, true)
}

/** Reads a public key (or certificate, or trust) file: anyone may read those. A file past `maxBytes` (default `maxKeyFileBytes`) is refused unread. */
export async function readPublicFile (path: string, what: string, maxBytes = maxKeyFileBytes): Promise<Uint8Array> {
  return await readKeyFile(path, what, false, maxBytes)
}

async function readKeyFile (path: string, what: string, secret: boolean, maxBytes = maxKeyFileBytes): Promise<Uint8Array> {
  let handle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file' : code === 'ELOOP' ? 'it is a symbolic link (give the file itself)' : code === 'EACCES' ? 'permission denied' : String(code)
    throw new SecurityError('key-file-missing', `cannot read the ${what} ${path}: ${why}`, { cause: err })
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw new SecurityError('bad-key-file', `the ${what} ${path} is not a regular file`)
    if (secret && process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      throw new SecurityError('key-file-permissions', `the ${what} ${path} can be read by other users (mode ${(stat.mode & 0o777).toString(8)}): run 'chmod 600 ${path}'`)
    }
    if (stat.size > maxBytes) throw new SecurityError('bad-key-file', `the ${what} ${path} is ${stat.size} bytes, more than a ${what} can be (${maxBytes})`)
    const bytes = new Uint8Array(stat.size)
    let at = 0
    while (at < bytes.length) {
      const { bytesRead } = await handle.read(bytes, at, bytes.length - at, at)
      if (bytesRead === 0) break
      at += bytesRead
    }
    return bytes.subarray(0, at)
  } finally {
    await handle.close()
  }
}

/**
 * Writes a file only its owner can read (0600), whole or not at all (a temporary file renamed into
 * place), and never over an existing one unless `overwrite`.
 */
export async function writePrivateFile (path: string, bytes: Uint8Array | string, opts: { overwrite?: boolean, mode?: number } = {}): Promise<void> {
  // unique per write: two writes of one file in the same millisecond (the same component loaded twice) must not collide
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.${randomBytes(4).toString('hex')}.tmp`)
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, opts.mode ?? 0o600)
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    if (opts.overwrite !== true) {
      // link-free check: refuse if the target exists (rename would replace it silently)
      const existing = await open(path, constants.O_RDONLY).then(async h => { await h.close(); return true }, () => false)
      if (existing) throw new SecurityError('key-file-exists', `${path} exists: remove it first or write the key elsewhere`)
    }
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}

/** A new Ed25519 key pair for signing (components, member certificates). */
export function generateSigningKey (): KeyObject {
  return generateKeyPairSync('ed25519').privateKey
}

/** The JWK text of a signing key (private: with `d`) or of its public half. */
export function signingKeyJwk (key: KeyObject, half: 'private' | 'public'): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  const jwk = (half === 'private' ? key : pub).export({ format: 'jwk' }) as Record<string, unknown>
  if (half === 'private' && key.type !== 'private') throw new SecurityError('bad-key-file', 'a public key has no private half')
  return JSON.stringify({ ...jwk, kid: keyId(pub) }, null, 2) + '\n'
}

/** Reads an Ed25519 private signing key (a JWK file, 0600). */
export async function readSigningKey (path: string): Promise<KeyObject> {
  return parseEd25519(await readPrivateFile(path, 'signing key'), path, 'private')
}

/** Reads an Ed25519 public key (a JWK file; a private key file works too and yields its public half). */
export async function readPublicKey (path: string): Promise<KeyObject> {
  return parseEd25519(await readPublicFile(path, 'public key'), path, 'public')
}

function parseEd25519 (bytes: Uint8Array, path: string, want: 'private' | 'public'): KeyObject {
  let jwk: Record<string, unknown>
  try {
    const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object')
    jwk = parsed as Record<string, unknown>
  } catch (err) {
    throw new SecurityError('bad-key-file', `${path} is not a JWK key file (${(err as Error).message}); make one with 'wasmesh key new --signing'`, { cause: err })
  }
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new SecurityError('bad-key-file', `${path} is not an Ed25519 key (kty OKP, crv Ed25519)`)
  }
  if (want === 'private' && typeof jwk.d !== 'string') throw new SecurityError('bad-key-file', `${path} holds a public key; signing needs the private key file`)
  try {
    const { kid: _kid, ...key } = jwk
    if (want === 'private') return createPrivateKey({ key, format: 'jwk' })
    const { d: _d, ...pub } = key
    return createPublicKey({ key: pub, format: 'jwk' })
  } catch (err) {
    throw new SecurityError('bad-key-file', `${path}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * A public key's id: its RFC 7638 JWK thumbprint (SHA-256, base64url), the name it goes by in
 * signatures, certificates and logs.
 */
export function keyId (key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  const { crv, kty, x } = pub.export({ format: 'jwk' }) as { crv: string, kty: string, x: string }
  return createHash('sha256').update(JSON.stringify({ crv, kty, x })).digest('base64url')
}
