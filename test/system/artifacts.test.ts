// Components from a registry with real processes: `wasmesh push` to docker-registry, then three `wasmesh node`s load the reference and the registry serves the blob once.

import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { sha256Hex } from '../../node/artifacts/index.ts'
import { buildArith } from '../node/runtime/fixtures.ts'
import { countingProxy, describeRegistry, startRegistry } from '../support/oci-registry.ts'
import type { CountingProxy, TestRegistry } from '../support/oci-registry.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { Processes } from './processes.ts'

describeRegistry('wasmesh push, then nodes load the reference from each other (processes)', () => {
  const processes = new Processes()
  let registry: TestRegistry
  let proxy: CountingProxy
  let scratch: ScratchDir
  beforeAll(async () => {
    registry = await startRegistry()
    proxy = await countingProxy(registry.host)
    scratch = await scratchDir('artifacts-system')
  }, 30_000)
  afterAll(async () => {
    await processes.killAll()
    await proxy?.stop()
    await registry?.stop()
    await scratch?.remove()
  })

  it('the first node pulls from the registry, the two joining it take the bytes from the mesh', async () => {
    const bytes = await buildArith()
    const digest = sha256Hex(bytes)
    const file = join(scratch.path, 'arith.wasm')
    await writeFile(file, bytes)
    const pushed = await processes.cli(['push', file, `${registry.host}/demo/arith:1.0`], { timeoutMs: 60_000 })
    expect(pushed.code, pushed.stderr).toBe(0)
    expect(pushed.stdout).toContain(`component sha256:${digest}`)

    const ref = `${proxy.host}/demo/arith:1.0`
    const common = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-demo-host', '--component', ref]
    const a = await processes.node('a', [...common, '--data-dir', join(scratch.path, 'a')])
    expect(a.output()).toContain('local:test/calc@0.1.0')
    const b = await processes.node('b', [...common, '--data-dir', join(scratch.path, 'b'), '--bootstrap', a.addresses[0]])
    const c = await processes.node('c', [...common, '--data-dir', join(scratch.path, 'c'), '--bootstrap', b.addresses[0]])
    for (const n of [b, c]) {
      expect(n.output()).toContain('local:test/calc@0.1.0')
      expect(new Uint8Array(await readFile(join(scratch.path, n.name, 'artifacts', 'sha256', digest)))).toEqual(bytes)
    }
    // three manifests (a tag is always asked), one blob
    expect(proxy.requests.filter(r => r.startsWith('GET') && r.includes('/manifests/')).length).toBe(3)
    expect(proxy.blobGets(digest)).toBe(1)
  })
})
