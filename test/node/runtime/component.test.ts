import { describe, expect, it } from 'vitest'
import { componentEmbed, parse } from '@bytecodealliance/jco-transpile/wasm-tools'
import { inspectComponent, readComponentSource } from '../../../node/runtime/component.ts'
import { RuntimeError } from '../../../node/runtime/errors.ts'
import { buildArith, fixtureWit } from './fixtures.ts'
import { tempDir } from './helpers.ts'
import { parseWit } from '../../../protocol/wit/index.ts'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createHash } from 'node:crypto'

const max = 64 * 1024 * 1024

async function rejection (p: Promise<unknown>): Promise<RuntimeError> {
  const err = await p.then(() => null, (e: unknown) => e)
  expect(err).toBeInstanceOf(RuntimeError)
  return err as RuntimeError
}

describe('inspecting a component', () => {
  it('is identified by the sha256 of its bytes and lists its imports and exports with signatures', async () => {
    const bytes = await buildArith()
    const info = await inspectComponent(bytes, { maxComponentBytes: max })
    expect(info.digest).toBe(createHash('sha256').update(bytes).digest('hex'))
    expect(info.size).toBe(bytes.byteLength)
    expect(info.wit).toContain('export local:test/calc@0.1.0')
    expect(info.exports.interfaces.map(i => i.id)).toEqual(['local:test/calc@0.1.0'])
    expect(info.exports.functions.map(f => f.name)).toEqual(['double'])
    expect(info.exports.functions[0].params[0].type).toEqual({ kind: 'u64' })
    const calc = info.exports.interfaces[0]
    expect([...calc.functions.keys()]).toContain('[method]acc.add')
    expect(calc.functions.get('div')?.results[0]).toMatchObject({ kind: 'result', ok: { kind: 's32' }, err: { kind: 'u32' } })
    expect(info.imports.interfaces.map(i => i.id)).toEqual(['local:test/math@0.1.0'])
    expect(info.imports.wasi).toEqual([])
  })

  it('rejects a core module', async () => {
    const core = await parse('(module)')
    const err = await rejection(inspectComponent(core, { maxComponentBytes: max }))
    expect(err.code).toBe('not-a-component')
    expect(err.message).toMatch(/core WebAssembly module/)
  })

  it('rejects garbage and empty input', async () => {
    expect((await rejection(inspectComponent(new TextEncoder().encode('hello, I am not wasm'), { maxComponentBytes: max }))).code).toBe('not-a-component')
    expect((await rejection(inspectComponent(new Uint8Array(0), { maxComponentBytes: max }))).code).toBe('not-a-component')
  })

  it('rejects a truncated component', async () => {
    const bytes = await buildArith()
    const err = await rejection(inspectComponent(bytes.subarray(0, Math.floor(bytes.byteLength / 2)), { maxComponentBytes: max }))
    expect(err.code).toBe('invalid-component')
  })

  it('rejects a component over maxComponentBytes, from bytes and from a file without reading it', async () => {
    const bytes = await buildArith()
    expect((await rejection(inspectComponent(bytes, { maxComponentBytes: 100 }))).code).toBe('component-too-large')
    const dir = await tempDir()
    try {
      const path = join(dir.path, 'arith.wasm')
      await writeFile(path, bytes)
      expect((await rejection(readComponentSource(path, 100))).code).toBe('component-too-large')
      expect(await readComponentSource(path, max)).toEqual(bytes)
    } finally {
      await dir.remove()
    }
  })

  it('needs no WIT sources: the binary describes every package it uses, printed as complete WIT', async () => {
    const info = await inspectComponent(await buildArith(), { maxComponentBytes: max })
    expect(info.wit).toContain('package local:test@0.1.0 {')
    expect(info.wit).toContain('resource acc {')
    expect(parseWit({ 'component.wit': info.wit }).findFunction('local:test/calc', '[method]acc.add')?.params.map(p => p.name)).toEqual(['self', 'n'])
  })

  it('rejects a core module with WIT embedded but not made a component', async () => {
    const embedded = await componentEmbed({ dummy: true, witSource: fixtureWit, world: 'arith' })
    expect((await rejection(inspectComponent(embedded, { maxComponentBytes: max }))).code).toBe('not-a-component')
  })
})
