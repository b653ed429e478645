// The echo every transport benchmark serves: a native wRPC LocalService, a raw libp2p stream-per-call echo, and a gRPC unary echo without protobuf.
import { createHash } from 'node:crypto'
import type * as grpc from '@grpc/grpc-js'
import type { Libp2p, PeerId, PrivateKey, Stream, StreamMessageEvent } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { parseWit, printInterface } from '../../../protocol/wit/index.ts'
import { createNode } from '../../../node/index.ts'
import type { LocalService, MeshNode, NodeInit } from '../../../node/index.ts'
import { silentLogger } from '../../../node/logger.ts'
import { eventually } from '../../support/eventually.ts'

export const ECHO_WIT = `package wasmesh:bench@0.1.0;

interface echo {
  echo: func(data: list<u8>) -> list<u8>;
}
`

/** The interface as the node advertises it, and the id a caller asks for (any 0.1.x serves it). */
export const ECHO_IFACE = 'wasmesh:bench/echo@0.1.0'
export const ECHO_CALL_IFACE = 'wasmesh:bench/echo'

/**
 * Far above the benchmark's 64 calls in flight: the node republishes its advert whenever load
 * crosses a quarter of capacity, and at capacity 64 a steady 63-64 in flight would cross it on
 * nearly every call (see the wrpc bench's notes); this measures calls, not advert churn.
 */
const ECHO_CAPACITY = 1024

/** `wasmesh:bench/echo` as native code: returns its argument, the same array, untouched. */
export function echoService (): LocalService {
  const iface = parseWit({ 'echo.wit': ECHO_WIT }).findInterface(ECHO_IFACE)
  if (iface === undefined) throw new Error(`${ECHO_IFACE} is not in the echo WIT`)
  const wit = `package wasmesh:bench@0.1.0;\n\n${printInterface(iface)}\n`
  return {
    digest: createHash('sha256').update(wit).digest('hex'),
    name: 'bench-echo',
    interfaces: [iface],
    wit,
    capacity: ECHO_CAPACITY,
    call: async (_iface, func, params) => {
      if (func !== 'echo') throw Object.assign(new Error(`no function ${func}`), { code: 'no-such-function' })
      return [params[0]]
    }
  }
}

/** The raw libp2p floor: one stream per call, the bytes echoed back, then closed. */
export const RAW_ECHO_PROTOCOL = '/bench/echo/1'

/** The raw floor on our libp2p configuration negotiates its protocol as the node does `/wrpc/0.0.1`: optimistically. */
export function rawFastPath (fast: boolean): { fastPath: boolean, optimisticProtocols?: readonly string[] } {
  return fast ? { fastPath: true, optimisticProtocols: [RAW_ECHO_PROTOCOL] } : { fastPath: false }
}

/** The same per-connection stream limits as the node's `/wrpc/0.0.1` handler, so that 64 calls in flight fit. */
export const RAW_ECHO_STREAMS = { maxInboundStreams: 256, maxOutboundStreams: 256 }

/** Echoes every chunk of each inbound stream as it arrives and closes after the caller closed; backpressure pauses reading. */
export async function handleRawEcho (libp2p: Libp2p): Promise<void> {
  await libp2p.handle(RAW_ECHO_PROTOCOL, (stream: Stream) => {
    let closing = false
    /** Closes once the caller closed and everything it sent was echoed (yamux flags the end before handing over the last frame's data, and a paused stream still holds some). */
    const maybeClose = (): void => {
      if (closing || stream.remoteWriteStatus !== 'closed' || stream.readBufferLength > 0 || stream.readStatus === 'paused') return
      closing = true
      stream.close().catch((err: unknown) => { stream.abort(err instanceof Error ? err : new Error(String(err))) })
    }
    stream.addEventListener('message', (evt: StreamMessageEvent) => {
      if (!stream.send(evt.data) && stream.readStatus === 'readable') {
        stream.pause()
        stream.addEventListener('drain', () => {
          if (stream.readStatus === 'paused') stream.resume()
          maybeClose()
        }, { once: true })
      }
    })
    stream.addEventListener('remoteCloseWrite', () => { queueMicrotask(maybeClose) })
  }, { ...RAW_ECHO_STREAMS, runOnLimitedConnection: false })
}

/** One call on the raw echo: open a stream, send, close our side, read to the end. Resolves to the byte count echoed. */
export async function rawEcho (libp2p: Libp2p, peer: PeerId | Multiaddr, payload: Uint8Array): Promise<number> {
  const stream = await libp2p.dialProtocol(peer, RAW_ECHO_PROTOCOL, { maxOutboundStreams: RAW_ECHO_STREAMS.maxOutboundStreams })
  const received = readToEnd(stream)
  if (!stream.send(payload)) await new Promise<void>((resolve, reject) => {
    stream.addEventListener('drain', () => { resolve() }, { once: true })
    stream.addEventListener('close', () => { reject(new Error('raw echo stream closed while sending')) }, { once: true })
  })
  await stream.close()
  return await received
}

/** Counts what arrives (the chunks are kept, not joined: the floor does no more than a reader must) until the remote closes. */
async function readToEnd (stream: Stream): Promise<number> {
  const { promise, resolve, reject } = Promise.withResolvers<number>()
  const chunks: unknown[] = []
  let bytes = 0
  stream.addEventListener('message', (evt: StreamMessageEvent) => {
    chunks.push(evt.data)
    bytes += evt.data.byteLength
  })
  const done = (): void => {
    // a muxer may flag the end before handing over the frame's data
    queueMicrotask(() => { resolve(bytes) })
  }
  stream.addEventListener('remoteCloseWrite', done, { once: true })
  stream.addEventListener('close', evt => {
    if (evt.error != null) reject(evt.error)
    else done()
  }, { once: true })
  return await promise
}

const identity = (b: Buffer): Buffer => b

/** A unary `Echo` whose messages are the raw bytes (identity serializers), so no protobuf is involved on either side. */
export const grpcEchoService = {
  echo: {
    path: '/wasmesh.bench.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity
  }
} satisfies grpc.ServiceDefinition

/** One unary call on a client made from `grpcEchoService`. */
export async function grpcEcho (client: grpc.Client, payload: Buffer): Promise<Buffer> {
  const { path, requestSerialize, responseDeserialize } = grpcEchoService.echo
  return await new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(path, requestSerialize, responseDeserialize, payload, (err, res) => {
      if (err != null || res === undefined) reject(err ?? new Error('gRPC echo answered nothing'))
      else resolve(res)
    })
  })
}

/** gRPC's default receive limit is 4 MiB; the bench's largest payload is 1 MiB, so this only leaves room. */
export const GRPC_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 8 * 1024 * 1024,
  'grpc.max_send_message_length': 8 * 1024 * 1024
}

/** A client node on 127.0.0.1 TCP bootstrapped to an echo server at `address`, started, once its registry knows that server. */
export async function echoClient (address: string, opts: { fastPath?: boolean, init?: NodeInit } = {}): Promise<MeshNode> {
  const node = await createNode({ transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [address], logger: silentLogger, fastPath: opts.fastPath, ...opts.init })
  try {
    await node.start()
    await eventually('the echo server in the client registry', () => node.servers(ECHO_CALL_IFACE).some(s => !s.local), 30_000)
    return node
  } catch (err) {
    await node.stop()
    throw err
  }
}
