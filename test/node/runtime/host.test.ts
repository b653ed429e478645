// The host interfaces a node serves its own components (wasi:logging, wasi:config, wasmcloud:secrets, wasmcloud:bus), with real components.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ImportCaller } from '../../../node/runtime/index.ts'
import { RuntimeError } from '../../../node/runtime/errors.ts'
import { eventually } from '../../support/eventually.ts'
import { examplePaths, failure, startRuntime, type TestRuntime } from './helpers.ts'

const PROBE = 'wasmesh:examples/host-probe'
const SECRET = 's3cr3t-v4lue-9f1c'

interface Line { readonly level: string, readonly message: string }

describe.each(['worker', 'inline'] as const)('host interfaces (%s)', isolation => {
  let paths: Record<string, string>
  let t: TestRuntime
  const lines: Line[] = []
  /** Which link name each keyvalue import came with. */
  const linkNames: Array<string | undefined> = []
  const counters = new Map<string, bigint>()
  let id = ''

  beforeAll(async () => {
    paths = await examplePaths(['host-ifaces'])
    const record = (level: string) => (message: string) => { lines.push({ level, message }) }
    t = await startRuntime({
      limits: { callTimeoutMs: 10_000, maxLogMessageBytes: 256 },
      logger: { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') },
      secretSource: async (key, ref) => {
        if (ref === 'env:WASMESH_TEST_SECRET') return SECRET
        throw new Error(`secret ${key}: the environment variable ${ref.slice(4)} is not set`)
      },
      resolver: async (iface: string, func: string, params: unknown[], from: ImportCaller) => {
        if (iface.startsWith('wasi:keyvalue/store') && func === 'open') {
          linkNames.push(from.linkName)
          return [{ tag: 'ok', val: new TextEncoder().encode(from.linkName ?? 'default') }]
        }
        if (iface.startsWith('wasi:keyvalue/store') && func === '[resource-drop]bucket') return []
        if (iface.startsWith('wasi:keyvalue/atomics') && func === 'increment') {
          linkNames.push(from.linkName)
          const key = `${new TextDecoder().decode(params[0] as Uint8Array)}/${params[1] as string}`
          const n = (counters.get(key) ?? 0n) + BigInt(params[2] as number | bigint)
          counters.set(key, n)
          return [{ tag: 'ok', val: n }]
        }
        throw new RuntimeError('unresolved-import', `no ${iface}#${func}`)
      }
    })
    const c = await t.runtime.load(paths['host-ifaces'], {
      isolation,
      config: { greeting: 'hello', 'app.mode': 'test' },
      secrets: { token: 'env:WASMESH_TEST_SECRET', missing: 'env:WASMESH_TEST_UNSET' }
    })
    id = c.id
  }, 300_000)

  afterAll(async () => { await t?.close() })

  const call = async (func: string, ...params: unknown[]): Promise<unknown> => (await t.runtime.call(id, PROBE, func, params))[0]

  it('wasi:logging lines reach the node logger with the component name, at their level', async () => {
    for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'critical']) await call('log', level, 'ctx', `at ${level}`)
    const mine = lines.filter(l => l.message.includes('ctx: at '))
    expect(mine).toEqual([
      { level: 'debug', message: '[host-ifaces] ctx: at trace' },
      { level: 'debug', message: '[host-ifaces] ctx: at debug' },
      { level: 'info', message: '[host-ifaces] ctx: at info' },
      { level: 'warn', message: '[host-ifaces] ctx: at warn' },
      { level: 'error', message: '[host-ifaces] ctx: at error' },
      { level: 'error', message: '[host-ifaces] ctx: at critical' }
    ])
  })

  it('a huge message is cut to maxLogMessageBytes, and a forged line break is written escaped', async () => {
    await call('log', 'info', '', 'big' + 'x'.repeat(1024 * 1024))
    const big = lines.find(l => l.message.startsWith('[host-ifaces] big'))
    expect(big?.message).toContain('more bytes cut, maxLogMessageBytes 256')
    expect(big?.message.length).toBeLessThan(400)
    await call('log', 'info', '', 'one\n12:00:00.000 ERROR [node] forged')
    const forged = lines.find(l => l.message.includes('forged'))
    expect(forged?.message).toBe('[host-ifaces] one\\u000a12:00:00.000 ERROR [node] forged')
  })

  it('a level outside the WIT enum fails that call only (the instance is replaced)', async () => {
    const err = await failure(t.runtime.call(id, PROBE, 'log', ['loud', '', 'x']))
    expect(err.code).toBe('trap')
    await call('log', 'info', '', 'after the bad level')
    expect(lines.some(l => l.message === '[host-ifaces] after the bad level')).toBe(true)
  })

  it('wasi:config/store and the legacy wasi:config/runtime read the component\'s named config', async () => {
    expect(await call('config-get', 'greeting')).toBe('hello')
    expect(await call('config-get', 'nope')).toBeUndefined()
    expect(await call('config-get', 'k'.repeat(1024 * 1024))).toBeUndefined()
    expect(await call('config-all')).toEqual([['greeting', 'hello'], ['app.mode', 'test']])
    expect(await call('runtime-config-get', 'app.mode')).toBe('test')
  })

  it('wasmcloud:secrets reveals only granted secrets; a source that fails says so without a value', async () => {
    expect(await call('secret', 'token')).toEqual({ tag: 'ok', val: SECRET })
    expect(await call('secret', 'other')).toEqual({ tag: 'err', val: 'not-found' })
    const missing = await call('secret', 'missing') as { tag: string, val: string }
    expect(missing.tag).toBe('err')
    expect(missing.val).toMatch(/^io: secret missing: the environment variable WASMESH_TEST_UNSET is not set/)
  })

  it('a revealed secret never reaches the log, even at debug', async () => {
    expect(await call('log-secret', 'token', 'debug')).toEqual({ tag: 'ok', val: SECRET.length })
    const secretLines = lines.filter(l => l.message.includes('the secret is'))
    expect(secretLines.map(l => l.message)).toEqual(expect.arrayContaining(['[host-ifaces] secret: the secret is [redacted]']))
    expect(lines.some(l => l.message.includes(SECRET))).toBe(false)
  })

  it('wasmcloud:bus/lattice set-link-name routes that instance\'s imports through the chosen link name', async () => {
    linkNames.length = 0
    expect(await call('increment-via', 'cache', 'a')).toBe(1n)
    expect(await call('increment-via', 'cache', 'a')).toBe(2n)
    expect(await call('increment-via', 'default', 'a')).toBe(1n)
    expect(linkNames).toEqual(['cache', 'cache', 'cache', 'cache', undefined, undefined])
    expect([...counters.keys()].sort()).toEqual(['cache/a', 'default/a'])
  })

  it('a link name that is not one fails that call, and the next call works', async () => {
    const err = await failure(t.runtime.call(id, PROBE, 'increment-via', ['not a name!', 'b']))
    expect(err.code).toBe('trap')
    expect(err.message).toContain('is not a link name')
    expect(await call('increment-via', 'default', 'b')).toBe(1n)
  })
})

describe('wasi:logging floods', () => {
  it('a component that logs without pause is held to maxLogLinesPerSecond, and the drop is reported', async () => {
    const [path] = Object.values(await examplePaths(['host-ifaces']))
    const lines: string[] = []
    const t = await startRuntime({
      limits: { maxLogLinesPerSecond: 5 },
      logger: { info: m => lines.push(m), error: m => lines.push(m), warn: m => lines.push(m) }
    })
    try {
      const c = await t.runtime.load(path, { isolation: 'inline' })
      const started = performance.now()
      for (let i = 0; i < 300; i++) await t.runtime.call(c.id, PROBE, 'log', ['info', '', `flood ${i}`])
      const seconds = (performance.now() - started) / 1000
      const written = lines.filter(l => l.includes('flood')).length
      expect(written).toBeGreaterThanOrEqual(5)
      // the burst, then the rate: never the 300 lines sent
      expect(written).toBeLessThanOrEqual(5 + Math.ceil(seconds * 5) + 1)
      // once the rate allows a line again, the first one says how many were dropped
      await eventually('the drop report', async () => {
        await t.runtime.call(c.id, PROBE, 'log', ['info', '', 'flood end'])
        return lines.some(l => /\[host-ifaces\] \d+ log lines dropped \(maxLogLinesPerSecond 5\)/.test(l))
      })
    } finally {
      await t.close()
    }
  }, 120_000)
})
