// `wasmesh app` before it joins any mesh: usage mistakes, and manifests refused on the deployer's side with their codes.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { wasmesh } from './helpers.ts'

// a bootstrap address nothing listens on: every case here must fail before dialling it
const nowhere = '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWHbCJ9N3GqL9drAc9tqTr9bhRVxAqVWU5BFBDB5NELoGb'

describe('wasmesh app', () => {
  let dir: ScratchDir
  beforeAll(async () => { dir = await scratchDir('app-cli') })
  afterAll(async () => { await dir?.remove() })

  it('says what it needs', async () => {
    const none = await wasmesh(['app'])
    expect(none.code).toBe(2)
    expect(none.err).toContain('deploy, undeploy, list, status, history')
    expect((await wasmesh(['app', 'status', '--bootstrap', nowhere])).err).toContain('needs an app name')
    expect((await wasmesh(['app', 'list', 'extra', '--bootstrap', nowhere])).code).toBe(2)
  })

  it('refuses a missing, garbage, huge or unsupported manifest by its code, before joining the mesh', async () => {
    const missing = await wasmesh(['app', 'deploy', join(dir.path, 'nope.yaml'), '--bootstrap', nowhere])
    expect(missing.err).toContain('file-not-found')
    await writeFile(join(dir.path, 'garbage.yaml'), '\u0000{{{:::')
    const garbage = await wasmesh(['app', 'deploy', join(dir.path, 'garbage.yaml'), '--bootstrap', nowhere])
    expect(garbage.code).toBe(1)
    expect(garbage.err).toContain('invalid-manifest')
    await writeFile(join(dir.path, 'huge.yaml'), 'a'.repeat(300 * 1024))
    expect((await wasmesh(['app', 'deploy', join(dir.path, 'huge.yaml'), '--bootstrap', nowhere])).err).toContain('manifest-too-large')
    await writeFile(join(dir.path, 'autoscale.yaml'), `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: { name: x }
spec:
  components:
    - name: c
      type: component
      properties: { image: file://./c.wasm }
      traits: [{ type: autoscaler, properties: {} }]
`)
    const unsupported = await wasmesh(['app', 'deploy', join(dir.path, 'autoscale.yaml'), '--bootstrap', nowhere])
    expect(unsupported.err).toMatch(/unsupported.*autoscaler/)
  })
})
