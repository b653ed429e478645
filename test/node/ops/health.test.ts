import { connect } from 'node:net'
import { request } from 'node:http'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../../examples/build.ts'
import { readiness, startOpsServer } from '../../../node/health.ts'
import type { OpsServer } from '../../../node/health.ts'
import { createNode } from '../../../node/index.ts'
import { silentLogger } from '../../../node/logger.ts'
import { bootstrapOf, createMesh, demoHost, eventually, fast } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'

let paths: Record<string, string>
let mesh: Mesh | undefined
let ops: OpsServer | undefined

beforeAll(async () => {
  paths = await ensureExamples({ names: ['upper'] })
})

afterEach(async () => {
  await ops?.close()
  ops = undefined
  await mesh?.stop()
  mesh = undefined
})

async function get (path: string, method = 'GET'): Promise<{ status: number, body: string, allow: string | null }> {
  const res = await fetch(`${ops!.url}${path}`, { method })
  return { status: res.status, body: await res.text(), allow: res.headers.get('allow') }
}

/** A raw request, for what fetch refuses to send. */
async function raw (text: string): Promise<string> {
  const url = new URL(ops!.url)
  return await new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname)
    let answer = ''
    socket.on('data', d => { answer += d.toString() })
    socket.on('end', () => { resolve(answer) })
    socket.on('close', () => { resolve(answer) })
    socket.on('error', reject)
    socket.end(text)
  })
}

describe('/healthz and /readyz', () => {
  it('readyz flips to 200 once components are loaded and a bootstrap peer is connected, and back to 503 when the peer goes', async () => {
    mesh = await createMesh()
    const seed = await mesh.add()
    // Built but not started: the ops listener comes up first, as the command starts it.
    const node = await createNode({ transport: 'memory', timings: fast, cacheDir: mesh.cacheDir, logger: silentLogger, bootstrap: bootstrapOf(seed) })
    mesh.nodes.push(node)
    let started = false
    ops = await startOpsServer({ port: 0, node, ready: () => started, bootstrap: true, components: 1 })

    expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok\n' })
    expect(await get('/readyz')).toMatchObject({ status: 503, body: 'starting or stopping\n' })

    started = true
    expect(await get('/readyz')).toMatchObject({ status: 503, body: 'components loading: 0 of 1\n' })

    await node.start()
    node.serve(demoHost([]))
    await node.load({ source: paths.upper })
    await eventually('ready', async () => (await get('/readyz')).status === 200)
    expect((await get('/readyz')).body).toBe('ready\n')

    await seed.stop()
    await eventually('not ready without peers', async () => (await get('/readyz')).status === 503)
    expect((await get('/readyz')).body).toBe('not connected to any peer yet\n')
    expect(await get('/healthz')).toMatchObject({ status: 200 })
  })

  it('a node without bootstrap peers or components is ready once its owner says so', async () => {
    mesh = await createMesh()
    const node = await mesh.add()
    expect(readiness({ node })).toEqual({ ready: true, reason: 'ready' })
    expect(readiness({ node, ready: () => false }).ready).toBe(false)
    expect(readiness({ node, bootstrap: true })).toEqual({ ready: false, reason: 'not connected to any peer yet' })
  })
})

describe('the ops listener refuses what it does not serve, and keeps serving', () => {
  it('404 for other paths, 405 for other methods, 414 for long targets, 400 for garbage; HEAD has no body', async () => {
    mesh = await createMesh()
    const node = await mesh.add()
    ops = await startOpsServer({ port: 0, node })

    expect(await get('/')).toMatchObject({ status: 404 })
    expect(await get('/metrics/extra')).toMatchObject({ status: 404 })
    expect(await get('/healthz?verbose=1')).toMatchObject({ status: 200 })
    expect(await get('/metrics', 'POST')).toMatchObject({ status: 405, allow: 'GET, HEAD' })
    expect(await get('/healthz', 'DELETE')).toMatchObject({ status: 405 })
    expect(await get(`/${'x'.repeat(5000)}`)).toMatchObject({ status: 414 })

    const head = await get('/metrics', 'HEAD')
    expect(head).toMatchObject({ status: 200, body: '' })

    expect(await raw('NOT HTTP AT ALL\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/)
    expect(await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 4\d\d/)
    // A request with a body on a method it refuses: answered, body ignored.
    const posted = await new Promise<number>((resolve, reject) => {
      const req = request(`${ops!.url}/readyz`, { method: 'PUT' }, res => { res.resume(); resolve(res.statusCode ?? 0) })
      req.on('error', reject)
      req.end('z'.repeat(100_000))
    })
    expect(posted).toBe(405)

    expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok\n' })
  })

  it('says so when the port is taken', async () => {
    mesh = await createMesh()
    const node = await mesh.add()
    ops = await startOpsServer({ port: 0, node })
    const port = Number(new URL(ops.url).port)
    await expect(startOpsServer({ port, node })).rejects.toMatchObject({ code: 'EADDRINUSE' })
  })
})
