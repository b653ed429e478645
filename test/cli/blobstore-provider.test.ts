import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { killSpawned, listeningOn, spawnWasmesh, wasmesh } from './helpers.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

let scratch: ScratchDir
beforeAll(async () => { scratch = await scratchDir('cli-blobstore') })
afterEach(async () => { await killSpawned() })
afterAll(async () => { await scratch?.remove() })

describe('wasmesh provider builtin:blobstore', () => {
  it('serves containers under its root to `wasmesh call` from another process, and refuses a name with a path in it', async () => {
    const root = join(scratch.path, 'blobs')
    const p = spawnWasmesh(['provider', 'blobs=builtin:blobstore', '--provider-config', `blobs:root=${root}`,
      '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(scratch.path, 'p'), '--no-demo-host'])
    await p.out.waitFor(l => l.includes('wrpc:blobstore/blobstore@0.2.0'), p.exited)
    const addr = listeningOn(p.out.text)[0]
    const call = async (expr: string): Promise<string> => {
      const r = await wasmesh(['call', expr, '--bootstrap', addr, '--timeout', '20000'])
      expect(r.err).toBe('')
      return r.out
    }
    expect(await call('wrpc:blobstore/blobstore#create-container("photos")')).toBe('ok')
    expect(await call('wrpc:blobstore/blobstore#container-exists("photos")')).toBe('ok(true)')
    expect(await call('wrpc:blobstore/blobstore#create-container("../outside")')).toMatch(/^err\(".*path segment/)
    expect(await readdir(root)).toEqual(['photos'])
    p.child.kill('SIGTERM')
    expect(await p.exited).toBe(0)
  }, 90_000)
})
