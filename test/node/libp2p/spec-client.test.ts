// An independent wRPC client written from wRPC's SPEC.md alone (no wasmesh protocol code): hand-built bytes over a raw libp2p stream.
import { describe, it, expect, afterEach } from 'vitest'
import { WRPC_PROTOCOL } from '../../../node/libp2p.ts'
import type { MeshLibp2p } from '../../../node/libp2p.ts'
import { handleWrpc } from '../../../node/wrpc-server.ts'
import { Nodes, demoHandlers, INSTANCE } from './helpers.ts'
import type { TransportKind } from './helpers.ts'

const nodes = new Nodes()
afterEach(async () => { await nodes.stopAll() })

// --- the client, from SPEC.md: version 0x00, header record {instance: string, name: string},
// then frames record {path: list<u32>, data: list<u8>}; component-model encoding: string and
// list as a LEB128 length then the bytes, u32 as unsigned LEB128.

function uleb (n: number): number[] {
  const out: number[] = []
  do {
    let byte = n & 0x7f
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    out.push(byte)
  } while (n > 0)
  return out
}

function lengthPrefixed (bytes: Uint8Array | number[]): number[] {
  return [...uleb(bytes.length), ...bytes]
}

const text = (s: string): number[] => lengthPrefixed(new TextEncoder().encode(s))

function frame (path: number[], data: number[]): number[] {
  return [...uleb(path.length), ...path.flatMap(uleb), ...lengthPrefixed(data)]
}

/** Parses a byte string into frames by hand; fails on anything left over. */
function parseFrames (bytes: Uint8Array): Array<{ path: number[], data: Uint8Array }> {
  let pos = 0
  const readUleb = (): number => {
    let result = 0
    let shift = 0
    while (true) {
      if (pos >= bytes.length) throw new Error('truncated LEB128')
      const b = bytes[pos++]
      result += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return result
      shift += 7
    }
  }
  const frames: Array<{ path: number[], data: Uint8Array }> = []
  while (pos < bytes.length) {
    const n = readUleb()
    const path = Array.from({ length: n }, readUleb)
    const len = readUleb()
    if (pos + len > bytes.length) throw new Error('truncated frame data')
    frames.push({ path, data: bytes.slice(pos, pos + len) })
    pos += len
  }
  return frames
}

/** One invocation: open a stream with the protocol id, write the bytes, close our side, read to EOF. */
async function call (client: MeshLibp2p, server: MeshLibp2p, request: number[]): Promise<Uint8Array> {
  const stream = await client.dialProtocol(server.getMultiaddrs()[0], WRPC_PROTOCOL)
  stream.send(Uint8Array.from(request))
  await stream.close()
  const parts: number[] = []
  for await (const chunk of stream) parts.push(...chunk.subarray())
  return Uint8Array.from(parts)
}

describe.each<TransportKind>(['tcp', 'memory'])('an independent SPEC-only wRPC client over %s', (kind) => {
  it('calls to-upper and echo with hand-encoded params and reads hand-parsed results', async () => {
    const server = await nodes.start(kind)
    const client = await nodes.start(kind)
    await handleWrpc(server, () => demoHandlers(), { maxInboundStreams: 8, maxOutboundStreams: 8 })

    // to-upper("hello, wRPC") -> one frame on path [] holding the string result
    const upper = await call(client, server, [0x00, ...text(INSTANCE), ...text('to-upper'), ...frame([], text('hello, wRPC'))])
    expect(parseFrames(upper)).toEqual([{ path: [], data: Uint8Array.from(text('HELLO, WRPC')) }])

    // echo(list<u8> of 300 bytes): lengths of two LEB128 bytes on the way in and out
    const payload = Array.from({ length: 300 }, (_, i) => (i * 13) & 0xff)
    const echoed = await call(client, server, [0x00, ...text(INSTANCE), ...text('echo'), ...frame([], lengthPrefixed(payload))])
    const frames = parseFrames(echoed)
    expect(frames).toHaveLength(1)
    expect(frames[0].path).toEqual([])
    expect([...frames[0].data]).toEqual([0xac, 0x02, ...payload])

    // the params may also come split over several writes and frames on path []
    const split = [0x00, ...text(INSTANCE), ...text('to-upper'), ...frame([], text('abc').slice(0, 2)), ...frame([], text('abc').slice(2))]
    expect(parseFrames(await call(client, server, split))).toEqual([{ path: [], data: Uint8Array.from(text('ABC')) }])
  })

  it('gets an error frame on path [4294967295] with JSON {code, message} for an unknown function', async () => {
    const server = await nodes.start(kind)
    const client = await nodes.start(kind)
    await handleWrpc(server, () => demoHandlers(), { maxInboundStreams: 8, maxOutboundStreams: 8 })
    const answer = await call(client, server, [0x00, ...text(INSTANCE), ...text('does-not-exist'), ...frame([], text('x'))])
    // the reserved index is the largest u32, five LEB128 bytes
    expect([...answer.subarray(0, 6)]).toEqual([0x01, 0xff, 0xff, 0xff, 0xff, 0x0f])
    const frames = parseFrames(answer)
    expect(frames).toHaveLength(1)
    expect(frames[0].path).toEqual([4294967295])
    const body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frames[0].data)) as { code: unknown, message: unknown }
    expect(body.code).toBe('no-such-function')
    expect(typeof body.message).toBe('string')
  })
})
