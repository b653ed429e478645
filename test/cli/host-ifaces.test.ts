// The host interfaces from the command line: inspect lists them as served by the node; --config-value, --secret and
// --grant name:http= configure them; a secret never reaches the node's log, even at debug.
import { writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { listeningOn, start, wasmesh } from './helpers.ts'
import type { Running } from './helpers.ts'

const SECRET = 'cli-s3cret-7d2e-never-logged'
const VAR = 'WASMESH_TEST_HOST_IFACES_TOKEN'

let built: Record<string, string>
let scratch: ScratchDir

beforeAll(async () => {
  built = await ensureExamples({ names: ['host-ifaces', 'http-client'] })
  scratch = await scratchDir('cli-host-ifaces')
}, 300_000)

afterAll(async () => {
  await scratch?.remove()
})

describe('wasmesh inspect', () => {
  it('lists the host interfaces as served by the node, not as imports the mesh must serve', async () => {
    const r = await wasmesh(['inspect', built['host-ifaces']])
    expect(r.out).toContain('served by the node (host interfaces): wasi:logging/logging@0.1.0-draft, wasi:config/store@0.2.0-draft')
    expect(r.out).not.toMatch(/^ {2}wasi:logging\/logging/m)
    const json = JSON.parse((await wasmesh(['inspect', built['host-ifaces'], '--json'])).out) as { imports: { host: string[], interfaces: Array<{ id: string }> } }
    expect(json.imports.host).toEqual(['wasi:logging/logging@0.1.0-draft', 'wasi:config/store@0.2.0-draft', 'wasi:config/runtime@0.2.0-draft',
      'wasmcloud:secrets/store@0.1.0-draft', 'wasmcloud:secrets/reveal@0.1.0-draft', 'wasmcloud:bus/lattice@1.0.0'])
    expect(json.imports.interfaces.map(i => i.id)).toEqual(['wasi:keyvalue/store@0.2.0-draft', 'wasi:keyvalue/atomics@0.2.0-draft'])
  })
})

describe('wasmesh node with config values and secrets', () => {
  let node: Running
  let addr: string

  beforeAll(async () => {
    process.env[VAR] = SECRET
    const config = join(scratch.path, 'node.yaml')
    await writeFile(config, 'config-value:\n  host-ifaces:\n    from-file: "yes"\n')
    node = start(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(scratch.path, 'node'), '--cache-dir', join(scratch.path, 'cache'),
      '--component', built['host-ifaces'], '--config', config, '--secret', `host-ifaces:token=env:${VAR}`,
      '--log-level', 'debug', '--log-format', 'json'])
    await node.out.waitFor(l => l.startsWith('call it from another terminal'), node.exited)
    addr = listeningOn(node.out.text)[0]
  }, 120_000)

  afterAll(async () => {
    await node?.stop()
    delete process.env[VAR]
  })

  const call = async (expr: string): Promise<{ code: number, out: string, err: string }> =>
    await wasmesh(['call', `wasmesh:examples/host-probe#${expr}`, '--bootstrap', addr])

  it('serves wasi:config from the config file', async () => {
    expect(await call('config-get("from-file")')).toMatchObject({ code: 0, out: 'some("yes")' })
    expect(await call('config-get("other")')).toMatchObject({ code: 0, out: 'none' })
  })

  it('reveals a granted secret to the component, and its value never reaches the node\'s log at debug', async () => {
    expect(await call('log-secret("token", "debug")')).toMatchObject({ code: 0, out: `ok(${SECRET.length})` })
    expect(await call('log-secret("token", "error")')).toMatchObject({ code: 0, out: `ok(${SECRET.length})` })
    await node.err.waitFor(l => l.includes('the secret is [redacted]'), node.exited)
    expect(node.err.text).not.toContain(SECRET)
    expect(node.out.text).not.toContain(SECRET)
    expect(await call('secret("elsewhere")')).toMatchObject({ code: 0, out: 'err("not-found")' })
  })
})

describe('wasmesh node --grant <name>:http=', () => {
  let node: Running
  let addr: string
  let server: Server
  let port = 0
  const seen: string[] = []

  beforeAll(async () => {
    // the component runs in a worker of its own (the default), so a server on this thread can answer it
    server = createServer((req, res) => { seen.push(req.url ?? ''); res.end('hi there') })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
    node = start(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(scratch.path, 'http-node'), '--cache-dir', join(scratch.path, 'cache'),
      '--component', built['http-client'], '--grant', `http-client:http=127.0.0.1:${port}`, '--log-level', 'silent'])
    await node.out.waitFor(l => l.startsWith('call it from another terminal'), node.exited)
    addr = listeningOn(node.out.text)[0]
  }, 120_000)

  afterAll(async () => {
    await node?.stop()
    server?.closeAllConnections()
    await new Promise<void>(resolve => { if (server === undefined) resolve(); else server.close(() => { resolve() }) })
  })

  it('reaches the granted host and port, and nothing else', async () => {
    const ok = await wasmesh(['call', `wasmesh:examples/http-client#get("http://127.0.0.1:${port}/granted")`, '--bootstrap', addr])
    expect(ok).toMatchObject({ code: 0, out: 'ok("200 hi there")' })
    const denied = await wasmesh(['call', `wasmesh:examples/http-client#get("http://localhost:${port}/denied")`, '--bootstrap', addr])
    expect(denied.code).toBe(0)
    expect(denied.out).toMatch(/^err\("fetch: /)
    expect(seen).toEqual(['/granted'])
  })
})

describe('the flags refuse what they cannot use', () => {
  it('a secret given as its value, a bad HTTP grant, a setting for no component', async () => {
    const base = ['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(scratch.path, 'refused'), '--component', built['host-ifaces']]
    const plain = await wasmesh([...base, '--secret', 'host-ifaces:token=hunter2'])
    expect(plain.code).toBe(2)
    expect(plain.err).toContain('never the secret itself')
    expect(plain.err).not.toContain('hunter2')
    const grant = await wasmesh([...base, '--grant', 'host-ifaces:http=http://api.example.com/x'])
    expect(grant).toMatchObject({ code: 2, err: expect.stringContaining('is not a host name') })
    const nobody = await wasmesh([...base, '--config-value', 'nobody:k=v'])
    expect(nobody).toMatchObject({ code: 2, err: expect.stringContaining('no component is named nobody') })
    const key = await wasmesh([...base, '--config-value', 'host-ifaces:bad key=v'])
    expect(key).toMatchObject({ code: 2, err: expect.stringContaining('key "bad key"') })
  })
})
