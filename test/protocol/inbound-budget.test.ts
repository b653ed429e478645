import { afterEach, describe, expect, it, vi } from 'vitest'
import { InboundBudget } from '../../protocol/budget.ts'
import type { InboundAccount, InboundBudgetLimits } from '../../protocol/budget.ts'
import { FrameDecoder, ERROR_PATH_INDEX } from '../../protocol/frame.ts'
import { invoke, serve } from '../../protocol/session.ts'
import type { Handlers, ServeOptions } from '../../protocol/session.ts'
import { createTransportPair } from '../../protocol/transport.ts'
import type { Transport } from '../../protocol/transport.ts'
import type { Type } from '../../protocol/wit/model.ts'
import { byteListCallHead } from '../support/wrpc.ts'
import { concat } from '../support/bytes.ts'
import { eventually } from '../support/eventually.ts'

const INSTANCE = 'wasmesh:test/blob@0.1.0'
const bytes: Type = { kind: 'list', element: { kind: 'u8' } }
const u32: Type = { kind: 'u32' }

/** `put: func(data: list<u8>) -> u32`, answering the length. */
const handlers: Handlers = {
  lookup: (instance, name) => instance === INSTANCE && name === 'put'
    ? { params: [bytes], results: [u32], call: ([data]) => [(data as Uint8Array).length] }
    : undefined
}

/** The opening of a `put` call declaring a `list<u8>` of `length` bytes, none of them sent. */
function putHead (length: number): Uint8Array {
  return byteListCallHead(INSTANCE, 'put', length)
}

/** The error frame's `code` a raw client reads back, or `reset`/`closed`. */
async function answerCode (t: Transport): Promise<string> {
  const dec = new FrameDecoder()
  while (true) {
    let chunk: Uint8Array | null
    try {
      chunk = await t.read()
    } catch {
      return 'reset'
    }
    if (chunk == null) return 'closed'
    dec.push(chunk)
    for (let item = dec.next(); item != null; item = dec.next()) {
      if (item.type === 'frame' && item.path.length === 1 && item.path[0] === ERROR_PATH_INDEX) {
        return (JSON.parse(new TextDecoder().decode(item.data)) as { code: string }).code
      }
    }
  }
}

const limits = (l: Partial<InboundBudgetLimits> = {}): InboundBudgetLimits => ({ maxBufferedBytes: 64 * 1024, maxBufferedBytesPerPeer: 4096, maxPausedMs: Infinity, ...l })

afterEach(() => {
  vi.useRealTimers()
})

interface Stalled {
  readonly client: Transport
  readonly served: Promise<void>
  readonly errors: Error[]
  /** How many of its chunks the client could write (the rest wait on back-pressure). */
  written: number
  /** Whether the client's last write still waits. */
  stalled: boolean
}

/** A client that declares a `list<u8>` of `length` bytes and sends all but the last `chunk` of it, in chunks, as fast as the server takes them. */
function stalledCall (budget: InboundBudget, peer: string, length: number, chunk: number, opts: ServeOptions = {}): Stalled {
  // a small high-water mark: a write waits once the server leaves 1 KiB unread
  const [client, server] = createTransportPair({ highWaterMarkBytes: 1024 })
  const errors: Error[] = []
  const served = serve(server, handlers, { inbound: budget.open(peer), onError: err => { errors.push(err) }, ...opts })
  const s: Stalled = { client, served, errors, written: 0, stalled: false }
  void (async () => {
    try {
      await client.write(putHead(length))
      for (let sent = 0; sent + chunk < length; sent += chunk) {
        const w = client.write(new Uint8Array(chunk).fill(7))
        if (w != null) {
          s.stalled = true
          await w
          s.stalled = false
        }
        s.written++
      }
    } catch {}
  })()
  return s
}

describe('the bytes of unfinished inbound values are budgeted', () => {
  it('back-pressures stalled senders at the peer budget, serves another peer beside them, and gives everything back on reset', async () => {
    const budget = new InboundBudget(limits())
    const calls = Array.from({ length: 16 }, () => stalledCall(budget, 'attacker', 10_000, 256))
    // each would send ~9.7 KiB; 16 of them 155 KiB, far over the attacker's 4 KiB
    // the sessions run on promises and no timer is involved: poll on every turn, not every 20 ms
    await eventually('every stalled call to hold what it could send or to be paused', () =>
      budget.stats().paused === calls.length - 1 && calls.every(c => c.stalled || c.written === Math.ceil(10_000 / 256) - 1), { intervalMs: 0 })
    const held = budget.peerBytes('attacker')
    // the oldest holder may finish its value (10 KiB); every other stream read at most one chunk past the budget
    expect(held).toBeLessThanOrEqual(4096 + 10_100 + calls.length * 256)
    expect(budget.stats().bytes).toBe(held)
    // the senders are slowed, not buffered: their writes wait
    expect(calls.filter(c => c.stalled).length).toBeGreaterThanOrEqual(calls.length - 1)

    // another peer's call is served at once beside them
    const [client, server] = createTransportPair()
    const legit = serve(server, handlers, { inbound: budget.open('friend') })
    expect(await invoke(client, INSTANCE, 'put', [bytes], [new Uint8Array(3000)], [u32])).toEqual([3000])
    await legit

    for (const c of calls) c.client.abort(new Error('attacker gone'))
    await Promise.all(calls.map(async c => { await c.served }))
    expect(budget.stats()).toEqual({ bytes: 0, holders: 0, paused: 0, refused: 0 })
  })

  it('serves many legitimate calls that together exceed the budget: slowed, not failed', async () => {
    const budget = new InboundBudget(limits({ maxBufferedBytesPerPeer: 8 * 1024 }))
    let pauses = 0
    const open = (): InboundAccount => {
      const account = budget.open('busy')
      return {
        add: delta => { account.add(delta) },
        get blocked () { return account.blocked },
        whenUnblocked: async () => { pauses++; await account.whenUnblocked() },
        close: () => { account.close() }
      }
    }
    const results = await Promise.all(Array.from({ length: 24 }, async (_, i) => {
      // a small high-water mark makes the client send its 4 KiB in pieces the server reads one by one
      const [client, server] = createTransportPair({ highWaterMarkBytes: 512 })
      const served = serve(server, handlers, { inbound: open() })
      const head = putHead(4096)
      await client.write(head)
      for (let o = 0; o < 4096; o += 512) await client.write(new Uint8Array(512).fill(i))
      await client.closeWrite()
      const code = await answerCode(client)
      await served
      return code
    }))
    expect(results.every(r => r === 'closed')).toBe(true)
    expect(pauses).toBeGreaterThan(0)
    expect(budget.stats()).toEqual({ bytes: 0, holders: 0, paused: 0, refused: 0 })
  })

  it('refuses a stream that stays paused past maxPausedMs with overloaded', async () => {
    vi.useFakeTimers()
    const budget = new InboundBudget(limits({ maxPausedMs: 1000 }))
    // the oldest holder takes the budget and then stops; the second is paused behind it
    const first = stalledCall(budget, 'p', 10_000, 1024, { idleTimeoutMs: 0 })
    await vi.advanceTimersByTimeAsync(0)
    const second = stalledCall(budget, 'p', 10_000, 1024, { idleTimeoutMs: 0 })
    const code = answerCode(second.client)
    await vi.advanceTimersByTimeAsync(1000)
    expect(await code).toBe('overloaded')
    await second.served
    expect(second.errors.map(e => (e as { code?: string }).code)).toEqual(['overloaded'])
    expect(budget.stats().refused).toBe(1)
    first.client.abort(new Error('done'))
    await first.served
    expect(budget.stats().bytes).toBe(0)
  })

  it('refuses one stream whose unfinished value exceeds maxInboundBufferedBytes with limit-exceeded', async () => {
    const [client, server] = createTransportPair()
    const errors: Error[] = []
    const served = serve(server, handlers, { limits: { maxInboundBufferedBytes: 4096 }, onError: err => { errors.push(err) } })
    await client.write(putHead(10_000))
    for (let i = 0; i < 5; i++) await client.write(new Uint8Array(1024))
    expect(await answerCode(client)).toBe('limit-exceeded')
    await served
    expect(errors.map(e => (e as { code?: string }).code)).toEqual(['limit-exceeded'])
  })
})

describe('the progress timeout', () => {
  it('closes a stream trickling a byte per interval into an unfinished value with too-slow, not one that delivers minProgressBytes', async () => {
    vi.useFakeTimers()
    const [raw, rawServer] = createTransportPair()
    const rawErrors: Error[] = []
    const rawServed = serve(rawServer, handlers, { limits: { idleTimeoutMs: 100, minProgressBytes: 64 }, onError: err => { rawErrors.push(err) } })
    const slowCode = answerCode(raw)
    // the value's pieces arrive 64 bytes per 90 ms
    await raw.write(putHead(640))
    for (let i = 0; i < 10; i++) {
      await vi.advanceTimersByTimeAsync(90)
      await raw.write(new Uint8Array(64))
    }
    await raw.closeWrite()
    expect(await slowCode).toBe('closed')
    await rawServed
    expect(rawErrors).toEqual([])

    const [client, server] = createTransportPair()
    const errors: Error[] = []
    const served = serve(server, handlers, { limits: { idleTimeoutMs: 100, minProgressBytes: 64 }, onError: err => { errors.push(err) } })
    const code = answerCode(client)
    await client.write(concat(putHead(1000), new Uint8Array(100)))
    // a byte well inside every interval: the idle timeout alone never fires
    for (let i = 0; i < 10 && errors.length === 0; i++) {
      await vi.advanceTimersByTimeAsync(40)
      try { await client.write(Uint8Array.of(1)) } catch { break }
    }
    expect(errors.map(e => (e as { code?: string }).code)).toEqual(['too-slow'])
    expect(await code).toBe('too-slow')
    await served
  })
})
