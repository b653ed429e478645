import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { UnsupportedProtocolError } from '@libp2p/interface'
import type { MessageStream, Stream, StreamMuxer } from '@libp2p/interface'
import { fastMuxer } from '../../../node/libp2p/fast-muxer.ts'
import { createStreamErrors } from '../../../node/libp2p/stream-errors.ts'
import type { StreamErrors } from '../../../node/libp2p/stream-errors.ts'
import { WRPC_PROTOCOL } from '../../../node/libp2p.ts'
import { ACK, FIN, SYN, data, join, open, proposal, reset } from './yamux-frames.ts'

// The muxer on its own, on an in-memory connection pair: the test writes raw yamux frames on the
// dialer's connection, so it decides exactly which frames the listener gets in one chunk.

const registrar = {
  getHandler (protocol: string) {
    if (protocol !== WRPC_PROTOCOL) throw Object.assign(new Error('unhandled'), { name: 'UnhandledProtocolError' })
    return {}
  }
}

let dialerConn: MessageStream
let listenerConn: MessageStream
let listener: StreamMuxer
let dialer: StreamMuxer
let errors: StreamErrors
/** What reached the listener's libp2p (its 'stream' listener). */
let dispatched: Stream[]
let uncaught: unknown[]
const onUncaught = (err: unknown): void => { uncaught.push(err) }

beforeEach(() => {
  uncaught = []
  process.on('uncaughtException', onUncaught)
  ;[dialerConn, listenerConn] = multiaddrConnectionPair()
  errors = createStreamErrors()
  const factory = fastMuxer(yamux({ enableKeepAlive: false }), { optimistic: [WRPC_PROTOCOL], errors })
  listener = factory({ registrar }).createStreamMuxer(listenerConn)
  dialer = fastMuxer(yamux({ enableKeepAlive: false }), { optimistic: [WRPC_PROTOCOL] })({ registrar }).createStreamMuxer(dialerConn)
  dispatched = []
  // stands in for libp2p's Connection: an echo server on every stream negotiated early
  listener.addEventListener('stream', (evt) => {
    const stream = evt.detail
    dispatched.push(stream)
    if (stream.protocol !== WRPC_PROTOCOL) return
    stream.addEventListener('message', (m) => {
      try { stream.send(m.data) } catch {}
    })
    stream.addEventListener('remoteCloseWrite', () => { void stream.close().catch(() => {}) })
  })
})

afterEach(async () => {
  dialer.abort(new Error('test over'))
  listener.abort(new Error('test over'))
  dialerConn.abort(new Error('test over'))
  listenerConn.abort(new Error('test over'))
  process.off('uncaughtException', onUncaught)
})

/** Sends `chunk` to the listener as one message; resolves once the listener's muxer handled it and the microtasks it queued ran. */
async function deliver (chunk: Uint8Array, sameTurn?: () => void): Promise<void> {
  const handled = new Promise<void>(resolve => {
    // added after the muxer's own listener, so it runs right after the muxer took the chunk, in the same turn
    listenerConn.addEventListener('message', () => {
      sameTurn?.()
      resolve()
    }, { once: true })
  })
  dialerConn.send(chunk)
  await handled
  await new Promise(resolve => setImmediate(resolve))
}

/** A normal call on the same connection still gets its echo. */
async function stillServes (): Promise<void> {
  const stream = await dialer.createStream({ protocol: WRPC_PROTOCOL })
  const echoed = new Promise<string>((resolve, reject) => {
    stream.addEventListener('message', (m) => { resolve(new TextDecoder().decode(m.data instanceof Uint8Array ? m.data : m.data.subarray())) })
    stream.addEventListener('close', (e) => { reject(e.error ?? new Error('closed before the echo')) })
  })
  stream.send(new TextEncoder().encode('ping'))
  expect(await echoed).toBe('ping')
  stream.abort(new Error('done'))
}

const call = new TextEncoder().encode('\x00some call parameters')

describe('fastMuxer: a stream closed while the muxer answers it', () => {
  it.each([
    ['the proposal and a reset', [data(SYN, 1001, proposal(WRPC_PROTOCOL)), reset(1001)]],
    ['the proposal, call data and a reset', [data(SYN, 1001, join(proposal(WRPC_PROTOCOL), call)), reset(1001)]],
    ['the proposal with a FIN, then a reset', [data(SYN | FIN, 1001, proposal(WRPC_PROTOCOL)), reset(1001)]],
    ['an opening with no data and a reset', [open(1001), reset(1001)]],
    ['half a proposal and a reset', [data(SYN, 1001, proposal(WRPC_PROTOCOL).subarray(0, 10)), reset(1001)]]
  ])('%s in one chunk: dropped and counted, nothing thrown, the connection still serves', async (_what, frames) => {
    await deliver(join(...frames))
    expect(uncaught).toEqual([])
    expect(errors.counts()).toEqual({ 'reset-before-answer': 1 })
    // a stream that is already gone is not handed to libp2p
    expect(dispatched).toEqual([])
    await stillServes()
  })

  it('the proposal, then a reset in a later chunk: answered, then dropped, nothing counted', async () => {
    await deliver(data(SYN, 1001, proposal(WRPC_PROTOCOL)))
    expect(dispatched.map(s => s.protocol)).toEqual([WRPC_PROTOCOL])
    await deliver(reset(1001))
    expect(dispatched[0].status).toBe('reset')
    expect(uncaught).toEqual([])
    expect(errors.counts()).toEqual({})
    await stillServes()
  })

  it.each([
    ['closes (a graceful stop)', (m: StreamMuxer) => { void m.close().catch(() => {}) }],
    ['aborts (the connection fails)', (m: StreamMuxer) => { m.abort(new Error('connection failed')) }]
  ])('the proposal arrives and the muxer %s in the same turn: nothing thrown, counted', async (_what, end) => {
    await deliver(data(SYN, 1001, proposal(WRPC_PROTOCOL)), () => { end(listener) })
    expect(uncaught).toEqual([])
    expect(Object.values(errors.counts()).reduce((a, b) => a + b, 0)).toBe(1)
  })

  it('many streams opened and reset in one chunk are each counted once', async () => {
    const frames: Uint8Array[] = []
    for (let id = 1001; id < 1001 + 2 * 50; id += 2) frames.push(data(SYN, id, proposal(WRPC_PROTOCOL)), reset(id))
    await deliver(join(...frames))
    expect(uncaught).toEqual([])
    expect(errors.counts()).toEqual({ 'reset-before-answer': 50 })
    await stillServes()
  })
})

describe('fastMuxer: the dialer\'s optimistic negotiation', () => {
  it('takes an answer whose length needs a third varint byte as malformed at once, instead of waiting for megabytes', async () => {
    // the test plays the listener with raw frames on the other end of the dialer's connection
    const stream = await dialer.createStream({ protocol: WRPC_PROTOCOL })
    const closed = new Promise<Error | undefined>(resolve => { stream.addEventListener('close', (e) => { resolve(e.error) }) })
    const arrived = new Promise<void>(resolve => { dialerConn.addEventListener('message', () => { resolve() }, { once: true }) })
    // stream 1, the dialer's first; 0x80 0x80 0x01 would announce a 16 KiB "message"
    listenerConn.send(data(ACK, 1, Uint8Array.of(0x80, 0x80, 0x01)))
    await arrived
    await new Promise(resolve => setImmediate(resolve))
    expect(stream.status).toBe('aborted')
    expect(await closed).toBeInstanceOf(UnsupportedProtocolError)
    expect(uncaught).toEqual([])
  })
})
