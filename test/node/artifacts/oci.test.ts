import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest'
import { createOciClient, parseOciRef, sha256Hex, WASM_CONFIG, WASM_LAYER } from '../../../node/artifacts/index.ts'
import { buildArith } from '../runtime/fixtures.ts'
import { countingProxy, describeRegistry, startRegistry } from '../../support/oci-registry.ts'
import type { TestRegistry } from '../../support/oci-registry.ts'

describeRegistry('pulling from and pushing to a real OCI registry (docker-registry)', () => {
  let registry: TestRegistry
  beforeAll(async () => { registry = await startRegistry() }, 30_000)
  afterAll(async () => { await registry?.stop() })

  it('pushes a component in the wasm artifact layout and pulls it back by tag and by manifest digest', async () => {
    const bytes = await buildArith()
    const client = createOciClient({ maxComponentBytes: 64 << 20 })
    const ref = parseOciRef(`${registry.host}/test/arith:0.1.0`)
    const pushed = await client.push(ref, bytes, { component: { exports: ['local:test/calc@0.1.0'], imports: [] } })
    expect(pushed.layerDigest).toBe(sha256Hex(bytes))

    // the manifest as the registry serves it: wash's layout
    const res = await fetch(`http://${registry.host}/v2/test/arith/manifests/0.1.0`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })
    const manifest = await res.json() as { config: { mediaType: string }, layers: Array<{ mediaType: string, digest: string, size: number }> }
    expect(manifest.config.mediaType).toBe(WASM_CONFIG)
    expect(manifest.layers).toEqual([{ mediaType: WASM_LAYER, digest: `sha256:${sha256Hex(bytes)}`, size: bytes.byteLength }])

    const resolved = await client.resolve(ref)
    expect(resolved).toEqual({ manifestDigest: pushed.manifestDigest, layer: { digest: sha256Hex(bytes), size: bytes.byteLength, mediaType: WASM_LAYER } })
    expect(await client.blob(ref, resolved.layer)).toEqual(bytes)
    const byDigest = parseOciRef(`${registry.host}/test/arith@sha256:${pushed.manifestDigest}`)
    expect((await client.resolve(byDigest)).layer.digest).toBe(sha256Hex(bytes))
    // a second push of the same bytes uploads the component no more (only its config, which says when)
    const proxy = await countingProxy(registry.host)
    try {
      await createOciClient({ maxComponentBytes: 64 << 20 }).push(parseOciRef(`${proxy.host}/test/arith:0.1.1`), bytes)
      const uploads = proxy.requests.filter(r => r.startsWith('PUT') && r.includes('/blobs/uploads/'))
      expect(uploads.length).toBe(1)
      expect(uploads[0]).not.toContain(sha256Hex(bytes))
    } finally {
      await proxy.stop()
    }
  })

  it('answers an unknown tag with artifact-not-found, a pinned digest that does not match with digest-mismatch', async () => {
    const client = createOciClient({ maxComponentBytes: 64 << 20 })
    await expect(client.resolve(parseOciRef(`${registry.host}/test/nothing:1`))).rejects.toMatchObject({ code: 'artifact-not-found' })
    await client.push(parseOciRef(`${registry.host}/test/arith:pinned`), await buildArith())
    await expect(client.resolve(parseOciRef(`${registry.host}/test/arith@sha256:${'0'.repeat(64)}`))).rejects.toMatchObject({ code: expect.stringMatching(/artifact-not-found|digest-mismatch/) })
  })

  it('refuses a component over maxComponentBytes from its manifest, before fetching it', async () => {
    const bytes = await buildArith()
    await createOciClient({ maxComponentBytes: 64 << 20 }).push(parseOciRef(`${registry.host}/test/big:1`), bytes)
    const proxy = await countingProxy(registry.host)
    try {
      const small = createOciClient({ maxComponentBytes: bytes.byteLength - 1 })
      await expect(small.resolve(parseOciRef(`${proxy.host}/test/big:1`))).rejects.toMatchObject({ code: 'artifact-too-large' })
      expect(proxy.requests.some(r => r.includes('/blobs/'))).toBe(false)
    } finally {
      await proxy.stop()
    }
  })

  it('does not speak plain HTTP to a registry that is not on loopback unless told to', async () => {
    // 127.0.0.2 is loopback too; a name that is not, resolving nowhere, is tried over https and fails as such
    const client = createOciClient({ maxComponentBytes: 1 << 20, limits: { registryTimeoutMs: 5_000 } })
    const err = await client.resolve(parseOciRef('registry.invalid:5000/x/y:1')).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'registry-failed' })
    expect((err as Error).message).toContain('https://registry.invalid:5000')
    expect((err as Error).message).toContain('--oci-insecure registry.invalid:5000')
  })
})

/** A hostile "registry": a real HTTP server that answers what a test makes it answer. */
let hostile: Server | undefined
afterEach(async () => {
  hostile?.closeAllConnections()
  await new Promise<void>(resolve => { if (hostile === undefined) resolve(); else hostile.close(() => { resolve() }) })
  hostile = undefined
})
async function serve (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  hostile = createServer(handler)
  await new Promise<void>(resolve => hostile!.listen(0, '127.0.0.1', resolve))
  return `127.0.0.1:${(hostile.address() as AddressInfo).port}`
}

function manifestFor (bytes: Uint8Array, size = bytes.byteLength, digest = sha256Hex(bytes)): string {
  return JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: WASM_CONFIG, digest: `sha256:${'1'.repeat(64)}`, size: 2 }, layers: [{ mediaType: WASM_LAYER, digest: `sha256:${digest}`, size }] })
}

describe('a hostile registry', () => {
  const bytes = new Uint8Array(200_000).map((_, i) => i % 251)
  const client = (limits = {}): ReturnType<typeof createOciClient> => createOciClient({ maxComponentBytes: 1 << 20, limits: { artifactIdleTimeoutMs: 300, maxManifestBytes: 64 * 1024, ...limits } })

  it('sending other bytes than the layer digest says: digest-mismatch', async () => {
    const host = await serve((req, res) => {
      if (req.url?.includes('/manifests/')) { res.end(manifestFor(bytes)); return }
      const wrong = new Uint8Array(bytes); wrong[100] ^= 1
      res.end(wrong)
    })
    const c = client()
    const ref = parseOciRef(`${host}/x/y:1`)
    await expect(c.blob(ref, (await c.resolve(ref)).layer)).rejects.toMatchObject({ code: 'digest-mismatch' })
  })

  it('sending a truncated blob, or more than its size: artifact-protocol', async () => {
    let extra = false
    const host = await serve((req, res) => {
      if (req.url?.includes('/manifests/')) { res.end(manifestFor(bytes)); return }
      res.end(extra ? Buffer.concat([bytes, Buffer.from('trailing')]) : bytes.subarray(0, 1000))
    })
    const c = client()
    const ref = parseOciRef(`${host}/x/y:1`)
    const { layer } = await c.resolve(ref)
    await expect(c.blob(ref, layer)).rejects.toMatchObject({ code: 'artifact-protocol' })
    extra = true
    await expect(c.blob(ref, layer)).rejects.toMatchObject({ code: 'artifact-protocol' })
  })

  it('a huge manifest, a manifest that is not JSON, an index, several wasm layers: refused by name', async () => {
    let answer = ''
    const host = await serve((_req, res) => { res.end(answer) })
    const c = client()
    const ref = parseOciRef(`${host}/x/y:1`)
    answer = 'x'.repeat(200_000)
    await expect(c.resolve(ref)).rejects.toMatchObject({ code: 'artifact-too-large' })
    answer = '{"schemaVersion":2, nope'
    await expect(c.resolve(ref)).rejects.toMatchObject({ code: 'unsupported-manifest' })
    answer = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] })
    await expect(c.resolve(ref)).rejects.toMatchObject({ code: 'unsupported-manifest' })
    const layer = { mediaType: WASM_LAYER, digest: `sha256:${sha256Hex(bytes)}`, size: bytes.byteLength }
    answer = JSON.stringify({ schemaVersion: 2, layers: [layer, layer] })
    await expect(c.resolve(ref)).rejects.toMatchObject({ code: 'unsupported-manifest' })
    answer = JSON.stringify({ schemaVersion: 2, layers: [{ ...layer, size: -1 }] })
    await expect(c.resolve(ref)).rejects.toMatchObject({ code: 'unsupported-manifest' })
    answer = JSON.stringify({ schemaVersion: 2, layers: [{ ...layer, digest: 'md5:abc' }] })
    await expect(c.resolve(ref)).rejects.toMatchObject({ code: 'invalid-reference' })
  })

  it('a blob that stalls mid-transfer: artifact-timeout after artifactIdleTimeoutMs', async () => {
    const host = await serve((req, res) => {
      if (req.url?.includes('/manifests/')) { res.end(manifestFor(bytes)); return }
      res.writeHead(200, { 'content-length': String(bytes.byteLength) })
      res.write(bytes.subarray(0, 1000))
      // then nothing: the client must give up by itself
    })
    const c = client()
    const ref = parseOciRef(`${host}/x/y:1`)
    await expect(c.blob(ref, (await c.resolve(ref)).layer)).rejects.toMatchObject({ code: 'artifact-timeout' })
  })

  it('asks for credentials: registry-auth without them; Basic and Bearer with them, the token from its realm', async () => {
    const seen: string[] = []
    const host = await serve((req, res) => {
      seen.push(`${req.url ?? ''} ${req.headers.authorization ?? '-'}`)
      if (req.url?.startsWith('/token')) {
        const ok = req.headers.authorization === `Basic ${Buffer.from('alice:s3cret').toString('base64')}`
        const url = new URL(req.url, 'http://x')
        if (!ok || url.searchParams.get('scope') !== 'repository:x/y:pull' || url.searchParams.get('service') !== 'test') { res.writeHead(401).end(); return }
        res.end(JSON.stringify({ token: 'tok123' }))
        return
      }
      if (req.headers.authorization !== 'Bearer tok123') {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host ?? ''}/token",service="test",scope="repository:x/y:pull"` }).end()
        return
      }
      res.end(manifestFor(bytes))
    })
    const ref = parseOciRef(`${host}/x/y:1`)
    await expect(client().resolve(ref)).rejects.toMatchObject({ code: 'registry-auth' })
    const withCreds = createOciClient({ maxComponentBytes: 1 << 20, credentials: r => r === host ? { username: 'alice', password: 's3cret' } : undefined })
    expect((await withCreds.resolve(ref)).layer.digest).toBe(sha256Hex(bytes))
    // the token is kept for the scope: the second pull asks the token service no more
    const tokens = seen.filter(s => s.startsWith('/token')).length
    await withCreds.resolve(ref)
    expect(seen.filter(s => s.startsWith('/token')).length).toBe(tokens)
    const wrong = createOciClient({ maxComponentBytes: 1 << 20, credentials: () => ({ username: 'alice', password: 'nope' }) })
    await expect(wrong.resolve(ref)).rejects.toMatchObject({ code: 'registry-auth' })
  })

  it('a token realm on plain HTTP elsewhere than loopback gets no credentials: insecure-registry', async () => {
    const host = await serve((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="http://auth.example.com/token",service="x"' }).end()
    })
    const c = createOciClient({ maxComponentBytes: 1 << 20, credentials: () => ({ username: 'alice', password: 's3cret' }) })
    await expect(c.resolve(parseOciRef(`${host}/x/y:1`))).rejects.toMatchObject({ code: 'insecure-registry' })
  })
})
