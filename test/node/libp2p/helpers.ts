// Shared setup of the libp2p-layer tests: nodes that are always stopped, a polling wait with a deadline, and a small served interface.

import { generateKeyPair } from '@libp2p/crypto/keys'
import { createMeshLibp2p } from '../../../node/libp2p.ts'
import type { MeshLibp2p, MeshLibp2pInit } from '../../../node/libp2p.ts'
import type { Handlers, ServedFunction } from '../../../protocol/session.ts'
import type { StreamType, Type } from '../../../protocol/wit/model.ts'
import { eventually } from '../../support/eventually.ts'

export type TransportKind = 'tcp' | 'memory'

/** Starts libp2p nodes and stops every one of them in `stopAll` (call it in afterEach). */
export class Nodes {
  readonly #started: MeshLibp2p[] = []

  async start (kind: TransportKind, init: Partial<MeshLibp2pInit> = {}): Promise<MeshLibp2p> {
    const node = await this.create(kind, init)
    await node.start()
    return node
  }

  async create (kind: TransportKind, init: Partial<MeshLibp2pInit> = {}): Promise<MeshLibp2p> {
    const node = await createMeshLibp2p({
      privateKey: init.privateKey ?? await generateKeyPair('Ed25519'),
      transport: kind,
      listen: kind === 'tcp' ? ['/ip4/127.0.0.1/tcp/0'] : undefined,
      ...init
    })
    this.#started.push(node)
    return node
  }

  async stopAll (): Promise<void> {
    const nodes = this.#started.splice(0)
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
}

/** `eventually` (test/support/eventually.ts) for a boolean check, with the libp2p tests' longer default deadline. */
export async function waitFor (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000, intervalMs = 20): Promise<void> {
  await eventually(what, check, { timeoutMs, intervalMs })
}

export const INSTANCE = 'wasmesh:test/demo@0.1.0'
export const str: Type = { kind: 'string' }
export const u32: Type = { kind: 'u32' }
export const bytes: Type = { kind: 'list', element: { kind: 'u8' } }
export const u32Stream: StreamType = { kind: 'stream', element: u32 }

/** A hand-built interface: to-upper, echo (list<u8>), count (a pending stream<u32>), hang (until aborted). */
export function demoHandlers (log: { calls: number, hangs?: number } = { calls: 0 }): Handlers {
  const fns: Record<string, ServedFunction> = {
    'to-upper': { params: [str], results: [str], call: ([s]) => { log.calls++; return [String(s).toUpperCase()] } },
    echo: { params: [bytes], results: [bytes], call: ([b]) => { log.calls++; return [b] } },
    count: {
      params: [u32],
      results: [u32Stream],
      call: ([n]) => {
        log.calls++
        async function * chunks (): AsyncGenerator<number[]> {
          for (let i = 0; i < (n as number); i += 3) {
            await Promise.resolve()
            yield Array.from({ length: Math.min(3, (n as number) - i) }, (_, k) => i + k)
          }
        }
        return [chunks()]
      }
    },
    hang: {
      params: [],
      results: [str],
      call: async (_params, ctx) => {
        log.calls++
        log.hangs = (log.hangs ?? 0) + 1
        await new Promise((resolve) => { ctx.signal.addEventListener('abort', resolve, { once: true }) })
        return ['never']
      }
    }
  }
  return { lookup: (instance, name) => instance === INSTANCE ? fns[name] : undefined }
}

export async function collect<T> (iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of iterable) out.push(x)
  return out
}
