// Trusted components with real processes: `wasmesh node --require-signed` serves what a trusted key signed, and refuses to start with anything else.

import { chmod, copyFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { readSigningKey, signComponent } from '../../node/security/index.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { Processes } from './processes.ts'
import type { CliResult } from './processes.ts'

describe('wasmesh node --require-signed, as processes', () => {
  const processes = new Processes()
  let scratch: ScratchDir
  let arith: string
  let upper: string
  const at = (name: string): string => join(scratch.path, name)

  async function cli (args: string[]): Promise<CliResult> {
    return await processes.cli(args, { timeoutMs: 60_000 })
  }

  /** `wasmesh node` trusting admin.pub with these components, run to its exit. */
  async function nodeRun (name: string, components: string[]): Promise<CliResult> {
    return await cli([
      'node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', at(`data-${name}`), '--no-demo-host', '--log-format', 'json',
      '--require-signed', '--trust-key', at('admin.pub'), ...components.flatMap(c => ['--component', c])
    ])
  }

  /** A copy of `source` in the scratch folder named `name`.wasm, signed with `key` unless told not to. */
  async function component (name: string, source: string, key?: string): Promise<string> {
    const file = at(`${name}.wasm`)
    await copyFile(source, file)
    if (key !== undefined) {
      const signed = await cli(['sign', file, '--key', at(key)])
      expect(signed.code, signed.stderr).toBe(0)
    }
    return file
  }

  beforeAll(async () => {
    const built = await ensureExamples({ names: ['arith', 'upper'] })
    arith = built.arith
    upper = built.upper
    scratch = await scratchDir('signed')
    for (const who of ['admin', 'other']) {
      expect((await cli(['key', 'new', '--signing', '--out', at(`${who}.key`)])).code).toBe(0)
      expect((await cli(['key', 'public', at(`${who}.key`), '--out', at(`${who}.pub`)])).code).toBe(0)
    }
  }, 60_000)

  afterAll(async () => {
    await processes.killAll()
    await scratch?.remove()
  })

  it('serve a component signed by a trusted key, and log who signed it', async () => {
    const file = await component('signed', arith, 'admin.key')
    const node = await processes.node('signed', [
      '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', at('data-signed'), '--no-demo-host',
      '--require-signed', '--trust-key', at('admin.pub'), '--component', file
    ])
    const call = await cli(['call', 'wasmesh:examples/arith#add(2, 3)', '--bootstrap', node.addresses[0]])
    expect([call.code, call.stdout.trim()], call.stderr).toEqual([0, '5'])
    const kid = JSON.parse(await readFile(at('admin.pub'), 'utf8')).kid as string
    expect(node.output()).toContain(`is signed by trusted key ${kid}`)
    node.kill('SIGINT')
    expect(await node.exited).toEqual({ code: 0, signal: null })
  }, 90_000)

  it('refuse to start with an unsigned, tampered, foreign, replayed, over-permissive or hostile component, with the reason', async () => {
    const adminKey = await readSigningKey(at('admin.key'))
    const valid = (await readFile(`${await component('valid', arith, 'admin.key')}.sig`, 'utf8')).trim()
    const [header, payload] = valid.split('.')
    const otherSig = (await readFile(`${await component('foreign', arith, 'other.key')}.sig`, 'utf8')).trim()
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')
    const json = (part: string): Record<string, unknown> => JSON.parse(Buffer.from(part, 'base64url').toString())

    const tampered = await component('tampered', arith, 'admin.key')
    const bytes = await readFile(tampered)
    bytes[bytes.length - 1] ^= 1
    await writeFile(tampered, bytes)
    // the signature of another component (upper), put beside arith
    const replayed = await component('replayed', arith)
    await copyFile(`${await component('upper-signed', upper, 'admin.key')}.sig`, `${replayed}.sig`)
    // signed by the trusted key, but its claims allow no import the component has
    const greedy = await component('greedy', upper)
    await writeFile(`${greedy}.sig`, await signComponent(await readFile(greedy), adminKey, { claims: { imports: ['wasi:keyvalue/*'] } }))
    const hostile = async (name: string, sig: string | Uint8Array): Promise<string> => {
      const file = await component(name, arith)
      await writeFile(`${file}.sig`, sig)
      return file
    }
    const cases: Array<[string, string[], string]> = [
      ['unsigned', [await component('unsigned', arith)], 'unsigned'],
      ['tampered', [tampered], 'digest-mismatch'],
      ['foreign', [at('foreign.wasm')], 'untrusted-key'],
      ['replayed', [replayed], 'digest-mismatch'],
      ['greedy', [greedy], 'imports-not-allowed'],
      ['garbage', [await hostile('garbage', new Uint8Array(4096).fill(0xa5))], 'malformed'],
      ['huge', [await hostile('huge', 'x'.repeat(1024 * 1024))], 'too-large'],
      ['truncated', [await hostile('truncated', valid.slice(0, Math.floor(valid.length / 2)))], 'malformed'],
      ['alg-none', [await hostile('alg-none', `${b64({ ...json(header), alg: 'none' })}.${payload}.`)], 'malformed'],
      ['alg-hs256', [await hostile('alg-hs256', `${b64({ ...json(header), alg: 'HS256' })}.${payload}.${valid.split('.')[2]}`)], 'malformed'],
      // another key's signature under a header and issuer naming the trusted key
      ['forged-header', [await hostile('forged-header', `${header}.${b64({ ...json(otherSig.split('.')[1]), iss: json(header).kid })}.${otherSig.split('.')[2]}`)], 'bad-signature'],
      // one good component and one bad: the node does not start with half of them
      ['several', [at('valid.wasm'), at('unsigned.wasm')], 'unsigned']
    ]
    const results: Array<[string, CliResult]> = []
    for (let i = 0; i < cases.length; i += 4) {
      results.push(...await Promise.all(cases.slice(i, i + 4).map(async ([name, files]) => [name, await nodeRun(name, files)] as [string, CliResult])))
    }
    for (const [[name, , reason], [, run]] of cases.map((c, i) => [c, results[i]] as const)) {
      const what = `${name}\n${run.stderr.slice(-4000)}`
      expect({ name, code: run.code, signal: run.signal }, what).toEqual({ name, code: 1, signal: null })
      expect(run.stderr, what).toMatch(/^error \[untrusted-component\]: /m)
      expect(run.stderr, what).toContain(`(untrusted-component, ${reason})`)
      expect(run.stdout, what).not.toContain('listening on:')
    }
  }, 180_000)

  it('refuse to sign with a key file other users can read', async () => {
    const file = await component('open', arith)
    await writeFile(at('open.key'), await readFile(at('admin.key')))
    await chmod(at('open.key'), 0o640)
    const run = await cli(['sign', file, '--key', at('open.key')])
    expect([run.code, run.stderr.trim()]).toEqual([1, expect.stringMatching(/^error \[bad-key\]: .*can be read by other users \(mode 640\): run 'chmod 600 /)])
  }, 30_000)
})
