// An app record (a deploy or an undeploy's tombstone) as a compact JWS signed by the deployer's node key; made and verified with no I/O.

import { createHash } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { AppError } from './errors.ts'

/** The JWS `typ` of an app record (RFC 8725 explicit typing: no other JWS passes for one). */
export const appRecordType = 'wasmesh-app+jwt'

export interface AppRecord {
  readonly kind: 'deploy' | 'undeploy'
  readonly app: string
  readonly lattice: string
  /** Strictly increasing per app: the deployer's clock in ms, above the seq it held. A record whose seq is not above the one held is stale. */
  readonly seq: number
  /** The manifest's `annotations.version`, else `v<seq>`. */
  readonly version: string
  /** The peer id whose key signed it. */
  readonly deployer: string
  /** The manifest's YAML text (deploys). */
  readonly manifest?: string
  /** The manifest's folder on the deployer's machine, for relative `file://` images. */
  readonly baseDir?: string
}

export interface SignedAppRecord {
  readonly record: AppRecord
  /** The compact JWS: what travels and what is persisted. */
  readonly token: string
  /** The first 16 hex of the token's sha256: breaks seq ties, names the version in adverts. */
  readonly id: string
}

const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64url')
const compactJws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

function tokenId (token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16)
}

export async function signAppRecord (record: AppRecord, key: PrivateKey): Promise<SignedAppRecord> {
  const header = b64(JSON.stringify({ alg: 'EdDSA', typ: appRecordType, kid: record.deployer }))
  const payload = b64(JSON.stringify(record))
  const input = `${header}.${payload}`
  const signature = await key.sign(new TextEncoder().encode(input))
  const token = `${input}.${b64(signature)}`
  return { record, token, id: tokenId(token) }
}

function invalid (why: string): AppError {
  return new AppError('invalid-record', `not an app record: ${why}`)
}

function json (part: string, what: string): Record<string, unknown> {
  let v: unknown
  try { v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) } catch { throw invalid(`its ${what} is not base64url JSON`) }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid(`its ${what} is not a JSON object`)
  return v as Record<string, unknown>
}

/** Decodes and verifies a token: `invalid-record` for anything malformed, `bad-signature` for a forgery. Says nothing of policy or order. */
export async function verifyAppRecord (token: string, maxRecordBytes: number): Promise<SignedAppRecord> {
  if (typeof token !== 'string') throw invalid('not text')
  if (token.length > maxRecordBytes) throw new AppError('invalid-record', `the record is ${token.length} bytes, over maxAppRecordBytes (${maxRecordBytes})`)
  if (!compactJws.test(token)) throw invalid('not a compact JWS')
  const [h, p, s] = token.split('.')
  const header = json(h, 'header')
  if (header.alg !== 'EdDSA' || header.typ !== appRecordType || header.crit !== undefined) throw invalid(`header ${JSON.stringify(header).slice(0, 120)}: app records are EdDSA, typ ${appRecordType}`)
  const r = json(p, 'payload')
  const str = (k: string, max: number, optional = false): string | undefined => {
    const v = r[k]
    if (v === undefined && optional) return undefined
    if (typeof v !== 'string' || v.length === 0 || v.length > max) throw invalid(`${k} must be a string of 1-${max} characters`)
    return v
  }
  if (r.kind !== 'deploy' && r.kind !== 'undeploy') throw invalid('kind is neither deploy nor undeploy')
  if (typeof r.seq !== 'number' || !Number.isSafeInteger(r.seq) || r.seq <= 0) throw invalid('seq is not a positive whole number')
  const record: AppRecord = {
    kind: r.kind,
    app: str('app', 64) as string,
    lattice: str('lattice', 64) as string,
    seq: r.seq,
    version: str('version', 128) as string,
    deployer: str('deployer', 128) as string,
    ...(r.manifest !== undefined ? { manifest: str('manifest', maxRecordBytes) } : {}),
    ...(r.baseDir !== undefined ? { baseDir: str('baseDir', 4096) } : {})
  }
  if (record.kind === 'deploy' && record.manifest === undefined) throw invalid('a deploy carries no manifest')
  if (header.kid !== record.deployer) throw invalid('its key id (kid) is not its deployer')
  let ok = false
  try {
    const key = peerIdFromString(record.deployer).publicKey
    ok = key !== undefined && await key.verify(new TextEncoder().encode(`${h}.${p}`), Buffer.from(s, 'base64url'))
  } catch {
    throw invalid(`deployer ${record.deployer.slice(0, 80)} is not a peer id with a public key`)
  }
  if (!ok) throw new AppError('bad-signature', `the app record of ${record.app} does not verify with the key of its deployer ${record.deployer}: it was altered or forged`)
  return { record, token, id: tokenId(token) }
}

/** Whether `a` supersedes `b`: a higher seq, or the same seq and a higher id (two deployers in the same millisecond). */
export function newer (a: SignedAppRecord, b: SignedAppRecord | undefined): boolean {
  if (b === undefined) return true
  return a.record.seq > b.record.seq || (a.record.seq === b.record.seq && a.id > b.id)
}
