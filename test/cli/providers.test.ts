import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { loadConfigFile, parseProviderArg, parseProviderSetting } from '../../cli/config.ts'
import { withSettings } from '../../cli/providers.ts'
import { killSpawned, listeningOn, spawnWasmesh, start, wasmesh } from './helpers.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

let scratch: ScratchDir
let counter: string

beforeAll(async () => {
  counter = (await ensureExamples({ names: ['counter'] })).counter
  scratch = await scratchDir('cli-providers')
}, 120_000)

afterEach(async () => { await killSpawned() })
afterAll(async () => { await scratch?.remove() })

describe('provider arguments', () => {
  it('parses [name=]<module> and <name>:<key>=<value>', () => {
    expect(parseProviderArg('builtin:keyvalue')).toMatchObject({ name: 'keyvalue', module: 'builtin:keyvalue' })
    expect(parseProviderArg('kv=builtin:keyvalue')).toMatchObject({ name: 'kv', module: 'builtin:keyvalue' })
    expect(parseProviderArg('./providers/my-thing.ts')).toMatchObject({ name: 'my-thing', module: './providers/my-thing.ts' })
    expect(parseProviderSetting('kv:path=/tmp/a=b.db', 'config')).toEqual({ provider: 'kv', key: 'path', value: '/tmp/a=b.db' })
    expect(withSettings([parseProviderArg('kv=builtin:keyvalue')], ['kv:backend=memory'], ['kv:token=env:TOKEN'])[0])
      .toMatchObject({ config: { backend: 'memory' }, secrets: { token: 'env:TOKEN' } })
  })

  it('refuses a secret given in clear, settings for no provider, and two providers of one name', () => {
    expect(() => parseProviderSetting('pg:password=hunter2', 'secret')).toThrow(/env:VARIABLE or file:\/path/)
    expect(() => withSettings([parseProviderArg('kv=builtin:keyvalue')], ['pg:host=x'], [])).toThrow(/no provider is named pg/)
    expect(() => withSettings([parseProviderArg('builtin:keyvalue'), parseProviderArg('builtin:keyvalue')], [], [])).toThrow(/same name/)
  })

  it('reads providers with config and secrets from a config file', async () => {
    const file = join(scratch.path, 'node.yaml')
    await writeFile(file, [
      'provider:',
      '  - module: builtin:postgres',
      '    name: pg',
      '    config: {host: db.internal, pool-size: 4}',
      '    secrets: {password: "env:PGPASSWORD"}',
      '  - kv=builtin:keyvalue',
      'link: ["counter:wasi:keyvalue=tier=cache"]'
    ].join('\n'))
    const settings = await loadConfigFile(file)
    expect(settings.provider).toEqual([
      { name: 'pg', module: 'builtin:postgres', config: { host: 'db.internal', 'pool-size': '4' }, secrets: { password: 'env:PGPASSWORD' } },
      { name: 'kv', module: 'builtin:keyvalue', config: {}, secrets: {} }
    ])
    expect(settings.link).toEqual([expect.objectContaining({ component: 'counter', target: 'wasi:keyvalue', labels: { tier: 'cache' } })])
    await writeFile(file, 'provider:\n  - module: builtin:keyvalue\n    secrets: {token: hunter2}\n')
    await expect(loadConfigFile(file)).rejects.toMatchObject({ code: 'bad-config', key: 'provider' })
  })
})

describe('providers on the command line', () => {
  it('serves a provider in a node, and reports one that does not start without stopping the node', async () => {
    const node = start(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(scratch.path, 'a'), '--no-demo-host',
      '--provider', 'kv=builtin:keyvalue', '--provider-config', 'kv:backend=memory',
      '--provider', 'broken=builtin:keyvalue', '--provider-config', 'broken:backend=carrier-pigeon'])
    await node.out.waitFor(l => l.startsWith('call it from another terminal'), node.exited)
    expect(node.out.text).toContain('wasi:keyvalue/store@0.2.0-draft  keyvalue (provider)')
    expect(node.err.text).toMatch(/provider broken \(builtin:keyvalue\) is not served/)
    expect(await node.stop()).toBe(0)
  }, 60_000)

  it('runs the counter component on one process and the key-value provider as a process of its own', async () => {
    const a = spawnWasmesh(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(scratch.path, 'p1'), '--no-demo-host',
      '--component', `counter=${counter}`, '--link', 'counter:wasi:keyvalue=tier=cache'])
    await a.out.waitFor(l => l.startsWith('call it from another terminal'), a.exited)
    const addr = listeningOn(a.out.text)[0]
    const kv = spawnWasmesh(['provider', 'kv=builtin:keyvalue', '--provider-config', `kv:path=${join(scratch.path, 'kv.db')}`,
      '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(scratch.path, 'p2'), '--label', 'tier=cache', '--bootstrap', addr])
    await kv.out.waitFor(l => l.includes('wasi:keyvalue/atomics'), kv.exited)
    const results: string[] = []
    for (let i = 0; i < 3; i++) {
      const r = await wasmesh(['call', 'wasmesh:examples/counter#increment("visits")', '--bootstrap', addr, '--timeout', '20000'])
      expect(r.err).toBe('')
      results.push(r.out)
    }
    expect(results).toEqual(['1', '2', '3'])
    a.child.kill('SIGTERM')
    kv.child.kill('SIGTERM')
    expect(await a.exited).toBe(0)
    expect(await kv.exited).toBe(0)
  }, 90_000)
})
