// wRPC call cost between two node processes on loopback, beside the same on stock js-libp2p (the before of issue 8), a raw libp2p stream per call, gRPC unary (TLS and not) and a local-first call, all in one run.
import { randomBytes } from 'node:crypto'
import * as grpc from '@grpc/grpc-js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createMeshLibp2p } from '../../node/libp2p.ts'
import type { MeshLibp2p } from '../../node/libp2p.ts'
import { silentLogger } from '../../node/logger.ts'
import { createNode } from '../../node/index.ts'
import type { MeshNode } from '../../node/index.ts'
import { startServer } from './support/child.ts'
import type { ServerProcess } from './support/child.ts'
import { ECHO_CALL_IFACE, ECHO_IFACE, GRPC_CHANNEL_OPTIONS, echoClient, echoService, grpcEcho, handleRawEcho, rawEcho, rawFastPath } from './support/echo.ts'
import { measureLatency } from './support/latency.ts'
import type { LatencySample } from './support/latency.ts'
import { measureAsync } from './support/timing.ts'
import type { AsyncSample } from './support/timing.ts'
import { selfSignedCertificate } from './support/tls.ts'
import { scratchDir } from '../support/scratch.ts'

const SMALL_BYTES = 64
const LARGE_BYTES = 1024 * 1024
const SMALL_CONCURRENCY = [1, 64] as const
const LARGE_CONCURRENCY = [1, 8] as const
/**
 * How long each figure samples, bounding the suite to about 2 minutes. On the 2-core VM one sample
 * moves by up to 2x with the rest of the machine, so every figure is a median of many short samples
 * taken in turn with the other cases (see support/latency.ts and support/timing.ts).
 */
const LATENCY = { warmupMs: 300, rounds: 15, roundMs: 200 }
const SMALL_RATE = { samples: 9, sampleMs: 300 }
const LARGE_RATE = { samples: 9, sampleMs: 400 }

const serverScript = new URL('./support/wrpc-server.ts', import.meta.url)
const grpcScript = new URL('./support/grpc-server.ts', import.meta.url)

/** One way of making the echo call. */
export interface Subject {
  readonly name: string
  /** Names of the subjects this one is compared with, in the ratio columns. */
  readonly baselines: readonly string[]
  /** Resolves to the echoed bytes, or to their count where the client keeps them unjoined (the raw floor). */
  readonly call: (payload: Uint8Array) => Promise<Uint8Array | number>
}

const WRPC = 'wRPC `node.call`, 2 processes'
const WRPC_STOCK = 'wRPC `node.call`, stock js-libp2p (`fastPath: false`), 2 processes'
const RAW = 'raw libp2p, stream per call, 2 processes'
const RAW_STOCK = 'raw libp2p, stream per call, stock js-libp2p, 2 processes'
const GRPC_TLS = 'gRPC unary, TLS, 2 processes'
const GRPC_PLAIN = 'gRPC unary, no TLS, 2 processes'
const LOCAL = 'wRPC `node.call`, local-first, in process'
const DIRECT = 'echo function called directly'

const SHORT: Record<string, string> = {
  [WRPC_STOCK]: 'stock',
  [RAW]: 'raw libp2p',
  [GRPC_TLS]: 'gRPC TLS',
  [GRPC_PLAIN]: 'gRPC plain',
  [DIRECT]: 'direct'
}

function bytesOf (result: unknown, what: string): Uint8Array {
  if (!(result instanceof Uint8Array)) throw new Error(`${what} answered ${typeof result}, not bytes`)
  return result
}

/** Every subject must echo both payloads byte for byte (the raw floor: their count) before anything is timed. */
export async function verify (subjects: readonly Subject[], payloads: readonly Uint8Array[]): Promise<void> {
  for (const s of subjects) {
    for (const p of payloads) {
      const got = await s.call(p)
      const ok = typeof got === 'number' ? got === p.byteLength : Buffer.compare(got, p) === 0
      if (!ok) throw new Error(`${s.name} did not echo ${p.byteLength} bytes faithfully`)
    }
  }
}

/** Each timed call checks the echoed length, so that a failing path cannot pass for a fast one. */
export function timed (s: Subject, payload: Uint8Array): () => Promise<void> {
  return async () => {
    const got = await s.call(payload)
    const n = typeof got === 'number' ? got : got.byteLength
    if (n !== payload.byteLength) throw new Error(`${s.name} echoed ${n} of ${payload.byteLength} bytes`)
  }
}

const fmtMs = (ms: number): string => ms >= 10 ? ms.toFixed(1) : ms >= 0.1 ? ms.toFixed(3) : ms.toFixed(4)
export const fmtRate = (r: number): string => r >= 1e6 ? `${(r / 1e6).toFixed(2)} M` : Math.round(r).toLocaleString('en')
const fmtMBps = (r: number): string => {
  const mb = r * LARGE_BYTES / 1e6
  return mb >= 1e6 ? `${(mb / 1e6).toFixed(1)} TB/s` : mb >= 1e3 ? `${(mb / 1e3).toFixed(1)} GB/s` : `${mb.toFixed(1)} MB/s`
}
const spread = (s: AsyncSample): string => `±${(s.spread * 50).toFixed(0)}%`

function ratios (s: Subject, value: (name: string) => number | undefined): string {
  const mine = value(s.name)
  if (mine === undefined) return ''
  return s.baselines.map(b => {
    const base = value(b)
    return base === undefined ? '' : `${(mine / base).toFixed(2)}x ${SHORT[b] ?? b}`
  }).filter(r => r !== '').join(', ')
}

export function latencyTable (subjects: readonly Subject[], samples: readonly LatencySample[]): string {
  const by = new Map(samples.map(s => [s.name, s]))
  const lines = ['| case | p50 (ms) | p99 (ms) | calls timed | p50 vs baseline (time ratio: > 1 is slower) |', '|---|---:|---:|---:|---|']
  for (const s of subjects) {
    const l = by.get(s.name)
    if (l === undefined) continue
    lines.push(`| ${s.name} | ${fmtMs(l.p50Ms)} | ${fmtMs(l.p99Ms)} | ${l.calls.toLocaleString('en')} | ${ratios(s, n => by.get(n)?.p50Ms)} |`)
  }
  return lines.join('\n')
}

export function rateTable (subjects: readonly Subject[], levels: readonly number[], rates: ReadonlyMap<string, AsyncSample>, format: (opsPerSec: number) => string, unit: string): string {
  const key = (name: string, c: number): string => `${name} @${c}`
  const head = ['case', ...levels.map(c => `${unit}, ${c} in flight`), ...levels.map(c => `vs baseline, ${c} in flight`)]
  const lines = [`| ${head.join(' | ')} |`, `|---|${levels.map(() => '---:|').join('')}${levels.map(() => '---|').join('')}`]
  for (const s of subjects) {
    const cells = levels.map(c => {
      const r = rates.get(key(s.name, c))
      return r === undefined ? '' : `${format(r.opsPerSec)} ${spread(r)}`
    })
    const vs = levels.map(c => ratios(s, n => rates.get(key(n, c))?.opsPerSec))
    lines.push(`| ${s.name} | ${cells.join(' | ')} | ${vs.join(' | ')} |`)
  }
  return lines.join('\n')
}

export async function measureRates (subjects: readonly Subject[], payload: Uint8Array, levels: readonly number[], opts: { samples: number, sampleMs: number }): Promise<Map<string, AsyncSample>> {
  const cases = levels.flatMap(c => subjects.map(s => ({ name: `${s.name} @${c}`, fn: timed(s, payload), concurrency: c })))
  const samples = await measureAsync(cases, opts)
  return new Map(samples.map(s => [s.name, s]))
}

export async function run (): Promise<string> {
  const started = performance.now()
  const scratch = await scratchDir('bench-wrpc')
  const children: ServerProcess[] = []
  const cleanups: Array<() => Promise<void>> = []
  try {
    const tls = await selfSignedCertificate(scratch.path)
    const spawned = await Promise.allSettled([
      startServer(serverScript, ['wrpc']),
      startServer(serverScript, ['libp2p']),
      startServer(grpcScript, ['--tls', tls.dir]),
      startServer(grpcScript, []),
      startServer(serverScript, ['wrpc', '--stock']),
      startServer(serverScript, ['libp2p', '--stock'])
    ])
    for (const s of spawned) if (s.status === 'fulfilled') children.push(s.value)
    const failed = spawned.find(s => s.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    const [wrpcServer, rawServer, grpcTlsServer, grpcPlainServer, wrpcStockServer, rawStockServer] = children

    // wRPC: a client node bootstrapped to the server node, calling once the registry knows it.
    const wrpcClient = async (address: string, fastPath: boolean): Promise<MeshNode> => {
      const node = await echoClient(address, { fastPath })
      cleanups.push(async () => { await node.stop() })
      return node
    }
    const client = await wrpcClient(wrpcServer.address, true)
    const stockClient = await wrpcClient(wrpcStockServer.address, false)

    // The raw floor: the same libp2p configuration on both ends, one connection.
    const rawLibp2p = async (address: string, fast: boolean): Promise<{ libp2p: MeshLibp2p, peer: ReturnType<typeof peerIdFromString> }> => {
      const libp2p: MeshLibp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], ...rawFastPath(fast) })
      cleanups.push(async () => { await libp2p.stop() })
      // Both ends handle the protocol, as both wRPC nodes handle /wrpc/0.0.1: libp2p then takes the
      // outbound stream limit from the handler instead of throwing and catching an error per stream.
      await handleRawEcho(libp2p)
      await libp2p.start()
      const addr = multiaddr(address)
      const peerString = addr.getComponents().findLast(c => c.name === 'p2p')?.value
      if (peerString === undefined) throw new Error(`${address} has no /p2p/ peer id`)
      await libp2p.dial(addr)
      return { libp2p, peer: peerIdFromString(peerString) }
    }
    const raw = await rawLibp2p(rawServer.address, true)
    const rawStock = await rawLibp2p(rawStockServer.address, false)

    const grpcClient = async (address: string, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): Promise<grpc.Client> => {
      const c = new grpc.Client(address, creds, { ...GRPC_CHANNEL_OPTIONS, ...options })
      cleanups.push(async () => { c.close() })
      await new Promise<void>((resolve, reject) => { c.waitForReady(Date.now() + 10_000, err => { if (err != null) reject(err); else resolve() }) })
      return c
    }
    // Node refuses an IP address as TLS server name: dial 127.0.0.1, verify the certificate as localhost.
    const grpcTls = await grpcClient(grpcTlsServer.address, grpc.credentials.createSsl(tls.cert), { 'grpc.ssl_target_name_override': 'localhost' })
    const grpcPlain = await grpcClient(grpcPlainServer.address, grpc.credentials.createInsecure())

    // Local-first: a node serving the echo itself, on no network (its own calls never leave the process).
    const local: MeshNode = await createNode({ transport: 'memory', logger: silentLogger })
    cleanups.push(async () => { await local.stop() })
    await local.start()
    const service = echoService()
    local.serve(service)

    const asBuffer = (p: Uint8Array): Buffer => Buffer.from(p.buffer, p.byteOffset, p.byteLength)
    const wrpcCall = async (node: MeshNode, p: Uint8Array): Promise<Uint8Array> => bytesOf((await node.call(ECHO_CALL_IFACE, 'echo', [p]))[0], 'wRPC echo')
    const directCall = async (p: Uint8Array): Promise<Uint8Array> => bytesOf((await service.call(ECHO_IFACE, 'echo', [p], { caller: local.peerId }))[0], 'echo function')
    const subjects: Subject[] = [
      { name: WRPC, baselines: [WRPC_STOCK, RAW, GRPC_TLS, GRPC_PLAIN], call: async p => await wrpcCall(client, p) },
      { name: WRPC_STOCK, baselines: [GRPC_TLS], call: async p => await wrpcCall(stockClient, p) },
      { name: RAW, baselines: [GRPC_TLS], call: async p => await rawEcho(raw.libp2p, raw.peer, p) },
      { name: RAW_STOCK, baselines: [GRPC_TLS], call: async p => await rawEcho(rawStock.libp2p, rawStock.peer, p) },
      { name: GRPC_TLS, baselines: [], call: async p => await grpcEcho(grpcTls, asBuffer(p)) },
      { name: GRPC_PLAIN, baselines: [GRPC_TLS], call: async p => await grpcEcho(grpcPlain, asBuffer(p)) },
      { name: LOCAL, baselines: [DIRECT], call: async p => await wrpcCall(local, p) },
      { name: DIRECT, baselines: [], call: async p => await directCall(p) }
    ]

    const small = new Uint8Array(randomBytes(SMALL_BYTES))
    const large = new Uint8Array(randomBytes(LARGE_BYTES))
    await verify(subjects, [small, large])

    const latency = await measureLatency(subjects.map(s => ({ name: s.name, fn: timed(s, small) })), LATENCY)
    const smallRates = await measureRates(subjects, small, SMALL_CONCURRENCY, SMALL_RATE)
    const largeRates = await measureRates(subjects, large, LARGE_CONCURRENCY, LARGE_RATE)
    const connections = client.connections().length
    const seconds = (performance.now() - started) / 1000

    return [
      '## Making wRPC faster than gRPC (issue 8)',
      '',
      '`npm run bench -- wrpc`: the echo `wasmesh:bench/echo@0.1.0#echo: func(data: list<u8>) -> list<u8>`, served natively',
      '(a `LocalService`) by a mesh node in a child process on 127.0.0.1 TCP (noise, yamux), called with `node.call` by a',
      'client node in the bench process. Beside it in the same run: the same two nodes on stock js-libp2p (`fastPath: false`',
      'on both ends: the libp2p layer as it was before issue 8; our own code is the new one), a raw libp2p echo (one stream',
      'per call: open, send, close, read to the end) on our configuration (fast path, its protocol negotiated optimistically',
      'like `/wrpc/0.0.1`) and on stock js-libp2p, `@grpc/grpc-js` unary calls (identity serializers on Buffers, one HTTP/2',
      'channel) with TLS (self-signed P-256) and without, each server in its own child process, and in the bench process a',
      'local-first `node.call` on a node serving the echo itself against calling the echo function directly. Every case',
      `echoes its payload byte for byte before timing. ${connections} libp2p connection(s) carried the wRPC calls.`,
      '',
      `**Sequential 64 B calls**: each call timed, ${LATENCY.rounds} rounds of ${LATENCY.roundMs} ms per case taken in turn after a ${LATENCY.warmupMs} ms warm-up.`,
      '',
      latencyTable(subjects, latency),
      '',
      `**64 B calls per second**, with 1 and 64 calls kept in flight: median of ${SMALL_RATE.samples} samples of ${SMALL_RATE.sampleMs} ms, all cases in turn; ratio > 1 is faster.`,
      '',
      rateTable(subjects, SMALL_CONCURRENCY, smallRates, fmtRate, 'calls/s'),
      '',
      `**1 MiB payloads**: payload MB/s one way (each call carries 1 MiB there and 1 MiB back), 1 and 8 in flight; median of ${LARGE_RATE.samples} samples of ${LARGE_RATE.sampleMs} ms, all cases in turn; ratio > 1 is faster. In process the echo hands back the same array: no byte moves, those rows price the call path only.`,
      '',
      rateTable(subjects, LARGE_CONCURRENCY, largeRates, fmtMBps, 'MB/s'),
      '',
      `(suite time ${seconds.toFixed(0)} s)`
    ].join('\n')
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => { process.stderr.write(`wrpc bench cleanup: ${String(err)}\n`) })
    await Promise.all(children.map(async c => { await c.stop() }))
    await scratch.remove()
  }
}
