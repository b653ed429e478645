// What `wasmesh inspect` says of a component's signature: who signed it, when, the claims, whether it verifies, and whether given keys trust it.

import type { KeyObject } from 'node:crypto'
import {
  UntrustedComponentError, createComponentGate, defaultMaxComponentSignatureBytes, parseComponentSignature, readSignatureFile, selfCheck,
  signatureSuffix
} from '../node/security/index.ts'
import type { ComponentClaims, ComponentSignature, UntrustedReason } from '../node/security/index.ts'

export interface SignatureProblem {
  readonly reason: UntrustedReason
  readonly message: string
}

export interface SignatureReport {
  readonly file: string
  readonly keyId?: string
  readonly signedAt?: string
  readonly expiresAt?: string
  readonly claims?: ComponentClaims
  /** The signature holds for the key it names (the one in its header) and covers these very bytes. */
  readonly verifies: boolean
  readonly problem?: SignatureProblem
  /** With trusted keys given: whether a node trusting them (`--require-signed`) would load the component. */
  readonly trusted?: boolean
  readonly trustProblem?: SignatureProblem
}

/** The report of `<file>.sig`, or null when there is none. */
export async function signatureReport (file: string, bytes: Uint8Array, trust: readonly KeyObject[] | undefined): Promise<SignatureReport | null> {
  const sigFile = file + signatureSuffix
  let raw: Uint8Array | undefined
  try {
    raw = await readSignatureFile(file, defaultMaxComponentSignatureBytes)
  } catch (err) {
    if (err instanceof UntrustedComponentError) return { file: sigFile, verifies: false, problem: problemOf(err) }
    throw err
  }
  if (raw === undefined) return null
  let parsed: ComponentSignature
  try {
    parsed = parseComponentSignature(raw)
  } catch (err) {
    if (!(err instanceof UntrustedComponentError)) throw err
    return { file: sigFile, verifies: false, problem: problemOf(err), ...await trusted(bytes, raw, trust) }
  }
  const problem = await selfCheck(bytes, parsed)
  return {
    file: sigFile,
    keyId: parsed.keyId,
    signedAt: parsed.signedAt.toISOString(),
    ...(parsed.expiresAt === undefined ? {} : { expiresAt: parsed.expiresAt.toISOString() }),
    claims: parsed.claims,
    verifies: problem === undefined,
    ...(problem === undefined ? {} : { problem: problemOf(problem) }),
    ...await trusted(bytes, raw, trust)
  }
}

/** Exactly the check a node under `trust` makes (signature, digest, expiry, allowed imports). */
async function trusted (bytes: Uint8Array, signature: Uint8Array, keys: readonly KeyObject[] | undefined): Promise<Pick<SignatureReport, 'trusted' | 'trustProblem'>> {
  if (keys === undefined) return {}
  const quiet = { info () {}, warn () {} }
  const gate = createComponentGate({ keys }, { maxComponentBytes: Number.MAX_SAFE_INTEGER, maxComponentSignatureBytes: defaultMaxComponentSignatureBytes }, quiet)
  try {
    await gate.admit({ source: bytes, signature, name: 'component' })
    return { trusted: true }
  } catch (err) {
    if (!(err instanceof UntrustedComponentError)) throw err
    const cause = err.cause instanceof UntrustedComponentError ? err.cause : err
    return { trusted: false, trustProblem: problemOf(cause) }
  }
}

function problemOf (err: UntrustedComponentError): SignatureProblem {
  return { reason: err.reason, message: err.message }
}

/** The signature's lines in `inspect`'s text layout. */
export function signatureLines (file: string, report: SignatureReport | null): string[] {
  if (report === null) return [`signature  none (no ${file}${signatureSuffix}; 'wasmesh sign ${file} --key <signing.key>' makes one)`]
  const lines = [`signature  ${report.file}`]
  const row = (k: string, v: string): void => { lines.push(`  ${k.padEnd(10)} ${v}`) }
  if (report.keyId !== undefined) row('key id', report.keyId)
  if (report.signedAt !== undefined) row('signed at', report.signedAt)
  if (report.expiresAt !== undefined) row('expires', report.expiresAt)
  if (report.claims?.name !== undefined) row('name', report.claims.name)
  if (report.claims?.version !== undefined) row('version', report.claims.version)
  if (report.claims?.imports !== undefined) row('imports', `only ${report.claims.imports.join(', ') || '(none)'}`)
  row('verifies', report.verifies ? 'yes: it holds for the key it names and covers this digest' : `no (${report.problem?.reason ?? '?'}): ${report.problem?.message ?? ''}`)
  if (report.trusted === undefined) row('trusted', 'not checked (give --trust-key <key.pub>)')
  else row('trusted', report.trusted ? 'yes: by a key given with --trust-key' : `no (${report.trustProblem?.reason ?? '?'}): ${report.trustProblem?.message ?? ''}`)
  return lines
}
