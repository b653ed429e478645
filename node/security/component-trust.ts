// Admission of components under `trust`: reads a component and its signature (beside the file, or given with the bytes), verifies both, and hands on the verified bytes.

import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { basename } from 'node:path'
import type { KeyObject } from 'node:crypto'
import { inspectComponent, readComponentSource } from '../runtime/index.ts'
import { UntrustedComponentError } from './errors.ts'
import type { UntrustedReason } from './errors.ts'
import { defaultMaxComponentSignatureBytes, disallowedImports, signatureSuffix, trustedKeys, verifyComponentSignature } from './signatures.ts'
import type { ComponentSignature } from './signatures.ts'

/** Which components a node loads: only those signed by one of these keys. */
export interface ComponentTrust {
  /** Ed25519 public keys (`readPublicKey`, or node:crypto KeyObjects); at least one. */
  readonly keys: readonly KeyObject[]
}

/** What a component to load is made of, as far as trust goes. */
export interface ComponentSource {
  readonly source: string | Uint8Array
  /** The signature's bytes; without it, a file's is read from `<file>.sig` and bytes are unsigned. */
  readonly signature?: Uint8Array | string
  readonly name?: string
}

export interface AdmitLimits {
  readonly maxComponentBytes: number
  readonly maxComponentSignatureBytes: number
}

export interface AdmitLog {
  info (message: string): void
  warn (message: string): void
}

export interface ComponentGate {
  /**
   * The component's bytes (read once: what was verified is what runs), its name and its verified signature;
   * `untrusted-component` when it is unsigned, tampered, signed by another key, or imports more than allowed.
   */
  admit (spec: ComponentSource): Promise<{ bytes: Uint8Array, name: string | undefined, signature: ComponentSignature }>
  /** Components refused so far, by reason (a fixed set: the metric's series stay bounded). */
  refused (): Partial<Record<UntrustedReason, number>>
}

export function createComponentGate (trust: ComponentTrust, limits: AdmitLimits, log: AdmitLog): ComponentGate {
  const keys = trustedKeys(trust.keys)
  const refused: Partial<Record<UntrustedReason, number>> = {}
  return {
    refused: () => ({ ...refused }),
    async admit (spec) {
      const what = typeof spec.source === 'string' ? spec.source : `component ${spec.name ?? '(bytes)'}`
      try {
        const bytes = await readComponentSource(spec.source, limits.maxComponentBytes)
        const signature = spec.signature ?? (typeof spec.source === 'string' ? await readSignatureFile(spec.source, limits.maxComponentSignatureBytes) : undefined)
        if (signature === undefined) {
          throw new UntrustedComponentError('unsigned', typeof spec.source === 'string'
            ? `no signature: ${spec.source}${signatureSuffix} does not exist; sign the component with 'wasmesh sign ${spec.source} --key <signing.key>'`
            : 'no signature came with the component\'s bytes (ComponentSpec.signature)')
        }
        const verified = await verifyComponentSignature(bytes, signature, keys, { maxComponentSignatureBytes: limits.maxComponentSignatureBytes })
        if (verified.claims.imports !== undefined) {
          const info = await inspectComponent(bytes, { maxComponentBytes: limits.maxComponentBytes })
          const imports = [...info.imports.interfaces.map(i => i.id), ...info.imports.functions.map(f => f.name)]
          const extra = disallowedImports(verified.claims, imports)
          if (extra.length > 0) {
            throw new UntrustedComponentError('imports-not-allowed', `it imports ${extra.join(', ')}, which its signature by key ${verified.keyId} does not allow (allowed: ${verified.claims.imports.join(', ') || 'none'})`)
          }
        }
        const name = spec.name ?? (typeof spec.source === 'string' ? basename(spec.source).replace(/\.wasm$/, '') : undefined)
        log.info(`component ${name ?? verified.digest.slice(0, 12)} (sha256:${verified.digest.slice(0, 12)}) is signed by trusted key ${verified.keyId} (${verified.signedAt.toISOString()})`)
        return { bytes, name, signature: verified }
      } catch (err) {
        if (err instanceof UntrustedComponentError) {
          const error = new UntrustedComponentError(err.reason, `${what}: ${err.message}`, { cause: err })
          log.warn(`refused ${error.message} (untrusted-component, ${err.reason})`)
          refused[err.reason] = (refused[err.reason] ?? 0) + 1
          throw error
        }
        throw err
      }
    }
  }
}

/** `<file>.sig`, read up to one byte past the limit (so an oversized one is refused without reading it whole); undefined when there is none. */
export async function readSignatureFile (file: string, maxBytes: number): Promise<Uint8Array | undefined> {
  let handle
  try {
    // non-blocking: a FIFO in its place must not hold the start until someone writes to it
    handle = await open(file + signatureSuffix, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new UntrustedComponentError('unsigned', `cannot read the signature ${file}${signatureSuffix}: ${(err as Error).message}`, { cause: err })
  }
  try {
    if (!(await handle.stat()).isFile()) throw new UntrustedComponentError('malformed', `the signature ${file}${signatureSuffix} is not a regular file`)
    const buf = new Uint8Array(maxBytes + 1)
    let length = 0
    while (length < buf.length) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length)
      if (bytesRead === 0) break
      length += bytesRead
    }
    return buf.subarray(0, length)
  } catch (err) {
    if (err instanceof UntrustedComponentError) throw err
    throw new UntrustedComponentError('unsigned', `cannot read the signature ${file}${signatureSuffix}: ${(err as Error).message}`, { cause: err })
  } finally {
    await handle.close()
  }
}
