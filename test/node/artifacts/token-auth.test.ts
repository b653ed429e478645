// The Bearer token flow against docker-registry's own token auth: a token service of the test's, signing with a key whose certificate the registry trusts.

import { execFile } from 'node:child_process'
import { createPrivateKey, randomUUID, X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createOciClient, parseOciRef, sha256Hex } from '../../../node/artifacts/index.ts'
import { buildArith } from '../runtime/fixtures.ts'
import { describeRegistry, startRegistry } from '../../support/oci-registry.ts'
import type { TestRegistry } from '../../support/oci-registry.ts'
import { scratchDir } from '../../support/scratch.ts'
import type { ScratchDir } from '../../support/scratch.ts'

const haveOpenssl = await promisify(execFile)('openssl', ['version']).then(() => true, () => false)
describeRegistry('a registry with token auth (docker-registry, Bearer)', () => {
  let scratch: ScratchDir
  let registry: TestRegistry
  let tokens: Server
  const issued: string[] = []

  beforeAll(async () => {
    scratch = await scratchDir('oci-token')
    const key = join(scratch.path, 'key.pem')
    const cert = join(scratch.path, 'cert.pem')
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=wasmesh-test-token'])
    const signingKey = createPrivateKey(await readFile(key))
    const x5c = [new X509Certificate(await readFile(cert)).raw.toString('base64')]
    // the token service: alice/s3cret may pull and push demo/*, nobody else anything
    tokens = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const [kind, name, actions] = (url.searchParams.get('scope') ?? '').split(':')
      const ok = req.headers.authorization === `Basic ${Buffer.from('alice:s3cret').toString('base64')}`
      issued.push(`${ok ? 'alice' : 'anonymous'} ${url.searchParams.get('scope') ?? ''}`)
      if (!ok) { res.writeHead(401).end(); return }
      const access = kind === 'repository' && name.startsWith('demo/') ? [{ type: 'repository', name, actions: actions.split(',') }] : []
      void new SignJWT({ access })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c })
        .setIssuer('wasmesh-test').setSubject('alice').setAudience('wasmesh-registry')
        .setIssuedAt().setNotBefore('0s').setExpirationTime('5m').setJti(randomUUID())
        .sign(signingKey)
        .then(token => { res.end(JSON.stringify({ token })) })
    })
    await new Promise<void>(resolve => tokens.listen(0, '127.0.0.1', resolve))
    const realm = `http://127.0.0.1:${(tokens.address() as AddressInfo).port}/token`
    registry = await startRegistry({ tokenAuth: { realm, service: 'wasmesh-registry', issuer: 'wasmesh-test', certFile: cert } })
  }, 60_000)

  afterAll(async () => {
    await registry?.stop()
    tokens?.closeAllConnections()
    await new Promise<void>(resolve => { if (tokens === undefined) resolve(); else tokens.close(() => { resolve() }) })
    await scratch?.remove()
  })

  it('pushes and pulls with a token for the scope; anonymous and wrong credentials get registry-auth', async () => {
    const bytes = await buildArith()
    const ref = parseOciRef(`${registry.host}/demo/arith:1`)
    await expect(createOciClient({ maxComponentBytes: 64 << 20 }).push(ref, bytes)).rejects.toMatchObject({ code: 'registry-auth' })
    const wrong = createOciClient({ maxComponentBytes: 64 << 20, credentials: () => ({ username: 'alice', password: 'guess' }) })
    await expect(wrong.resolve(ref)).rejects.toMatchObject({ code: 'registry-auth' })

    const alice = createOciClient({ maxComponentBytes: 64 << 20, credentials: r => r === registry.host ? { username: 'alice', password: 's3cret' } : undefined })
    const pushed = await alice.push(ref, bytes)
    expect(pushed.layerDigest).toBe(sha256Hex(bytes))
    // the scope as the registry's challenge names it: its actions come in either order
    expect(issued).toContainEqual(expect.stringMatching(/^alice repository:demo\/arith:(pull,push|push,pull)$/))
    const puller = createOciClient({ maxComponentBytes: 64 << 20, credentials: r => r === registry.host ? { username: 'alice', password: 's3cret' } : undefined })
    const { layer } = await puller.resolve(ref)
    expect(await puller.blob(ref, layer)).toEqual(bytes)
    // a token the service grants no access with (outside demo/) is refused by the registry itself
    await expect(alice.resolve(parseOciRef(`${registry.host}/private/x:1`))).rejects.toMatchObject({ code: 'registry-auth' })
  })
}, haveOpenssl ? undefined : 'openssl not found')
