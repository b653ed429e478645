import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, grantsByComponent, loadConfigFile, parseGrantArg } from '../../cli/config.ts'
import { createDemoHost } from '../../cli/host.ts'
import { parseWit, printInterface } from '../../protocol/wit/index.ts'

let dir: string

beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'wasmesh-config-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

async function file (name: string, text: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, text)
  return path
}

const peer = '12D3KooWQ8efjLNtpUov2f4H1Nty9LyAydCMvhEVUZzcg1KDZY82'

async function configError (path: string): Promise<ConfigError> {
  const err = await loadConfigFile(path).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(ConfigError)
  return err as ConfigError
}

describe('config files', () => {
  it('reads every key from YAML, with paths relative to the file', async () => {
    const path = await file('node.yaml', [
      'listen: [/ip4/127.0.0.1/tcp/4100]',
      'announce: /ip4/192.0.2.7/tcp/4100',
      `bootstrap:\n  - /ip4/192.0.2.1/tcp/4001/p2p/${peer}`,
      'component: [up=build/upper.wasm, /abs/shout.wasm]',
      'grant: ["up:env=LANG", "up:env=GREETING=hi", "up:dir=/data=./data", "up:network"]',
      'inline: [up]',
      'label: {zone: eu-1, tier: 2}',
      'lattice: blue',
      'data-dir: state',
      'cache-dir: /var/cache/wasmesh',
      'metrics: 127.0.0.1:9464',
      'drain-timeout: 2500',
      'log-level: debug',
      'log-format: json',
      'demo-host: false'
    ].join('\n'))
    expect(await loadConfigFile(path)).toEqual({
      listen: ['/ip4/127.0.0.1/tcp/4100'],
      announce: ['/ip4/192.0.2.7/tcp/4100'],
      bootstrap: [`/ip4/192.0.2.1/tcp/4001/p2p/${peer}`],
      component: [{ name: 'up', file: join(dir, 'build/upper.wasm') }, { name: 'shout', file: '/abs/shout.wasm' }],
      grant: [
        { component: 'up', kind: 'env', variable: 'LANG' },
        { component: 'up', kind: 'env', variable: 'GREETING', value: 'hi' },
        { component: 'up', kind: 'dir', guest: '/data', host: join(dir, 'data') },
        { component: 'up', kind: 'network' }
      ],
      inline: ['up'],
      label: { zone: 'eu-1', tier: '2' },
      lattice: 'blue',
      dataDir: join(dir, 'state'),
      cacheDir: '/var/cache/wasmesh',
      metrics: '127.0.0.1:9464',
      drainTimeoutMs: 2500,
      logLevel: 'debug',
      logFormat: 'json',
      demoHost: false
    })
  })

  it('reads the same keys from TOML', async () => {
    const path = await file('node.toml', [
      'listen = ["/ip4/127.0.0.1/tcp/4100"]',
      `bootstrap = "/ip4/192.0.2.1/tcp/4001/p2p/${peer}"`,
      'component = ["up=upper.wasm"]',
      'lattice = "blue"',
      'drain-timeout = 2500',
      'demo-host = true',
      '',
      '[label]',
      'zone = "eu-1"'
    ].join('\n'))
    expect(await loadConfigFile(path)).toEqual({
      listen: ['/ip4/127.0.0.1/tcp/4100'],
      bootstrap: [`/ip4/192.0.2.1/tcp/4001/p2p/${peer}`],
      component: [{ name: 'up', file: join(dir, 'upper.wasm') }],
      lattice: 'blue',
      drainTimeoutMs: 2500,
      demoHost: true,
      label: { zone: 'eu-1' }
    })
  })

  it('names the file, line and key of an unknown key', async () => {
    const yaml = await configError(await file('typo.yaml', 'lattice: blue\nlisten: [/ip4/127.0.0.1/tcp/1]\nlisen: [/ip4/127.0.0.1/tcp/2]\n'))
    expect(yaml).toMatchObject({ code: 'bad-config', line: 3, key: 'lisen' })
    expect(yaml.message).toContain('typo.yaml:3: unknown key "lisen"')
    const toml = await configError(await file('typo.toml', 'lattice = "blue"\n\nlisen = ["/ip4/127.0.0.1/tcp/2"]\n'))
    expect(toml).toMatchObject({ code: 'bad-config', line: 3, key: 'lisen' })
    expect(toml.message).toContain('typo.toml:3: unknown key "lisen"')
  })

  it('names the file, line and key of a value of the wrong kind', async () => {
    const cases: Array<[string, string, number, string]> = [
      ['a.yaml', 'lattice: blue\ndrain-timeout: soon\n', 2, 'drain-timeout'],
      ['b.yaml', 'bootstrap: [/ip4/192.0.2.1/tcp/4001]\n', 1, 'bootstrap'],
      ['c.yaml', '\n\ndemo-host: maybe\n', 3, 'demo-host'],
      ['d.toml', 'lattice = "no spaces allowed"\n', 1, 'lattice'],
      ['e.toml', 'listen = [1, 2]\n', 1, 'listen'],
      ['f.yaml', 'grant: ["env=HOME"]\n', 1, 'grant']
    ]
    for (const [name, text, line, key] of cases) {
      const err = await configError(await file(name, text))
      expect(err, name).toMatchObject({ code: 'bad-config', line, key })
      expect(err.message, name).toContain(`${name}:${line}: key "${key}"`)
    }
  })

  it('reports syntax errors with their line, and a missing file', async () => {
    const yaml = await configError(await file('broken.yaml', 'lattice: blue\nlisten: [unclosed\n'))
    expect(yaml.code).toBe('bad-config')
    expect(yaml.message).toMatch(/broken\.yaml:\d+: /)
    const toml = await configError(await file('broken.toml', 'lattice = "blue"\nlisten = [\n'))
    expect(toml.message).toMatch(/broken\.toml:\d+: /)
    const missing = await configError(join(dir, 'nope.yaml'))
    expect(missing.code).toBe('config-not-found')
  })
})

describe('grants', () => {
  it('turns --grant values into per-component sandbox grants, env=VAR read from the environment', () => {
    const grants = ['app:env=TOKEN', 'app:env=MODE=fast', 'app:dir=/data=/srv/data', 'app:network', 'other:env=MODE=slow'].map(g => parseGrantArg(g, '/'))
    expect(Object.fromEntries(grantsByComponent(grants, { TOKEN: 's3cret' }))).toEqual({
      app: { env: { TOKEN: 's3cret', MODE: 'fast' }, readOnlyDirs: { '/data': '/srv/data' }, network: true },
      other: { env: { MODE: 'slow' }, readOnlyDirs: {}, network: false }
    })
    expect(() => grantsByComponent([parseGrantArg('app:env=UNSET_VAR', '/')], {})).toThrow(/UNSET_VAR is not set/)
    expect(() => parseGrantArg('app:disk=/x', '/')).toThrow(/<component>:env=VAR/)
    expect(() => parseGrantArg('app:dir=data=/x', '/')).toThrow(/dir=\/guest\/path=\/host\/path/)
  })
})

describe('the built-in demo host', () => {
  it('serves exactly the local:demo/host interface of wit/examples/local-demo.wit', async () => {
    const text = readFileSync(new URL('../../wit/examples/local-demo.wit', import.meta.url), 'utf8')
    const declared = parseWit({ 'local-demo.wit': text }).findInterface('local:demo/host')!
    const logged: string[] = []
    const host = createDemoHost({ onLog: (m, caller) => { logged.push(`${caller}: ${m}`) } })
    expect(host.interfaces.map(i => printInterface(i))).toEqual([printInterface(declared)])
    expect(await host.call('local:demo/host', 'log', ['hi'], { caller: 'me' })).toEqual([])
    expect(logged).toEqual(['me: hi'])
    await expect(host.call('local:demo/host', 'nope', [], { caller: 'me' })).rejects.toMatchObject({ code: 'no-such-function' })
  })
})
