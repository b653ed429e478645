import { writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, formatLimit, grantsByComponent, loadConfigFile, maxConfigFileBytes, parseComponentLimitArg, parseGrantArg, parseLimitArg } from '../../cli/config.ts'
import { defaultNodeLimits, defaultSecurityLimits } from '../../node/api.ts'
import { defaultAdvertIntakeLimits, defaultAdvertTimings } from '../../node/adverts.ts'
import { defaultConnectionLimits, defaultStreamLimits } from '../../node/libp2p.ts'
import { defaultHttpLimits } from '../../node/http/index.ts'
import { defaultArtifactLimits } from '../../node/artifacts/index.ts'
import { defaultControlLimits } from '../../node/control/index.ts'
import { defaultAppLimits } from '../../node/apps/index.ts'
import { limitCatalog, limitInits } from '../../node/limits.ts'
import { defaultRuntimeLimits } from '../../node/runtime/limits.ts'
import { defaultMessagingLimits } from '../../node/messaging/index.ts'
import { defaultSessionLimits } from '../../protocol/limits.ts'
import { createDemoHost } from '../../cli/host.ts'
import { parseWit, printInterface } from '../../protocol/wit/index.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

let dir: ScratchDir

beforeAll(async () => { dir = await scratchDir('config') })
afterAll(async () => { await dir?.remove() })

async function file (name: string, text: string): Promise<string> {
  const path = join(dir.path, name)
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
      component: [{ name: 'up', file: join(dir.path, 'build/upper.wasm') }, { name: 'shout', file: '/abs/shout.wasm' }],
      grant: [
        { component: 'up', kind: 'env', variable: 'LANG' },
        { component: 'up', kind: 'env', variable: 'GREETING', value: 'hi' },
        { component: 'up', kind: 'dir', guest: '/data', host: join(dir.path, 'data') },
        { component: 'up', kind: 'network' }
      ],
      inline: ['up'],
      label: { zone: 'eu-1', tier: '2' },
      lattice: 'blue',
      dataDir: join(dir.path, 'state'),
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
      component: [{ name: 'up', file: join(dir.path, 'upper.wasm') }],
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
    const missing = await configError(join(dir.path, 'nope.yaml'))
    expect(missing.code).toBe('config-not-found')
  })
})

describe('limits in a config file', () => {
  it('reads a limits table from YAML and TOML by the limits\' names, kebab-case too, with units', async () => {
    const expected = {
      maxInboundStreams: 2,
      maxInboundBufferedBytesPerNode: 128 * 1024 * 1024,
      idleTimeoutMs: 30_000,
      maxInstanceMemoryBytes: 1024 ** 3,
      maxAdvertTtlMs: 120_000,
      maxConnections: 64,
      maxInstancesPerCaller: 3,
      minProgressBytes: 512 * 1024,
      callTimeoutMs: 1500
    }
    const yaml = await file('limits.yaml', [
      'lattice: blue',
      'limits:',
      '  maxInboundStreams: 2',
      '  max-inbound-buffered-bytes-per-node: 128MiB',
      '  idleTimeoutMs: 30s',
      '  maxInstanceMemoryBytes: "1GiB"',
      '  maxAdvertTtlMs: 2m',
      '  maxConnections: "64"',
      '  maxInstancesPerCaller: 3',
      '  minProgressBytes: 512KiB',
      '  callTimeoutMs: 1.5s'
    ].join('\n'))
    expect(await loadConfigFile(yaml)).toEqual({ lattice: 'blue', limits: expected })
    const toml = await file('limits.toml', [
      'lattice = "blue"',
      '',
      '[limits]',
      'maxConnections = 64',
      'maxInboundStreams = 2',
      'max-inbound-buffered-bytes-per-node = "128MiB"',
      'idleTimeoutMs = "30s"',
      'maxInstanceMemoryBytes = "1GiB"',
      'maxAdvertTtlMs = 120000',
      'maxInstancesPerCaller = 3',
      'minProgressBytes = "512KiB"',
      'callTimeoutMs = "1500ms"'
    ].join('\n'))
    expect(await loadConfigFile(toml)).toEqual({ lattice: 'blue', limits: expected })
  })

  it('refuses every limit the node cannot take with invalid-config, naming the file, line and limit and what it takes', async () => {
    const cases: Array<[string, string, number, string, RegExp]> = [
      ['u.yaml', 'lattice: blue\nlimits:\n  maxInboundStream: 2\n', 3, 'limits.maxInboundStream', /unknown limit "maxInboundStream"; the limits are maxInboundStreams, /],
      ['n.yaml', 'limits:\n  maxInboundStreams: -1\n', 2, 'limits.maxInboundStreams', /-1.*it takes a whole number from 0 to 9007199254740991/],
      ['f.yaml', 'limits:\n  maxInboundStreams: 2.5\n', 2, 'limits.maxInboundStreams', /2\.5.*a whole number/],
      ['big.yaml', 'limits:\n  maxFrameBytes: 9007199254740993\n', 2, 'limits.maxFrameBytes', /whole number of bytes from 0 to 9007199254740991/],
      ['e300.yaml', 'limits:\n  maxFrameBytes: 1e300\n', 2, 'limits.maxFrameBytes', /bytes/],
      ['timer.yaml', 'limits:\n\n  idleTimeoutMs: 3000000000\n', 3, 'limits.idleTimeoutMs', /milliseconds from 0 to 2147483647/],
      ['days.yaml', 'limits:\n  idleTimeoutMs: 30d\n', 2, 'limits.idleTimeoutMs', /30d.*500ms, 30s, 2m/],
      ['unit.yaml', 'limits:\n  maxFrameBytes: 64MB\n', 2, 'limits.maxFrameBytes', /64MB.*512KiB, 64MiB, 1GiB/],
      ['word.yaml', 'limits:\n  maxConnections: lots\n', 2, 'limits.maxConnections', /lots/],
      ['list.yaml', 'limits:\n  maxConnections: [1, 2]\n', 2, 'limits.maxConnections', /not a list/],
      ['table.yaml', 'limits:\n  maxConnections: {a: 1}\n', 2, 'limits.maxConnections', /not a table/],
      ['bool.yaml', 'limits:\n  maxConnections: true\n', 2, 'limits.maxConnections', /not boolean/],
      ['null.yaml', 'limits:\n  maxConnections:\n', 2, 'limits.maxConnections', /not nothing/],
      ['twice.yaml', 'limits:\n  maxConnections: 1\n  max-connections: 2\n', 3, 'limits.max-connections', /given twice/],
      ['flat.yaml', 'limits: 64\n', 1, 'limits', /must be a table of <limit>: <value>/],
      ['u.toml', 'lattice = "blue"\n[limits]\nmaxInboundStreams = 2\nnope = 1\n', 4, 'limits.nope', /unknown limit "nope"/],
      ['n.toml', 'limits.maxInboundStreams = -3\n', 1, 'limits.maxInboundStreams', /-3/],
      ['t.toml', 'limits = { idleTimeoutMs = "soon" }\n', 1, 'limits.idleTimeoutMs', /soon/]
    ]
    for (const [name, text, line, key, message] of cases) {
      const err = await configError(await file(name, text))
      expect(err, name).toMatchObject({ code: 'invalid-config', line, key })
      expect(err.message, name).toContain(`${name}:${line}: ${key}: `)
      expect(err.message, name).toMatch(message)
    }
  })

  it('refuses a huge file and deeply nested values as mistakes in the file, quickly', async () => {
    const huge = await configError(await file('huge.yaml', `limits:\n${'  maxConnections: 1\n'.repeat(maxConfigFileBytes / 16)}`))
    expect(huge).toMatchObject({ code: 'bad-config' })
    expect(huge.message).toContain(`at most ${maxConfigFileBytes} bytes`)
    const depth = 100_000
    for (const [name, text] of [
      ['deep.yaml', `limits:\n  maxConnections: ${'['.repeat(depth)}${']'.repeat(depth)}\n`],
      ['deep-map.yaml', `limits: ${'{a: '.repeat(depth)}1${'}'.repeat(depth)}\n`],
      ['deep.toml', `[limits]\nmaxConnections = ${'['.repeat(depth)}${']'.repeat(depth)}\n`]
    ]) {
      const err = await configError(await file(name, text))
      expect(err.code, name).toBe('bad-config')
      expect(err.message, name).toMatch(new RegExp(`${name}:\\d+: (values are nested too deeply|.*excessively nested)`))
    }
  })
})

describe('limits by name', () => {
  it('knows every field of every limits object the node takes, derived from their defaults', () => {
    const objects = [defaultNodeLimits, defaultSessionLimits, defaultAdvertIntakeLimits, defaultAdvertTimings, defaultRuntimeLimits, defaultConnectionLimits, defaultStreamLimits, defaultSecurityLimits, defaultMessagingLimits, defaultHttpLimits, defaultArtifactLimits, defaultControlLimits, defaultAppLimits]
    const names = objects.flatMap(o => Object.keys(o))
    expect([...limitCatalog.keys()].sort()).toEqual([...names, 'maxInstancesPerCaller'].sort())
    for (const name of names) {
      const info = limitCatalog.get(name)!
      // the default reads back through --limit as itself, in its own unit
      expect(parseLimitArg(`${name}=${formatLimit(info.unit, info.default!)}`), name).toEqual([name, info.default])
    }
  })

  it('routes each limit to the init object that takes it', () => {
    expect(limitInits({ maxInboundStreams: 2, idleTimeoutMs: 500, maxAdvertsPerPeerPerMinute: 10, advertTtlMs: 5000, maxInstances: 4, maxConnections: 9, maxEarlyStreams: 8 })).toEqual({
      limits: { maxInboundStreams: 2 },
      sessionLimits: { idleTimeoutMs: 500 },
      advertLimits: { maxAdvertsPerPeerPerMinute: 10 },
      timings: { advertTtlMs: 5000 },
      runtimeLimits: { maxInstances: 4 },
      connectionLimits: { maxConnections: 9 },
      streamLimits: { maxEarlyStreams: 8 }
    })
    expect(limitInits({ maxHttpHeaders: 50, httpHeadersTimeoutMs: 2000 })).toEqual({ httpLimits: { maxHttpHeaders: 50, httpHeadersTimeoutMs: 2000 } })
    expect(limitInits({ 'max-artifact-cache-bytes': 1024, peerArtifactTimeoutMs: 500 })).toEqual({ artifactLimits: { maxArtifactCacheBytes: 1024, peerArtifactTimeoutMs: 500 } })
    expect(limitInits({ maxEventQueue: 16, maxLabelValueBytes: 1024 })).toEqual({ controlLimits: { maxEventQueue: 16, maxLabelValueBytes: 1024 } })
  })

  it('refuses a stream window larger than the read buffer, as the libp2p layer does', () => {
    expect(() => limitInits({ maxStreamWindowBytes: 16 * 1024 * 1024 })).toThrow(expect.objectContaining({ code: 'invalid-config', message: expect.stringMatching(/maxStreamWindowBytes .* must not exceed maxReadBufferBytes/) }))
    expect(limitInits({ maxStreamWindowBytes: 16 * 1024 * 1024, maxReadBufferBytes: 32 * 1024 * 1024 }).streamLimits).toEqual({ maxStreamWindowBytes: 16 * 1024 * 1024, maxReadBufferBytes: 32 * 1024 * 1024 })
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

describe('per-component runtime limits (--component-limit, component-limit:)', () => {
  it('parses <component>:<limit>=<value> in the limit\'s unit, by either spelling', () => {
    expect(parseComponentLimitArg('upper:minInstances=2')).toEqual({ component: 'upper', name: 'minInstances', value: 2 })
    expect(parseComponentLimitArg('upper:instance-idle-timeout-ms=30s')).toEqual({ component: 'upper', name: 'instanceIdleTimeoutMs', value: 30_000 })
    expect(parseComponentLimitArg('up.v2:maxInstanceMemoryBytes=64MiB')).toEqual({ component: 'up.v2', name: 'maxInstanceMemoryBytes', value: 64 * 2 ** 20 })
  })

  it('refuses malformed text, unknown limits, bad values and limits of the whole node', () => {
    for (const bad of ['upper', 'upper:minInstances', ':minInstances=1', 'upper:=1', 'up per:minInstances=1', 'upper:noSuchLimit=1', 'upper:minInstances=-1', 'upper:minInstances=lots', 'upper:instanceIdleTimeoutMs=' + '9'.repeat(400)]) {
      expect(() => parseComponentLimitArg(bad), bad).toThrow()
    }
    expect(() => parseComponentLimitArg('upper:maxInboundStreams=4')).toThrow(/a limit of the node, not of one component/)
    expect(() => parseComponentLimitArg('upper:maxComponentBytes=1MiB')).toThrow(/a limit of the node/)
    expect(() => parseComponentLimitArg('upper:spareWorkers=2')).toThrow(/a limit of the node/)
  })

  it('reads them from a config file', async () => {
    const path = await file('component-limits.yaml', 'component-limit: ["upper:minInstances=1", "upper:instanceIdleTimeoutMs=2m"]\n')
    expect(await loadConfigFile(path)).toEqual({ componentLimit: [{ component: 'upper', name: 'minInstances', value: 1 }, { component: 'upper', name: 'instanceIdleTimeoutMs', value: 120_000 }] })
    const err = await configError(await file('component-limits-bad.yaml', 'component-limit: ["upper:maxInboundStreams=4"]\n'))
    expect(err.code).toBe('bad-config')
    expect(err.message).toMatch(/component-limit.*maxInboundStreams is a limit of the node/)
  })
})
