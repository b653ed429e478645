// `/wasmesh/artifact/1.0.0`: a peer asks for bytes by digest, this node answers from its cache in chunks; the asker verifies them against the digest before anyone uses them.
//
// Request: `sha256:<64 hex>` in UTF-8, then the asker closes its write side. Answer: one status byte
// (0 found, 1 not found, 2 busy), and when found an unsigned 64-bit big-endian length followed by
// exactly that many bytes, then the server closes.

import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, Stream } from '@libp2p/interface'
import type { Logger } from '../logger.ts'
import { ArtifactError } from './errors.ts'
import type { ArtifactLimits } from './limits.ts'
import { parseDigest } from './reference.ts'
import { receiveVerified } from './verify.ts'

export const ARTIFACT_PROTOCOL = '/wasmesh/artifact/1.0.0'

export const STATUS_FOUND = 0
export const STATUS_NOT_FOUND = 1
export const STATUS_BUSY = 2
/** `sha256:` and 64 hex digits; a request is nothing else. */
export const maxArtifactRequestBytes = 71
const headerBytes = 9

export interface ArtifactServerStats {
  /** Transfers answered with bytes. */
  readonly served: number
  readonly servedBytes: number
  readonly notFound: number
  /** Requests answered `busy` (maxArtifactTransfersPerPeer, maxArtifactTransfers). */
  readonly busy: number
  /** Requests that were not a digest, or did not arrive in time. */
  readonly malformed: number
}

export interface ArtifactServer {
  start (): Promise<void>
  stop (): Promise<void>
  stats (): ArtifactServerStats
}

const chunkOf = (c: Uint8Array | { subarray (): Uint8Array }): Uint8Array => c instanceof Uint8Array ? c : c.subarray()

/** Serves the bytes `lookup` finds (verified by it: the cache checks what it reads) to whoever asks within the limits. */
export function createArtifactServer (init: { libp2p: Libp2p, lookup: (digest: string) => Promise<Uint8Array | undefined>, limits: ArtifactLimits, log: Logger }): ArtifactServer {
  const { libp2p, limits, log } = init
  const perPeer = new Map<string, number>()
  let active = 0
  let handling = false
  const counts = { served: 0, servedBytes: 0, notFound: 0, busy: 0, malformed: 0 }

  async function readRequest (stream: Stream): Promise<string | undefined> {
    const parts: Uint8Array[] = []
    let total = 0
    for await (const c of stream) {
      const bytes = chunkOf(c)
      total += bytes.byteLength
      if (total > maxArtifactRequestBytes) return undefined
      parts.push(bytes)
    }
    const text = new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(parts))
    try { return parseDigest(text) } catch { return undefined }
  }

  async function send (stream: Stream, bytes: Uint8Array): Promise<void> {
    if (!stream.send(bytes)) await stream.onDrain()
  }

  async function answer (stream: Stream, peer: string): Promise<void> {
    const digest = await readRequest(stream)
    if (digest === undefined) {
      counts.malformed++
      log.debug(`artifact request from ${peer} is not a sha256 digest: closed`)
      stream.abort(new ArtifactError('artifact-protocol', 'the request is not sha256:<64 hex digits>'))
      return
    }
    const bytes = await init.lookup(digest)
    if (bytes === undefined) {
      counts.notFound++
      await send(stream, Uint8Array.of(STATUS_NOT_FOUND))
      await stream.close()
      return
    }
    const header = new Uint8Array(headerBytes)
    header[0] = STATUS_FOUND
    new DataView(header.buffer).setBigUint64(1, BigInt(bytes.byteLength))
    await send(stream, header)
    for (let at = 0; at < bytes.byteLength; at += limits.artifactChunkBytes) {
      await send(stream, bytes.subarray(at, Math.min(bytes.byteLength, at + limits.artifactChunkBytes)))
    }
    await stream.close()
    counts.served++
    counts.servedBytes += bytes.byteLength
    log.debug(`served sha256:${digest.slice(0, 12)} (${bytes.byteLength} bytes) to ${peer}`)
  }

  return {
    async start () {
      if (handling) return
      handling = true
      await libp2p.handle(ARTIFACT_PROTOCOL, async (stream, connection) => {
        const peer = connection.remotePeer.toString()
        const mine = perPeer.get(peer) ?? 0
        // a transfer that outlasts its time (a peer reading slowly, a request never finished) is cut; the asker's own timeout is the same
        const timer = setTimeout(() => { stream.abort(new ArtifactError('artifact-timeout', `transfer to ${peer} took longer than ${limits.peerArtifactTimeoutMs} ms`)) }, limits.peerArtifactTimeoutMs)
        if (mine >= limits.maxArtifactTransfersPerPeer || active >= limits.maxArtifactTransfers) {
          counts.busy++
          // the request is read (a stream answered before its request is in loses the answer), never looked up;
          // libp2p's maxInboundStreams bounds how many such streams one connection holds
          try {
            await readRequest(stream)
            await send(stream, Uint8Array.of(STATUS_BUSY))
            await stream.close()
          } catch {
            stream.abort(new Error('busy'))
          } finally {
            clearTimeout(timer)
          }
          return
        }
        perPeer.set(peer, mine + 1)
        active++
        try {
          await answer(stream, peer)
        } catch (err) {
          if (stream.status === 'open') stream.abort(err instanceof Error ? err : new Error(String(err)))
        } finally {
          clearTimeout(timer)
          active--
          const n = (perPeer.get(peer) ?? 1) - 1
          if (n <= 0) perPeer.delete(peer); else perPeer.set(peer, n)
        }
      }, { maxInboundStreams: limits.maxArtifactTransfersPerPeer + 1 })
    },

    async stop () {
      if (!handling) return
      handling = false
      await libp2p.unhandle(ARTIFACT_PROTOCOL)
    },

    stats: () => ({ ...counts })
  }
}

/** Splits a stream's chunks into the 9-byte header and the body chunks after it. */
async function * bodyAfterHeader (stream: AsyncIterable<Uint8Array | { subarray (): Uint8Array }>, onHeader: (header: Uint8Array) => void, peer: string): AsyncGenerator<Uint8Array> {
  let head = new Uint8Array(0)
  let done = false
  for await (const c of stream) {
    const bytes = chunkOf(c)
    if (done) { yield bytes; continue }
    const joined = new Uint8Array(head.byteLength + bytes.byteLength)
    joined.set(head); joined.set(bytes, head.byteLength)
    head = joined
    if (head[0] !== STATUS_FOUND || head.byteLength >= headerBytes) {
      done = true
      onHeader(head.subarray(0, Math.min(headerBytes, head.byteLength)))
      if (head[0] !== STATUS_FOUND) return
      if (head.byteLength > headerBytes) yield head.subarray(headerBytes)
    }
  }
  if (!done) throw new ArtifactError('artifact-protocol', `${peer} ended its answer before the header was complete`)
}

/**
 * Asks `peer` for the bytes of `digest`: `artifact-not-found` when it has none, `digest-mismatch`, `artifact-protocol`
 * (truncated, too long, garbage), `artifact-too-large`, `artifact-timeout`, or the verified bytes.
 */
export async function fetchFromPeer (libp2p: Libp2p, peer: string, digest: string, opts: { maxBytes: number, limits: ArtifactLimits, signal?: AbortSignal }): Promise<Uint8Array> {
  const { limits } = opts
  const timeout = AbortSignal.timeout(limits.peerArtifactTimeoutMs)
  const signal = opts.signal === undefined ? timeout : AbortSignal.any([opts.signal, timeout])
  const from = `peer ${peer}`
  const stream = await libp2p.dialProtocol(peerIdFromString(peer), ARTIFACT_PROTOCOL, { signal })
  const onAbort = (): void => { stream.abort(new ArtifactError('artifact-timeout', `${from} took longer than ${limits.peerArtifactTimeoutMs} ms (peerArtifactTimeoutMs) for sha256:${digest}`)) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    if (!stream.send(new TextEncoder().encode(`sha256:${digest}`))) await stream.onDrain()
    await stream.close()
    let size: number | undefined
    let status: number | undefined
    const body = bodyAfterHeader(stream, header => {
      status = header[0]
      if (status === STATUS_FOUND) {
        const n = new DataView(header.buffer, header.byteOffset, header.byteLength).getBigUint64(1)
        if (n > BigInt(opts.maxBytes)) throw new ArtifactError('artifact-too-large', `${from} offers ${n} bytes for sha256:${digest}, over maxComponentBytes (${opts.maxBytes})`)
        size = Number(n)
      } else if (status !== STATUS_NOT_FOUND && status !== STATUS_BUSY) {
        throw new ArtifactError('artifact-protocol', `${from} answered with status ${status}, which is not 0, 1 or 2`)
      }
    }, from)
    // the header comes first: pull it before the size is known
    const first = await body.next()
    if (status === STATUS_NOT_FOUND) throw new ArtifactError('artifact-not-found', `${from} does not have sha256:${digest}`)
    if (status === STATUS_BUSY) throw new ArtifactError('artifact-not-found', `${from} is busy (maxArtifactTransfersPerPeer)`)
    async function * rest (): AsyncGenerator<Uint8Array> {
      if (first.done !== true) yield first.value
      yield * body
    }
    return await receiveVerified(rest(), { digest, size, maxBytes: opts.maxBytes, from }, limits.artifactIdleTimeoutMs, err => { stream.abort(err) })
  } catch (err) {
    if (stream.status === 'open') stream.abort(err instanceof Error ? err : new Error(String(err)))
    if (signal.aborted && !(err instanceof ArtifactError)) throw new ArtifactError('artifact-timeout', `${from} took longer than ${limits.peerArtifactTimeoutMs} ms (peerArtifactTimeoutMs) for sha256:${digest}`, { cause: err })
    throw err
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
