// wRPC over libp2p: the `/wrpc/0.0.1` stream handler serving one invocation per inbound stream, and the dialer opening one stream per call.

import type { InboundBudget } from '../protocol/budget.ts'
import { encodeErrorFrame } from '../protocol/frame.ts'
import type { SessionLimits } from '../protocol/limits.ts'
import { serve } from '../protocol/session.ts'
import type { Handlers } from '../protocol/session.ts'
import type { Transport } from '../protocol/transport.ts'
import { WRPC_PROTOCOL } from './libp2p.ts'
import type { StreamErrors } from './libp2p/stream-errors.ts'
import { streamTransport } from './stream-transport.ts'
import type { StreamTransport, StreamTransportOptions } from './stream-transport.ts'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface HandleWrpcOptions {
  /** Concurrent inbound wRPC streams per connection; libp2p resets the ones above it. */
  readonly maxInboundStreams: number
  /** Concurrent outbound wRPC streams per connection (calls this node makes to one peer). */
  readonly maxOutboundStreams: number
  readonly sessionLimits?: Partial<SessionLimits>
  /** Told about every failed invocation (a peer's bad input, a handler's throw, a refusal); for logging. */
  readonly onError?: (peer: PeerId, err: Error) => void
  /** Whether to serve this peer at all; a refused peer gets the error frame `refused`. */
  readonly accept?: (peer: PeerId) => boolean | Promise<boolean>
  /**
   * How long a finished invocation waits for the caller to close its side (what it still sends
   * is discarded) before the stream is reset, so a caller that never closes cannot pin a stream
   * slot. Default 5000.
   */
  readonly closeGraceMs?: number
  readonly stream?: StreamTransportOptions
  /** Where an invocation that failed outside its own error handling is counted (`handler-failed`). */
  readonly errors?: StreamErrors
  /** Where each inbound stream charges the bytes it holds of unfinished values (per peer and in all); none: only the session's own limit. */
  readonly budget?: InboundBudget
}

const defaultCloseGraceMs = 5_000

/** Errors a handler setup throws are reported with the peer; anything thrown is made an Error. */
function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}

/**
 * Serves wRPC on `/wrpc/0.0.1`: each inbound stream is one invocation, served by the protocol's
 * `serve` with `handlers(peer)`. Returns a function that unregisters the protocol; invocations
 * already running finish on their own.
 */
export async function handleWrpc (
  libp2p: Libp2p,
  handlers: (peer: PeerId) => Handlers,
  opts: HandleWrpcOptions
): Promise<() => Promise<void>> {
  const closeGraceMs = opts.closeGraceMs ?? defaultCloseGraceMs
  const report = (peer: PeerId, err: unknown): void => {
    if (opts.onError == null) return
    try {
      opts.onError(peer, asError(err))
    } catch {}
  }

  const run = async (stream: Stream, peer: PeerId): Promise<void> => {
    const inbound = opts.budget?.open(peer.toString())
    const transport = streamTransport(stream, inbound === undefined ? opts.stream : { ...opts.stream, inbound })
    try {
      const verdict = opts.accept?.(peer) ?? true
      if (!(verdict instanceof Promise ? await verdict : verdict)) {
        const message = `this node does not accept calls from peer ${peer.toString()}`
        await refuse(transport, message)
        report(peer, Object.assign(new Error(message), { code: 'refused' }))
      } else {
        await serve(transport, handlers(peer), {
          limits: opts.sessionLimits,
          inbound,
          onError: err => { report(peer, err) }
        })
      }
    } catch (err) {
      transport.abort(asError(err))
      report(peer, err)
      return
    } finally {
      inbound?.close()
    }
    await linger(stream, transport, closeGraceMs)
  }

  await libp2p.handle(WRPC_PROTOCOL, (stream: Stream, connection: Connection) => {
    // not awaited: libp2p holds the stream's middleware chain until a handler returns; so nothing
    // would catch a rejection, and an unhandled one ends the process
    run(stream, connection.remotePeer).catch((err: unknown) => {
      opts.errors?.count('handler-failed', err)
      stream.abort(asError(err))
    })
  }, {
    maxInboundStreams: opts.maxInboundStreams,
    maxOutboundStreams: opts.maxOutboundStreams,
    runOnLimitedConnection: false
  })

  let registered = true
  return async () => {
    if (!registered) return
    registered = false
    await libp2p.unhandle(WRPC_PROTOCOL)
  }
}

/** Answers with the error frame `refused` and closes our side, without reading the call. */
async function refuse (transport: StreamTransport, message: string): Promise<void> {
  transport.discardInput()
  await transport.write(encodeErrorFrame('refused', message))
  await transport.closeWrite()
}

/** Waits (bounded) for the caller to close its side of a finished invocation; resets the stream if it does not. */
async function linger (stream: Stream, transport: StreamTransport, graceMs: number): Promise<void> {
  if (callerDone(stream)) return
  transport.discardInput()
  const closed = Promise.withResolvers<void>()
  const onDone = (): void => { closed.resolve() }
  stream.addEventListener('remoteCloseWrite', onDone)
  stream.addEventListener('close', onDone)
  const timer = setTimeout(onDone, graceMs)
  try {
    if (!callerDone(stream)) await closed.promise
  } finally {
    clearTimeout(timer)
    stream.removeEventListener('remoteCloseWrite', onDone)
    stream.removeEventListener('close', onDone)
  }
  if (!callerDone(stream)) {
    transport.abort(new Error(`caller did not close its side within ${graceMs} ms of the answer`))
  }
}

function callerDone (stream: Stream): boolean {
  return stream.status !== 'open' || stream.remoteWriteStatus === 'closed'
}

export interface DialWrpcOptions {
  /** Outbound wRPC streams per connection when this node has no `/wrpc/0.0.1` handler registered (else the handler's limit applies). */
  readonly maxOutboundStreams?: number
  readonly stream?: StreamTransportOptions
}

/**
 * Opens a new `/wrpc/0.0.1` stream to `peer` for ONE invocation (dialling a connection if there is
 * none) and returns it as a Transport for the protocol's `invoke`. `signal` bounds the dial and the
 * protocol negotiation.
 */
export async function dialWrpc (
  libp2p: Libp2p,
  peer: PeerId | Multiaddr,
  signal?: AbortSignal,
  opts: DialWrpcOptions = {}
): Promise<Transport> {
  const options = {
    signal,
    runOnLimitedConnection: false,
    ...(opts.maxOutboundStreams != null ? { maxOutboundStreams: opts.maxOutboundStreams } : {})
  }
  // An open connection is used directly: `dialProtocol` would go through the connection manager's
  // dial bookkeeping for every call only to find the same connection.
  const connection = isPeerId(peer) ? openConnection(libp2p, peer) : undefined
  const stream = connection !== undefined
    ? await connection.newStream(WRPC_PROTOCOL, options)
    : await libp2p.dialProtocol(peer, WRPC_PROTOCOL, options)
  return streamTransport(stream, opts.stream)
}

function isPeerId (peer: PeerId | Multiaddr): peer is PeerId {
  return typeof (peer as Partial<PeerId>).toMultihash === 'function'
}

function openConnection (libp2p: Libp2p, peer: PeerId): Connection | undefined {
  for (const c of libp2p.getConnections(peer)) {
    if (c.status === 'open' && c.limits == null) return c
  }
  return undefined
}
