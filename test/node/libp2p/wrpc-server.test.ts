import { describe, it, expect, afterEach } from 'vitest'
import type { PeerId } from '@libp2p/interface'
import { WRPC_PROTOCOL } from '../../../node/libp2p.ts'
import type { MeshLibp2p } from '../../../node/libp2p.ts'
import { dialWrpc, handleWrpc } from '../../../node/wrpc-server.ts'
import { streamTransport } from '../../../node/stream-transport.ts'
import { invoke, RemoteError } from '../../../protocol/session.ts'
import { encodeOpening } from '../../../protocol/frame.ts'
import { encodeValues } from '../../../protocol/value.ts'
import { Nodes, waitFor, demoHandlers, collect, INSTANCE, str, u32, bytes, u32Stream } from './helpers.ts'
import type { TransportKind } from './helpers.ts'

const nodes = new Nodes()
afterEach(async () => { await nodes.stopAll() })

async function upper (client: MeshLibp2p, server: MeshLibp2p, text: string): Promise<string> {
  const t = await dialWrpc(client, server.getMultiaddrs()[0], AbortSignal.timeout(10_000))
  const [r] = await invoke(t, INSTANCE, 'to-upper', [str], [text], [str])
  return r as string
}

async function remoteError (p: Promise<unknown>): Promise<RemoteError> {
  const err = await p.then(() => null, (e: unknown) => e)
  expect(err).toBeInstanceOf(RemoteError)
  return err as RemoteError
}

describe.each<TransportKind>(['tcp', 'memory'])('wRPC over libp2p (%s)', (kind) => {
  it('calls a function, moves 1 MiB each way, streams a pending result and runs 50 calls at once', async () => {
    const server = await nodes.start(kind)
    const client = await nodes.start(kind)
    const unregister = await handleWrpc(server, () => demoHandlers(), { maxInboundStreams: 64, maxOutboundStreams: 64 })

    expect(await upper(client, server, 'hello mesh')).toBe('HELLO MESH')

    const big = new Uint8Array(1024 * 1024)
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff
    const [echoed] = await invoke(await dialWrpc(client, server.getMultiaddrs()[0]), INSTANCE, 'echo', [bytes], [big], [bytes])
    expect(echoed).toBeInstanceOf(Uint8Array)
    expect(Buffer.from(echoed as Uint8Array).equals(big)).toBe(true)

    const [counted] = await invoke(await dialWrpc(client, server.getMultiaddrs()[0]), INSTANCE, 'count', [u32], [10], [u32Stream])
    const chunks = await collect(counted as AsyncIterable<ArrayLike<number>>)
    expect(chunks.length).toBeGreaterThan(1)
    expect(chunks.flatMap(c => Array.from(c))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])

    const texts = Array.from({ length: 50 }, (_, i) => `call number ${i}`)
    expect(await Promise.all(texts.map(async t => await upper(client, server, t)))).toEqual(texts.map(t => t.toUpperCase()))

    await unregister()
    // /wrpc/0.0.1 is negotiated optimistically: the refusal fails the call, before any result byte
    await expect(invoke(await dialWrpc(client, server.getMultiaddrs()[0]), INSTANCE, 'to-upper', [str], ['x'], [str])).rejects.toMatchObject({ resultStarted: false })
  })

  it('answers an unknown function with no-such-function', async () => {
    const server = await nodes.start(kind)
    const client = await nodes.start(kind)
    await handleWrpc(server, () => demoHandlers(), { maxInboundStreams: 8, maxOutboundStreams: 8 })
    const err = await remoteError(invoke(await dialWrpc(client, server.getMultiaddrs()[0]), INSTANCE, 'no-such', [str], ['x'], [str]))
    expect(err.code).toBe('no-such-function')
    expect(err.resultStarted).toBe(false)
    const err2 = await remoteError(invoke(await dialWrpc(client, server.getMultiaddrs()[0]), 'other:pkg/iface', 'to-upper', [str], ['x'], [str]))
    expect(err2.code).toBe('no-such-function')
  })

  it('refuses a peer that accept() turns down, and serves the others', async () => {
    const server = await nodes.start(kind)
    const stranger = await nodes.start(kind)
    const friend = await nodes.start(kind)
    const errors: Array<{ peer: string, code: unknown }> = []
    const log = { calls: 0 }
    await handleWrpc(server, () => demoHandlers(log), {
      maxInboundStreams: 8,
      maxOutboundStreams: 8,
      accept: async (peer: PeerId) => peer.equals(friend.peerId),
      onError: (peer, err) => { errors.push({ peer: peer.toString(), code: (err as { code?: unknown }).code }) }
    })
    const err = await remoteError(invoke(await dialWrpc(stranger, server.getMultiaddrs()[0]), INSTANCE, 'to-upper', [str], ['x'], [str]))
    expect(err.code).toBe('refused')
    expect(err.resultStarted).toBe(false)
    expect(await upper(friend, server, 'ok')).toBe('OK')
    expect(log.calls).toBe(1)
    expect(errors).toEqual([{ peer: stranger.peerId.toString(), code: 'refused' }])
  })

  it('cuts off hostile peers (garbage, a stalled stream, a stream flood) while another peer keeps calling', async () => {
    const server = await nodes.start(kind)
    const hostile = await nodes.start(kind)
    const good = await nodes.start(kind)
    const maxInboundStreams = 4
    const errors: string[] = []
    const log = { calls: 0, hangs: 0 }
    await handleWrpc(server, () => demoHandlers(log), {
      maxInboundStreams,
      maxOutboundStreams: 8,
      sessionLimits: { idleTimeoutMs: 100 },
      onError: (_peer, err) => { errors.push(String((err as { code?: unknown }).code)) }
    })

    // garbage: a wrong version byte answers invalid-version and closes
    const garbage = streamTransport(await hostile.dialProtocol(server.getMultiaddrs()[0], WRPC_PROTOCOL))
    await garbage.write(Uint8Array.of(0x07, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3))
    const garbageAnswer = await readUntilEnd(garbage)
    expect(new TextDecoder().decode(garbageAnswer.bytes)).toContain('"code":"invalid-version"')
    expect(await upper(good, server, 'after garbage')).toBe('AFTER GARBAGE')

    // stalled: a header and half the params, then silence: the idle timeout resets the stream
    const stalled = streamTransport(await hostile.dialProtocol(server.getMultiaddrs()[0], WRPC_PROTOCOL))
    const opening = encodeOpening({ instance: INSTANCE, name: 'to-upper' }, encodeValues([str], ['a long parameter']))
    await stalled.write(opening.subarray(0, opening.length - 4))
    const stalledEnd = await readUntilEnd(stalled)
    expect(stalledEnd.error).toMatchObject({ code: 'closed' })
    expect(stalled.signal.aborted).toBe(true)
    expect(await upper(good, server, 'after stall')).toBe('AFTER STALL')

    // flood: more calls at once than maxInboundStreams, each hanging until its caller gives up:
    // libp2p resets the streams above the limit before they reach the handler
    const floodSize = maxInboundStreams * 3
    const giveUp = new AbortController()
    let reset = 0
    const flood = Array.from({ length: floodSize }, async () => {
      const t = await dialWrpc(hostile, server.getMultiaddrs()[0])
      await invoke(t, INSTANCE, 'hang', [], [], [str], { signal: giveUp.signal }).catch(() => { if (!giveUp.signal.aborted) reset++ })
    })
    await waitFor('every flood stream to be either served or reset', () => reset + log.hangs === floodSize)
    expect(log.hangs).toBeLessThanOrEqual(maxInboundStreams)
    expect(reset).toBeGreaterThanOrEqual(floodSize - maxInboundStreams)
    // the limit is per connection: the well-behaved peer's calls (up to the limit at once) go through
    await Promise.all(Array.from({ length: maxInboundStreams }, async (_, i) => {
      expect(await upper(good, server, `during flood ${i}`)).toBe(`DURING FLOOD ${i}`)
    }))
    giveUp.abort(new Error('test done'))
    await Promise.all(flood)
    expect(errors).toContain('invalid-version')
    expect(errors).toContain('idle-timeout')
    // the hostile peer is still connected and can call once it behaves
    expect(await upper(hostile, server, 'behaving')).toBe('BEHAVING')
  })
})

/** Reads until EOF or a reset; what arrived and how it ended. */
async function readUntilEnd (t: { read(): Promise<Uint8Array | null> }): Promise<{ bytes: Uint8Array, error: unknown }> {
  const parts: Uint8Array[] = []
  let error: unknown = null
  try {
    while (true) {
      const c = await t.read()
      if (c == null) break
      parts.push(c)
    }
  } catch (err) {
    error = err
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { bytes.set(p, o); o += p.length }
  return { bytes, error }
}

describe('dialWrpc', () => {
  it('fails the call, before any result byte, when the peer does not serve /wrpc/0.0.1', async () => {
    const server = await nodes.start('memory')
    const client = await nodes.start('memory')
    const call = async (): Promise<unknown> => await invoke(await dialWrpc(client, server.getMultiaddrs()[0], AbortSignal.timeout(10_000)), INSTANCE, 'to-upper', [str], ['x'], [str])
    await expect(call()).rejects.toMatchObject({ resultStarted: false, message: expect.stringContaining('/wrpc/0.0.1') })
    await waitFor('the connection to stay usable', () => client.getConnections(server.peerId).length === 1)
  })
})

describe('protocol negotiation between the fast path and stock js-libp2p', () => {
  const pairs: Array<[string, boolean, boolean]> = [
    ['fast dialer, fast listener', true, true],
    ['stock dialer, fast listener', false, true],
    ['fast dialer, stock listener', true, false],
    ['stock dialer, stock listener', false, false]
  ]

  it.each(pairs)('%s: calls succeed, other protocols still negotiate, an unserved one is refused', async (_name, dialerFast, listenerFast) => {
    const server = await nodes.start('tcp', { fastPath: listenerFast })
    const client = await nodes.start('tcp', { fastPath: dialerFast })
    await handleWrpc(server, () => demoHandlers(), { maxInboundStreams: 64, maxOutboundStreams: 64 })
    const texts = Array.from({ length: 20 }, (_, i) => `call ${i}`)
    expect(await Promise.all(texts.map(async t => await upper(client, server, t)))).toEqual(texts.map(t => t.toUpperCase()))
    // identify ran over the same connection (multistream-select as usual): the client knows what the server speaks
    await waitFor('identify', async () => (await client.peerStore.get(server.peerId)).protocols.includes(WRPC_PROTOCOL))
    await expect(client.dialProtocol(server.peerId, '/not/served/1.0.0')).rejects.toThrow()
    expect(await upper(client, server, 'still fine')).toBe('STILL FINE')
  })
})
