// wasmesh push and pull against a real registry (docker-registry), and --component references as a user types them.

import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256Hex } from '../../node/artifacts/index.ts'
import { createNode } from '../../node/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { parseComponentArg } from '../../cli/config.ts'
import { buildArith } from '../node/runtime/fixtures.ts'
import { describeRegistry, startRegistry } from '../support/oci-registry.ts'
import type { TestRegistry } from '../support/oci-registry.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { wasmesh } from './helpers.ts'

const hex = 'cd'.repeat(32)

describe('--component references', () => {
  it('takes OCI references and digests as they are, and names them', () => {
    expect(parseComponentArg('localhost:5000/org/app:1.2', '/w')).toEqual({ name: 'app', file: 'localhost:5000/org/app:1.2', remote: true })
    expect(parseComponentArg(`api=ghcr.io/org/app@sha256:${hex}`, '/w')).toEqual({ name: 'api', file: `ghcr.io/org/app@sha256:${hex}`, remote: true })
    expect(parseComponentArg(`x=sha256:${hex}`, '/w')).toEqual({ name: 'x', file: `sha256:${hex}`, remote: true })
    expect(parseComponentArg('build/upper.wasm', '/w')).toEqual({ name: 'upper', file: '/w/build/upper.wasm' })
    expect(parseComponentArg('file:///srv/app.wasm', '/w')).toEqual({ name: 'app', file: '/srv/app.wasm' })
  })

  it('refuses garbage references and a digest without a name, as usage mistakes', async () => {
    expect(() => parseComponentArg(`sha256:${hex}`, '/w')).toThrow(/says no name/)
    const run = await wasmesh(['node', '--component', 'oci://ghcr.io/Bad/Name:1'])
    expect(run.code).toBe(2)
    expect(run.err).toMatch(/--component: .*not a repository path component/)
    const insecure = await wasmesh(['node', '--oci-insecure', 'not a host'])
    expect(insecure.code).toBe(2)
  })
})

describeRegistry('wasmesh push and pull (docker-registry)', () => {
  let registry: TestRegistry
  let scratch: ScratchDir
  beforeAll(async () => { registry = await startRegistry(); scratch = await scratchDir('push-pull') }, 30_000)
  afterAll(async () => { await registry?.stop(); await scratch?.remove() })

  it('pushes a file, pulls it into a data directory, and a node started there loads it from the cache', async () => {
    const bytes = await buildArith()
    const file = join(scratch.path, 'arith.wasm')
    await writeFile(file, bytes)
    const push = await wasmesh(['push', file, `${registry.host}/demo/arith:0.1.0`, '--json'])
    expect(push.err).toBe('')
    expect(push.code).toBe(0)
    const pushed = JSON.parse(push.out) as { digest: string, manifest: string }
    expect(pushed.digest).toBe(`sha256:${sha256Hex(bytes)}`)

    const dataDir = join(scratch.path, 'data')
    const pull = await wasmesh(['pull', `${registry.host}/demo/arith:0.1.0`, '--data-dir', dataDir, '--json'])
    expect(pull.code).toBe(0)
    expect(JSON.parse(pull.out)).toMatchObject({ digest: pushed.digest, size: bytes.byteLength, cached: false })
    expect(new Uint8Array(await readFile(join(dataDir, 'artifacts', 'sha256', sha256Hex(bytes))))).toEqual(bytes)
    const again = await wasmesh(['pull', `${registry.host}/demo/arith@${pushed.manifest}`, '--data-dir', dataDir, '--json'])
    expect(JSON.parse(again.out)).toMatchObject({ cached: true })

    // no registry needed now: the digest is in the node's cache
    const node = await createNode({ transport: 'memory', dataDir, logger: silentLogger, cacheDir: join(scratch.path, 'transpiled'), components: [{ source: pushed.digest, name: 'arith' }] })
    try {
      await node.start()
      expect(node.components().map(c => c.digest)).toEqual([sha256Hex(bytes)])
      expect(node.stats().artifacts.fetched).toEqual({ cache: 1 })
    } finally {
      await node.stop()
    }
  })

  it('says what is wrong: an unknown tag, a path where a reference belongs', async () => {
    const missing = await wasmesh(['pull', `${registry.host}/demo/none:1`, '--data-dir', join(scratch.path, 'd2')])
    expect(missing.code).toBe(1)
    expect(missing.err).toMatch(/error \[artifact-not-found\]/)
    const notRef = await wasmesh(['push', 'a.wasm', 'just/a/path'])
    expect(notRef.code).toBe(2)
  })
})
