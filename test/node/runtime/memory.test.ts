import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from '@bytecodealliance/jco-transpile/wasm-tools'
import { RuntimeError } from '../../../node/runtime/errors.ts'
import type { LoadedComponent } from '../../../node/runtime/index.ts'
import { capMemories } from '../../../node/runtime/memory-cap.ts'
import { buildArith } from './fixtures.ts'
import { failure, startRuntime, type TestRuntime } from './helpers.ts'

const CALC = 'local:test/calc@0.1.0'
const PAGE = 65536
const LIMIT = 32 * 1024 * 1024

interface Memory { readonly buffer: ArrayBuffer, grow (pages: number): number }
const WA = (globalThis as unknown as { WebAssembly: { instantiate: (b: Uint8Array) => Promise<{ instance: { exports: Record<string, unknown> } }> } }).WebAssembly

async function memoryOf (bytes: Uint8Array): Promise<Memory> {
  return (await WA.instantiate(bytes)).instance.exports.m as Memory
}

/** How many more pages `m` takes one at a time before `grow` refuses. */
function growAll (m: Memory): number {
  let n = 0
  for (;;) {
    try { m.grow(1) } catch { return n }
    n++
  }
}

describe('capping a core module\'s memories', () => {
  it('gives a memory with no maximum the limit, in whole pages, as its maximum', async () => {
    const capped = capMemories(await parse('(module (memory (export "m") 1))'), 4 * PAGE + 100)
    const m = await memoryOf(capped)
    expect(growAll(m)).toBe(3)
    expect(m.buffer.byteLength).toBe(4 * PAGE)
  })

  it('keeps a smaller maximum, and lowers a larger one', async () => {
    expect(growAll(await memoryOf(capMemories(await parse('(module (memory (export "m") 1 2))'), 8 * PAGE)))).toBe(1)
    expect(growAll(await memoryOf(capMemories(await parse('(module (memory (export "m") 1 100))'), 8 * PAGE)))).toBe(7)
  })

  it('leaves a module without memories as it is', async () => {
    const bytes = await parse('(module (func (export "f")))')
    expect(capMemories(bytes, PAGE)).toBe(bytes)
  })

  it('refuses a module whose memory starts above the limit', async () => {
    const err = (() => { try { capMemories(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0, 9]), 8 * PAGE) } catch (e) { return e } })()
    expect(err).toBeInstanceOf(RuntimeError)
    expect((err as RuntimeError).code).toBe('invalid-component')
    expect((err as RuntimeError).message).toMatch(/starts with 589824 bytes of memory, over maxInstanceMemoryBytes/)
  })

  it('fails bytes that do not decode with `invalid-component`', () => {
    const err = (() => { try { capMemories(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 9, 1]), PAGE) } catch (e) { return e } })()
    expect((err as RuntimeError).code).toBe('invalid-component')
  })
})

describe.each(['worker', 'inline'] as const)('a guest that allocates without bound (%s)', isolation => {
  let t: TestRuntime
  let c: LoadedComponent
  beforeAll(async () => {
    t = await startRuntime({ limits: { maxInstances: 1, maxInstanceMemoryBytes: LIMIT } })
    c = await t.runtime.load(await buildArith(), { name: 'arith', isolation })
  })
  afterAll(async () => { await t.close() })

  it('is refused memory past maxInstanceMemoryBytes while it runs: its call fails with `trap` at the limit, and the component keeps serving', async () => {
    const err = await failure(t.runtime.call(c.id, CALC, 'hog', []))
    expect(err.code).toBe('trap')
    // The guest's memory when it trapped: as far as the limit lets it grow, and no further.
    const at = /linear memory (\d+) bytes of maxInstanceMemoryBytes/.exec(err.message)
    expect(at).not.toBeNull()
    expect(Number(at?.[1])).toBe(LIMIT)
    expect(await t.runtime.call(c.id, '', 'double', [21n])).toEqual([42n])
  })
})

describe('a component whose memory starts above maxInstanceMemoryBytes', () => {
  it('does not load: `invalid-component`, naming the limit', async () => {
    const t = await startRuntime({ limits: { maxInstanceMemoryBytes: PAGE / 2 } })
    try {
      const err = await failure(t.runtime.load(await buildArith()))
      expect(err.code).toBe('invalid-component')
      expect(err.message).toMatch(/over maxInstanceMemoryBytes/)
    } finally {
      await t.close()
    }
  })
})
