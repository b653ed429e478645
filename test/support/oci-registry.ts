// A real OCI registry for tests: Debian's docker-registry (CNCF Distribution v2.8) on a loopback port with its own storage, and a counting proxy in front of it.

import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { createServer, request } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { eventually } from './eventually.ts'
import { describeNeeding } from './needs.ts'
import { freePort } from './postgres.ts'
import { scratchDir } from './scratch.ts'

export const registryBinary = '/usr/bin/docker-registry'
export const haveRegistry = existsSync(registryBinary)

/**
 * `describe` for tests that need the real registry (see describeNeeding: a loud skip without it, a failure in CI).
 * `alsoMissing` names another missing tool the block needs (it is skipped the same way).
 */
export function describeRegistry (name: string, body: () => void, alsoMissing?: string): void {
  const missing = !haveRegistry ? `${registryBinary} not found` : alsoMissing
  describeNeeding(name, { what: 'OCI registry', install: "Install Debian's docker-registry package", ...(missing !== undefined ? { missing } : {}) }, body)
}

export interface TestRegistry {
  /** `127.0.0.1:<port>`: the registry part of a reference. */
  readonly host: string
  stop (): Promise<void>
}

/** Distribution's token auth: a registry that trusts tokens signed by the key of `certFile` (PEM), from `realm`. */
export interface TokenAuth {
  readonly realm: string
  readonly service: string
  readonly issuer: string
  readonly certFile: string
}

/** Starts docker-registry with a config written here (storage in a scratch folder), waits until /v2/ answers. */
export async function startRegistry (opts: { tokenAuth?: TokenAuth } = {}): Promise<TestRegistry> {
  const scratch = await scratchDir('oci-registry')
  const port = await freePort()
  const config = join(scratch.path, 'config.yml')
  await writeFile(config, [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(scratch.path, 'storage')}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
    ...(opts.tokenAuth === undefined
      ? []
      : ['auth:', '  token:', `    realm: ${opts.tokenAuth.realm}`, `    service: ${opts.tokenAuth.service}`, `    issuer: ${opts.tokenAuth.issuer}`, `    rootcertbundle: ${opts.tokenAuth.certFile}`]),
    ''
  ].join('\n'))
  const child: ChildProcess = spawn(registryBinary, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { if (stderr.length < 8192) stderr += d.toString() })
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
    await scratch.remove()
  }
  try {
    await eventually(`docker-registry to answer on 127.0.0.1:${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`)
      const res = await fetch(`http://127.0.0.1:${port}/v2/`)
      await res.body?.cancel()
      return res.status === (opts.tokenAuth === undefined ? 200 : 401)
    }, { timeoutMs: 20_000, intervalMs: 50 })
  } catch (err) {
    await stop()
    throw err
  }
  return { host: `127.0.0.1:${port}`, stop }
}

export interface CountingProxy {
  readonly host: string
  /** GETs of blobs by digest (hex), as the registry was asked for them. */
  blobGets (digest: string): number
  /** Every request, `METHOD path`. */
  readonly requests: string[]
  stop (): Promise<void>
}

/** A plain HTTP proxy to `target` (`host:port`) that counts what passes. */
export async function countingProxy (target: string): Promise<CountingProxy> {
  const [targetHost, targetPort] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))]
  const requests: string[] = []
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`)
    const up = request({ host: targetHost, port: targetPort, method: req.method, path: req.url, headers: req.headers }, upRes => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers)
      upRes.pipe(res)
    })
    up.on('error', () => { res.destroy() })
    req.pipe(up)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    host: `127.0.0.1:${port}`,
    requests,
    blobGets: digest => requests.filter(r => r.startsWith('GET /v2/') && r.endsWith(`/blobs/sha256:${digest}`)).length,
    async stop () {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}
