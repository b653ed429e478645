// `wasmesh node --http` and `--http-route`, flags and config file: the banner's curl line works, bad routes and addresses are refused with a code.
import { writeFile } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { scratchDir, type ScratchDir } from '../support/scratch.ts'
import { start, wasmesh } from './helpers.ts'

const run = promisify(execFile)
let scratch: ScratchDir
let paths: Record<string, string>
beforeAll(async () => {
  scratch = await scratchDir('cli-http')
  paths = await ensureExamples({ names: ['http-hello'] })
}, 300_000)
afterAll(async () => { await scratch?.remove() })

const loopback = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-demo-host']

describe('wasmesh node --http', () => {
  it('prints the gateway and a curl line that works; the component is listed as the gateway interface\'s server', async () => {
    const node = start(['node', ...loopback, '--data-dir', join(scratch.path, 'a'), '--component', paths['http-hello'], '--http', '127.0.0.1:0'])
    try {
      const curl = await node.out.waitFor(l => l.startsWith('curl '), node.exited)
      expect(node.out.text).toMatch(/^ {2}wrpc:http\/incoming-handler@0\.1\.0 {2}http-hello \(HTTP: its wasi:http\/incoming-handler@0\.2\.10, for any gateway\)$/m)
      expect(node.out.text).toMatch(/^http: http:\/\/127\.0\.0\.1:\d+ /m)
      const url = curl.slice('curl '.length)
      const { stdout } = await run('curl', ['-sS', `${url}here`])
      expect(stdout).toBe('Hello from wasmesh! You asked for /here\n')
    } finally {
      expect(await node.stop()).toBe(0)
    }
  }, 120_000)

  it('takes http and http-route from a config file: a path outside the routes is 404', async () => {
    const config = join(scratch.path, 'node.yaml')
    await writeFile(config, `http: 127.0.0.1:0\nhttp-route: ["path=/hello=name=http-hello"]\ncomponent: [${paths['http-hello']}]\n`)
    const node = start(['node', ...loopback, '--data-dir', join(scratch.path, 'b'), '--config', config])
    try {
      const curl = await node.out.waitFor(l => l.startsWith('curl '), node.exited)
      const url = curl.slice('curl '.length)
      expect((await fetch(`${url}hello/x`)).status).toBe(200)
      const other = await fetch(`${url}other`)
      expect(other.status).toBe(404)
      expect(await other.text()).toMatch(/^no route for host .* and path \/other\n$/)
    } finally {
      expect(await node.stop()).toBe(0)
    }
  }, 120_000)

  it('refuses a bad route and a bad address before starting, saying what a route is', async () => {
    const route = await wasmesh(['node', ...loopback, '--data-dir', join(scratch.path, 'c'), '--http', '127.0.0.1:0', '--http-route', 'path=api=name=x'])
    expect(route.code).not.toBe(0)
    expect(route.err).toMatch(/--http-route.*must start with \/.*a route is host=<host>=<target>/s)
    const addr = await wasmesh(['node', ...loopback, '--data-dir', join(scratch.path, 'c'), '--http', 'nonsense'])
    expect(addr.code).not.toBe(0)
    expect(addr.err).toMatch(/--http.*not host:port/)
  }, 60_000)
})
