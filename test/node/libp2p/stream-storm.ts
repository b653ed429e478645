// A client that opens and resets `/wrpc/0.0.1` streams to one peer in every state and order (before, during and after negotiation; with and without data; reset, close or abort; in one chunk or split), for tests that the peer survives it.

import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { encodeOpening } from '../../../protocol/frame.ts'
import { encodeValues } from '../../../protocol/value.ts'
import { WRPC_PROTOCOL } from '../../../node/libp2p.ts'
import { FIN, SYN, data, join, mss, open, proposal, reset } from './yamux-frames.ts'

/** A whole call of `local:demo/host#log` (what `wasmesh node` serves by default): header and parameters. */
export const logCall = encodeOpening({ instance: 'local:demo/host', name: 'log' }, encodeValues([{ kind: 'string' }], ['storm']))

const turn = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

/** Resolves with the first bytes the stream receives, or when it ends. */
async function firstAnswer (stream: Stream): Promise<void> {
  await new Promise<void>(resolve => {
    stream.addEventListener('message', () => { resolve() }, { once: true })
    stream.addEventListener('close', () => { resolve() }, { once: true })
  })
}

function openConnection (client: Libp2p, peer: PeerId): Connection {
  const connection = client.getConnections(peer).find(c => c.status === 'open')
  if (connection === undefined) throw new Error(`the storm needs an open connection to ${peer.toString()}`)
  return connection
}

/**
 * Raw yamux frames on the client's connection, written as one muxer send (so they arrive in one
 * chunk) on stream ids the client's own muxer never reaches; its muxer ignores what comes back.
 */
function rawFrames (connection: Connection): { id: () => number, send: (...frames: Uint8Array[]) => void } {
  const muxer = (connection as unknown as { muxer?: { send?: (bytes: Uint8Array) => boolean } }).muxer
  if (typeof muxer?.send !== 'function') throw new Error('the connection has no yamux muxer to write raw frames on')
  // yamux: the dialer of the connection opens odd stream ids, the listener even ones
  let next = connection.direction === 'outbound' ? 1_000_001 : 1_000_002
  return {
    id: () => { const id = next; next += 2; return id },
    send: (...frames) => { muxer.send!(join(...frames)) }
  }
}

export interface StormCase {
  readonly name: string
  run (): Promise<void>
}

/** Every case, in order; each catches what the client side sees fail (that is the point), never what the peer does. */
export function stormCases (client: Libp2p, peer: PeerId, call: Uint8Array = logCall): StormCase[] {
  const connection = (): Connection => openConnection(client, peer)
  const raw = (): ReturnType<typeof rawFrames> => rawFrames(connection())
  const wrpc = proposal(WRPC_PROTOCOL)
  const newStream = async (signal?: AbortSignal): Promise<Stream> => await connection().newStream(WRPC_PROTOCOL, { signal })
  const abort = (s: Stream): void => { s.abort(new Error('storm')) }
  const cases: StormCase[] = [
    // raw frames in one chunk
    ...([
      ['opening alone, reset', id => [open(id), reset(id)]],
      ['half a header, reset', id => [data(SYN, id, wrpc.subarray(0, 7)), reset(id)]],
      ['proposal, reset', id => [data(SYN, id, wrpc), reset(id)]],
      ['proposal and call, reset', id => [data(SYN, id, join(wrpc, call)), reset(id)]],
      ['proposal, call and FIN, reset', id => [data(SYN, id, join(wrpc, call)), data(FIN, id, new Uint8Array(0)), reset(id)]],
      ['proposal with FIN, reset', id => [data(SYN | FIN, id, wrpc), reset(id)]],
      ['proposal, reset, more data after the reset', id => [data(SYN, id, wrpc), reset(id), data(0, id, call)]],
      ['another protocol, reset', id => [data(SYN, id, join(mss('/multistream/1.0.0'), mss('/not/spoken/1.0.0'))), reset(id)]],
      ['ls, reset', id => [data(SYN, id, join(mss('/multistream/1.0.0'), mss('ls'))), reset(id)]],
      ['a reset of a stream never opened', id => [reset(id)]],
      ['a whole call with FIN, no reset', id => [data(SYN, id, join(wrpc, call)), data(FIN, id, new Uint8Array(0))]],
      ['two resets of one stream', id => [data(SYN, id, wrpc), reset(id), reset(id)]]
    ] satisfies Array<[string, (id: number) => Uint8Array[]]>).map(([name, frames]): StormCase => ({
      name: `raw, one chunk: ${name}`,
      run: async () => { const r = raw(); r.send(...frames(r.id())) }
    })),
    // raw frames split over chunks
    {
      name: 'raw, split: proposal | reset',
      run: async () => { const r = raw(); const id = r.id(); r.send(data(SYN, id, wrpc)); await turn(); r.send(reset(id)) }
    },
    {
      name: 'raw, split: proposal and call | reset',
      run: async () => { const r = raw(); const id = r.id(); r.send(data(SYN, id, join(wrpc, call))); await turn(); r.send(reset(id)) }
    },
    {
      name: 'raw, split: opening | proposal | reset',
      run: async () => { const r = raw(); const id = r.id(); r.send(open(id)); await turn(); r.send(data(0, id, wrpc)); await turn(); r.send(reset(id)) }
    },
    {
      name: 'raw, split: half a proposal | the rest and a reset',
      run: async () => { const r = raw(); const id = r.id(); r.send(data(SYN, id, wrpc.subarray(0, 10))); await turn(); r.send(data(0, id, wrpc.subarray(10)), reset(id)) }
    },
    // through the client's libp2p: on the fast path frames of one turn leave as one chunk
    { name: 'stream: opened, aborted in the same turn', run: async () => { abort(await newStream()) } },
    { name: 'stream: call sent, aborted in the same turn', run: async () => { const s = await newStream(); s.send(call); abort(s) } },
    { name: 'stream: call sent and closed, aborted in the same turn', run: async () => { const s = await newStream(); s.send(call); void s.close().catch(() => {}); abort(s) } },
    { name: 'stream: closed with no data', run: async () => { const s = await newStream(); await s.close().catch(() => {}); await firstAnswer(s); abort(s) } },
    { name: 'stream: opened, aborted a turn later', run: async () => { const s = await newStream(); await turn(); abort(s) } },
    { name: 'stream: call sent, aborted a turn later', run: async () => { const s = await newStream(); s.send(call); await turn(); abort(s) } },
    { name: 'stream: call sent, aborted at the first answer', run: async () => { const s = await newStream(); s.send(call); await firstAnswer(s); abort(s) } },
    { name: 'stream: call sent and closed, aborted at the first answer', run: async () => { const s = await newStream(); s.send(call); await s.close().catch(() => {}); await firstAnswer(s); abort(s) } },
    {
      name: 'stream: negotiation aborted by the caller\'s signal',
      run: async () => {
        const controller = new AbortController()
        const opened = newStream(controller.signal)
        setImmediate(() => { controller.abort(new Error('storm')) })
        try { abort(await opened) } catch {}
      }
    },
    {
      name: 'stream: unnegotiated muxer stream aborted at once',
      run: async () => {
        const muxer = (connection() as unknown as { muxer: { createStream: () => Promise<Stream> } }).muxer
        abort(await muxer.createStream())
      }
    },
    {
      name: 'stream: fifty opened and aborted in one turn',
      run: async () => { const all = await Promise.all(Array.from({ length: 50 }, async () => await newStream())); all.forEach(abort) }
    },
    {
      name: 'stream: fifty calls sent and aborted in one turn',
      run: async () => { const all = await Promise.all(Array.from({ length: 50 }, async () => await newStream())); for (const s of all) s.send(call); all.forEach(abort) }
    }
  ]
  return cases
}

/** Runs every case one after the other; what the client sees fail is expected and ignored. */
export async function streamStorm (client: Libp2p, peer: PeerId, call: Uint8Array = logCall): Promise<void> {
  for (const c of stormCases(client, peer, call)) {
    try {
      await c.run()
    } catch {}
    await turn()
  }
}
