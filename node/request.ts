// One request, one response, on a libp2p stream of its own: how nodes ask each other for their view of the mesh and for a component's WIT.

import type { Libp2p, PeerId, Stream } from '@libp2p/interface'

export interface RequestLimits {
  /** The most bytes a request may carry; the handler refuses more. */
  readonly maxRequestBytes: number
  /** The most bytes a response may carry; the caller aborts past it. */
  readonly maxResponseBytes: number
  /** How long one exchange may take, both sides. */
  readonly timeoutMs: number
}

export class RequestError extends Error {
  override readonly name = 'RequestError'
  readonly code: 'too-large' | 'failed'
  constructor (code: 'too-large' | 'failed', message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** Reads the whole of a stream's inbound side, refusing more than `max` bytes. */
async function readAll (stream: Stream, max: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let total = 0
  for await (const chunk of stream) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    total += bytes.byteLength
    if (total > max) {
      const err = new RequestError('too-large', `more than ${max} bytes`)
      stream.abort(err)
      throw err
    }
    parts.push(bytes)
  }
  if (parts.length === 1) return parts[0]
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.byteLength }
  return out
}

async function send (stream: Stream, bytes: Uint8Array): Promise<void> {
  if (bytes.byteLength > 0 && !stream.send(bytes)) await stream.onDrain()
  await stream.close()
}

/** Asks `peer` on `protocol`: sends `body`, closes the write side, reads the answer to the end. */
export async function request (libp2p: Libp2p, peer: PeerId, protocol: string, body: Uint8Array, limits: RequestLimits, signal?: AbortSignal): Promise<Uint8Array> {
  const timeout = AbortSignal.timeout(limits.timeoutMs)
  const both = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
  const stream = await libp2p.dialProtocol(peer, protocol, { signal: both })
  const onAbort = (): void => { stream.abort(new RequestError('failed', `${protocol} to ${peer.toString()} timed out`)) }
  both.addEventListener('abort', onAbort, { once: true })
  try {
    await send(stream, body)
    return await readAll(stream, limits.maxResponseBytes)
  } finally {
    both.removeEventListener('abort', onAbort)
  }
}

/** Answers requests on `protocol` with `respond`; a handler that throws closes the stream with nothing (the caller sees an empty answer). */
export async function handleRequests (libp2p: Libp2p, protocol: string, respond: (peer: PeerId, body: Uint8Array) => Promise<Uint8Array>, limits: RequestLimits, opts: { maxInboundStreams?: number } = {}): Promise<void> {
  await libp2p.handle(protocol, async (stream, connection) => {
    const timer = setTimeout(() => { stream.abort(new RequestError('failed', `${protocol} timed out`)) }, limits.timeoutMs)
    try {
      const body = await readAll(stream, limits.maxRequestBytes)
      await send(stream, await respond(connection.remotePeer, body))
    } catch (err) {
      if (stream.status === 'open') stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      clearTimeout(timer)
    }
  }, { maxInboundStreams: opts.maxInboundStreams ?? 8 })
}
