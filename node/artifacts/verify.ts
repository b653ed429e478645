// Receiving bytes that must match a digest: counted against a limit and an expected size, hashed as they arrive, given up on when the source goes quiet.

import { createHash } from 'node:crypto'
import { digestOf } from '../runtime/component.ts'
import { ArtifactError } from './errors.ts'

export interface Expected {
  /** Lowercase hex sha256. */
  readonly digest: string
  /** The most bytes taken; one more is `artifact-too-large`. */
  readonly maxBytes: number
  /** The exact size, when the source declared it (a manifest's layer size, a peer's header): fewer or more is refused. */
  readonly size?: number
  /** Who sent them, for messages. */
  readonly from: string
}

/** The digest a component has in the mesh: sha256, lowercase hex (the runtime's `digestOf`). */
export const sha256Hex: (bytes: Uint8Array) => string = digestOf

/**
 * Reads `chunks` to the end into one array and checks it against `expected`. `idle` is re-armed on every chunk;
 * when it fires `onIdle` must end the source (abort the fetch or the stream), which ends this read with
 * `artifact-timeout`. Nothing unverified is returned.
 */
export async function receiveVerified (chunks: AsyncIterable<Uint8Array>, expected: Expected, idleTimeoutMs: number, onIdle: (err: Error) => void): Promise<Uint8Array> {
  const hash = createHash('sha256')
  const limit = expected.size ?? expected.maxBytes
  if (limit > expected.maxBytes) throw new ArtifactError('artifact-too-large', `${expected.from} declares ${limit} bytes for sha256:${expected.digest}, over maxComponentBytes (${expected.maxBytes})`)
  const parts: Uint8Array[] = []
  let total = 0
  let idled: ArtifactError | undefined
  let timer: NodeJS.Timeout | undefined
  const arm = (): void => {
    clearTimeout(timer)
    timer = setTimeout(() => {
      idled = new ArtifactError('artifact-timeout', `${expected.from} sent nothing for ${idleTimeoutMs} ms (artifactIdleTimeoutMs) after ${total} bytes of sha256:${expected.digest}`)
      onIdle(idled)
    }, idleTimeoutMs)
  }
  arm()
  try {
    for await (const chunk of chunks) {
      total += chunk.byteLength
      if (total > limit) {
        throw expected.size !== undefined
          ? new ArtifactError('artifact-protocol', `${expected.from} sent more than the ${expected.size} bytes it declared for sha256:${expected.digest}`)
          : new ArtifactError('artifact-too-large', `${expected.from} sent more than ${expected.maxBytes} bytes (maxComponentBytes) for sha256:${expected.digest}`)
      }
      hash.update(chunk)
      parts.push(chunk)
      arm()
    }
  } catch (err) {
    if (idled !== undefined) throw idled
    throw err
  } finally {
    clearTimeout(timer)
  }
  if (idled !== undefined) throw idled
  if (expected.size !== undefined && total !== expected.size) {
    throw new ArtifactError('artifact-protocol', `${expected.from} ended after ${total} of the ${expected.size} bytes of sha256:${expected.digest} (truncated)`)
  }
  const got = hash.digest('hex')
  if (got !== expected.digest) throw new ArtifactError('digest-mismatch', `${expected.from} sent bytes whose sha256 is ${got}, not sha256:${expected.digest}: refused`)
  return concat(parts, total)
}

export function concat (parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.byteLength }
  return out
}
