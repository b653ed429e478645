import { describe, expect, it } from 'vitest'
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildArith } from './fixtures.ts'
import { startRuntime, tempDir } from './helpers.ts'
import { patchGeneratedJs } from '../../../node/runtime/transpile-cache.ts'

async function entryDir (cacheDir: string): Promise<string> {
  // beside the entries: the cache's package.json, which tells Node the transpiled .js is ES modules
  const names = (await readdir(cacheDir)).filter(n => !n.startsWith('.') && n !== 'package.json')
  expect(names).toHaveLength(1)
  return join(cacheDir, names[0])
}

describe('the transpile cache', () => {
  it('transpiles two concurrent loads of one component once', async () => {
    const t = await startRuntime()
    try {
      const bytes = await buildArith()
      const [a, b] = await Promise.all([t.runtime.load(bytes), t.runtime.load(bytes.slice())])
      expect(a.id).toBe(b.id)
      expect(t.runtime.transpiles).toBe(1)
      expect(t.runtime.components()).toHaveLength(1)
    } finally {
      await t.close()
    }
  })

  it('lets runtimes that share a cache directory transpile one component at the same time, each loading it', async () => {
    // nodes of one process (and processes of one machine) share the cache; their entries race into place
    const dir = await tempDir()
    const runtimes: Array<Awaited<ReturnType<typeof startRuntime>>> = []
    try {
      const bytes = await buildArith()
      for (let i = 0; i < 6; i++) runtimes.push(await startRuntime({}, dir.path))
      const loaded = await Promise.all(runtimes.map(async t => await t.runtime.load(bytes.slice())))
      for (const [i, c] of loaded.entries()) expect(await runtimes[i].runtime.call(c.id, '', 'double', [BigInt(i)])).toEqual([BigInt(2 * i)])
      await entryDir(dir.path)
    } finally {
      for (const t of runtimes) await t.close()
      await dir.remove()
    }
  })

  it('serves a second runtime from disk without transpiling', async () => {
    const dir = await tempDir()
    try {
      const bytes = await buildArith()
      const first = await startRuntime({}, dir.path)
      try {
        expect((await first.runtime.load(bytes)).transpiled).toBe('fresh')
      } finally { await first.close() }
      const second = await startRuntime({}, dir.path)
      try {
        const c = await second.runtime.load(bytes)
        expect(c.transpiled).toBe('cached')
        expect(second.runtime.transpiles).toBe(0)
        expect(await second.runtime.call(c.id, '', 'double', [4n])).toEqual([8n])
      } finally { await second.close() }
    } finally {
      await dir.remove()
    }
  })

  it('detects a corrupt entry and rebuilds it instead of using it', async () => {
    const dir = await tempDir()
    try {
      const bytes = await buildArith()
      const first = await startRuntime({}, dir.path)
      try { await first.runtime.load(bytes) } finally { await first.close() }
      const entry = await entryDir(dir.path)
      const js = join(entry, 'component.js')
      await writeFile(js, 'throw new Error("CORRUPTED-BY-TEST")\n' + await readFile(js, 'utf8'))

      const second = await startRuntime({}, dir.path)
      try {
        const c = await second.runtime.load(bytes)
        expect(c.transpiled).toBe('fresh')
        expect(second.runtime.transpiles).toBe(1)
        expect(await second.runtime.call(c.id, '', 'double', [5n])).toEqual([10n])
      } finally { await second.close() }
      expect(await readFile(js, 'utf8')).not.toContain('CORRUPTED-BY-TEST')
    } finally {
      await dir.remove()
    }
  })

  it('rebuilds a partial entry (no manifest, a missing file)', async () => {
    const dir = await tempDir()
    try {
      const bytes = await buildArith()
      const first = await startRuntime({}, dir.path)
      try { await first.runtime.load(bytes) } finally { await first.close() }
      const entry = await entryDir(dir.path)
      const wasm = (await readdir(entry)).find(n => n.endsWith('.wasm'))
      await rm(join(entry, wasm ?? 'none'))
      const second = await startRuntime({}, dir.path)
      try {
        expect((await second.runtime.load(bytes)).transpiled).toBe('fresh')
      } finally { await second.close() }
      await rm(join(entry, 'manifest.json'))
      const third = await startRuntime({}, dir.path)
      try {
        const c = await third.runtime.load(bytes)
        expect(c.transpiled).toBe('fresh')
        expect(await third.runtime.call(c.id, '', 'double', [1n])).toEqual([2n])
      } finally { await third.close() }
    } finally {
      await dir.remove()
    }
  })
})

describe('the generated JS', () => {
  const perCall = 'if (!globalThis?.process?.env?.JCO_DEBUG) { return; }'

  it('reads JCO_DEBUG once per module, not on every debug-log call', async () => {
    const dir = await tempDir()
    try {
      const t = await startRuntime({}, dir.path)
      try {
        const c = await t.runtime.load(await buildArith())
        expect(await t.runtime.call(c.id, '', 'double', [21n])).toEqual([42n])
      } finally { await t.close() }
      const js = await readFile(join(await entryDir(dir.path), 'component.js'), 'utf8')
      expect(js).not.toContain(perCall)
      expect(js.startsWith('const __wasmeshJcoDebug = Boolean(globalThis?.process?.env?.JCO_DEBUG);\n')).toBe(true)
      expect(js).toContain('if (!__wasmeshJcoDebug) { return; }')
    } finally {
      await dir.remove()
    }
  })

  it('is left as it is when it has no such check', () => {
    expect(patchGeneratedJs('export const x = 1\n')).toBe('export const x = 1\n')
    expect(patchGeneratedJs(`a(); ${perCall} b(); ${perCall}`)).toBe(
      'const __wasmeshJcoDebug = Boolean(globalThis?.process?.env?.JCO_DEBUG);\na(); if (!__wasmeshJcoDebug) { return; } b(); if (!__wasmeshJcoDebug) { return; }')
  })
})
