// NodeInit.trust: a node loads only components signed by a trusted key, whether given at start, loaded later, as a file or as bytes with their signature.

import { createPublicKey } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { createNode } from '../../../node/index.ts'
import { createLogger } from '../../../node/logger.ts'
import { createMetrics } from '../../../node/metrics.ts'
import { UntrustedComponentError, generateSigningKey, signComponent } from '../../../node/security/index.ts'
import { createMesh } from '../../support/mesh.ts'
import { scratchDir } from '../../support/scratch.ts'
import type { Mesh } from '../../support/mesh.ts'

const arithFile = fileURLToPath(new URL('../../../examples/build/arith.wasm', import.meta.url))
const helloFile = fileURLToPath(new URL('../../../examples/build/hello.wasm', import.meta.url))
const admin = generateSigningKey()
const other = generateSigningKey()
const trust = { keys: [createPublicKey(admin)] }

let mesh: Mesh | undefined
afterEach(async () => { await mesh?.stop(); mesh = undefined })

async function refused (p: Promise<unknown>): Promise<UntrustedComponentError> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(UntrustedComponentError)
  return err as UntrustedComponentError
}

describe('a node with trust', () => {
  it('load and serve bytes that come with a trusted signature, and refuse bytes without one, another key\'s, or an oversized one', async () => {
    const warnings: string[] = []
    const logger = createLogger({ level: 'warn', format: 'text', write: line => { warnings.push(line) } })
    mesh = await createMesh()
    const node = await mesh.add({ trust, logger })
    const bytes = new Uint8Array(await readFile(arithFile))
    const loaded = await node.load({ source: bytes, name: 'arith', signature: await signComponent(bytes, admin) })
    expect(loaded.name).toBe('arith')
    expect(await node.call('wasmesh:examples/arith', 'add', [2, 3])).toEqual([5])

    const hello = new Uint8Array(await readFile(helloFile))
    expect((await refused(node.load({ source: hello, name: 'hello' }))).reason).toBe('unsigned')
    expect((await refused(node.load({ source: hello, signature: await signComponent(hello, other) }))).reason).toBe('untrusted-key')
    // arith's signature does not make hello trusted
    expect((await refused(node.load({ source: hello, signature: await signComponent(bytes, admin) }))).reason).toBe('digest-mismatch')
    expect(node.components().map(c => c.name)).toEqual(['arith'])
    expect(await node.call('wasmesh:examples/arith', 'add', [1, 1])).toEqual([2])
    expect(warnings.filter(w => /refused component hello: .*untrusted-component, unsigned/.test(w))).toHaveLength(1)
    expect(warnings.some(w => /untrusted-component, untrusted-key/.test(w))).toBe(true)
    expect(node.stats().componentsRefused).toEqual({ unsigned: 1, 'untrusted-key': 1, 'digest-mismatch': 1 })
    const scrape = createMetrics().render(node)
    expect(scrape).toContain('wasmesh_components_refused_total{reason="unsigned"} 1')
    expect(scrape).toContain('wasmesh_components_refused_total{reason="digest-mismatch"} 1')

    const small = await mesh.add({ trust, logger, limits: { maxComponentSignatureBytes: 100 } })
    expect((await refused(small.load({ source: bytes, signature: await signComponent(bytes, admin) }))).reason).toBe('too-large')
  })

  it('start with none of its components when one is not trusted: nothing loaded, nothing listening', async () => {
    mesh = await createMesh()
    const bytes = new Uint8Array(await readFile(arithFile))
    const hello = new Uint8Array(await readFile(helloFile))
    const node = await createNode({
      transport: 'memory',
      listen: ['/memory/trust-start'],
      cacheDir: mesh.cacheDir,
      logger: createLogger({ level: 'silent' }),
      trust,
      components: [{ source: bytes, signature: await signComponent(bytes, admin) }, { source: hello, name: 'hello' }]
    })
    try {
      const err = await refused(node.start())
      expect([err.reason, err.message]).toEqual(['unsigned', expect.stringMatching(/^component hello: no signature came with/)])
      expect(node.components()).toEqual([])
      expect(node.addresses()).toEqual([])
    } finally {
      await node.stop()
    }
  })

  it('read a file\'s signature beside it, and refuse a directory or a FIFO in its place without waiting on it', async () => {
    const dir = await scratchDir('trust-files')
    try {
      mesh = await createMesh()
      const node = await mesh.add({ trust })
      const file = join(dir.path, 'arith.wasm')
      await copyFile(arithFile, file)
      await writeFile(`${file}.sig`, await signComponent(await readFile(file), admin))
      expect((await node.load({ source: file })).name).toBe('arith')
      const inDir = join(dir.path, 'dir.wasm')
      await copyFile(helloFile, inDir)
      await mkdir(`${inDir}.sig`)
      expect((await refused(node.load({ source: inDir }))).reason).toBe('malformed')
      const fifo = join(dir.path, 'fifo.wasm')
      await copyFile(helloFile, fifo)
      execFileSync('mkfifo', [`${fifo}.sig`])
      const err = await refused(node.load({ source: fifo }))
      expect([err.reason, err.message]).toEqual(['malformed', expect.stringMatching(/is not a regular file/)])
    } finally {
      await dir.remove()
    }
  })

  it('refuse trust with no keys, since no component could load', async () => {
    await expect(createNode({ transport: 'memory', trust: { keys: [] }, logger: createLogger({ level: 'silent' }) })).rejects.toMatchObject({ code: 'invalid-config' })
  })

  it('load unsigned components as before without trust', async () => {
    mesh = await createMesh()
    const node = await mesh.add()
    await node.load({ source: arithFile })
    expect(await node.call('wasmesh:examples/arith', 'add', [2, 2])).toEqual([4])
  })
})
