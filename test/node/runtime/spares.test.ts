// Spare workers: started with the first worker instance, taken by the next ones (scale from zero without a thread's cold start), each keeping the sandbox its component was given; and preview2-shim's I/O thread started only on I/O.
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { lazySynckit } from '../../../node/runtime/shim-io.ts'
import { eventually } from '../../support/eventually.ts'
import { examplePaths, repoDir, startRuntime, tempDir, type TestRuntime } from './helpers.ts'

const run = promisify(execFile)
const PROBE = 'wasmesh:examples/probe'
let paths: Record<string, string>
let t: TestRuntime | undefined

beforeAll(async () => {
  paths = await examplePaths(['arith', 'sandbox-probe'])
}, 300_000)

afterEach(async () => {
  await t?.close()
  t = undefined
})

describe('spare workers', () => {
  it('start with the first worker instance, are taken by the next, and end with the runtime', async () => {
    t = await startRuntime({ limits: { spareWorkers: 1, instanceIdleTimeoutMs: 50, minInstances: 0 } })
    expect(t.runtime.spareWorkers).toBe(0)
    // An inline component needs no worker: no spare is started for it.
    const inline = await t.runtime.load(paths.arith, { isolation: 'inline' })
    expect(await t.runtime.call(inline.id, 'wasmesh:examples/arith', 'add', [1, 2])).toEqual([3])
    expect(t.runtime.spareWorkers).toBe(0)
    await t.runtime.unload(inline.id)

    const c = await t.runtime.load(paths.arith, { isolation: 'worker' })
    await eventually('a spare ready', () => t?.runtime.spareWorkers === 1)
    // Reaped, and started again from the spare on the next call, which is replaced at once.
    for (let round = 0; round < 3; round++) {
      await eventually('the instance reaped', () => t?.runtime.stats(c.id).instances === 0)
      await eventually('a spare ready', () => t?.runtime.spareWorkers === 1)
      expect(await t.runtime.call(c.id, 'wasmesh:examples/arith', 'add', [40, round])).toEqual([40 + round])
    }
    await eventually('the replacement ready', () => t?.runtime.spareWorkers === 1)
    expect(t.runtime.stats(c.id).reaped).toBeGreaterThanOrEqual(3)
    await t.runtime.stop()
    expect(t.runtime.spareWorkers).toBe(0)
  })

  it('spareWorkers 0: every worker instance starts its own thread', async () => {
    t = await startRuntime({ limits: { spareWorkers: 0 } })
    const c = await t.runtime.load(paths.arith, { isolation: 'worker' })
    expect(await t.runtime.call(c.id, 'wasmesh:examples/arith', 'add', [2, 2])).toEqual([4])
    expect(t.runtime.spareWorkers).toBe(0)
  })

  it('hold no grant: an instance started from one gets exactly its own component\'s sandbox', async () => {
    const dir = await tempDir()
    try {
      await writeFile(join(dir.path, 'passwd'), 'granted-file-content')
      t = await startRuntime({ limits: { spareWorkers: 1 } })
      // The first worker instance starts its own thread and the spare; the next two are started from spares.
      await t.runtime.load(paths.arith, { isolation: 'worker' })
      await eventually('a spare ready', () => t?.runtime.spareWorkers === 1)
      const granted = await t.runtime.load(await readFile(paths['sandbox-probe']), { isolation: 'worker', grants: { readOnlyDirs: { '/etc': dir.path }, env: { GRANTED_VAR: '1' } } })
      const [env] = await t.runtime.call(granted.id, PROBE, 'read-env', [])
      expect(env).toEqual({ tag: 'ok', val: expect.stringContaining('GRANTED_VAR') })
      expect(JSON.stringify(env)).not.toContain('PATH')
      const [passwd] = await t.runtime.call(granted.id, PROBE, 'read-passwd', [])
      expect(passwd).toEqual({ tag: 'ok', val: expect.stringContaining('granted-file-content') })
      const [written] = await t.runtime.call(granted.id, PROBE, 'write-file', ['/etc/passwd', 'x'])
      expect(written).toEqual({ tag: 'err', val: 'open-at: read-only' })

      // A component of different bytes (a custom section appended), granted nothing, started from the next spare.
      const bytes = await readFile(paths['sandbox-probe'])
      const other = await t.runtime.load(Buffer.concat([bytes, Buffer.from([0, 6, 5, ...Buffer.from('spare')])]), { isolation: 'worker' })
      expect(other.id).not.toBe(granted.id)
      for (const [func, params] of [['read-passwd', []], ['read-env', []], ['connect-tcp', ['127.0.0.1', 1]]] as const) {
        const outcome = await t.runtime.call(other.id, PROBE, func, [...params]).then(([r]) => (r as { tag: string }).tag, (err: { code: string }) => err.code)
        expect([func, outcome]).toEqual([func, expect.stringMatching(/^(err|trap)$/)])
      }
      const [noEnv] = await t.runtime.call(other.id, PROBE, 'read-env', []).catch(() => [{ tag: 'trap' }])
      expect(JSON.stringify(noEnv)).not.toContain('GRANTED_VAR')
    } finally {
      await dir.remove()
    }
  })
})

describe("preview2-shim's I/O thread", () => {
  it('the installed shim still has the shape the lazy rewrite expects', async () => {
    const require = createRequire(join(repoDir, 'package.json'))
    const instantiation = require.resolve('@bytecodealliance/preview2-shim/instantiation')
    const source = await readFile(join(instantiation, '..', '..', 'synckit', 'index.js'), 'utf8')
    const lazy = lazySynckit(source)
    expect(lazy).toBeDefined()
    expect(lazy).toMatch(/export function createSyncFn\(/)
    expect(lazySynckit('export const nothing = 1')).toBeUndefined()
  })

  it('is not started by importing the shim, only by its first I/O', async () => {
    // In a process of its own: the threads are counted from /proc.
    const script = `
      import { readFileSync } from 'node:fs'
      const threads = () => Number(/Threads:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1])
      const { installLazyShimIo } = await import(${JSON.stringify(join(repoDir, 'node/runtime/shim-io.ts'))})
      installLazyShimIo()
      await import('@bytecodealliance/preview2-shim/instantiation')
      const { monotonicClock } = await import('@bytecodealliance/preview2-shim/clocks')
      const imported = threads()
      const { poll } = await import('@bytecodealliance/preview2-shim/io')
      poll.poll([monotonicClock.subscribeDuration(1n)])
      console.log(JSON.stringify({ imported, polled: threads(), mode: (await import(${JSON.stringify(join(repoDir, 'node/runtime/shim-io.ts'))})).lazyShimIo }))
    `
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: repoDir })
    const { imported, polled, mode } = JSON.parse(stdout.trim()) as { imported: number, polled: number, mode: string }
    expect(mode).toBe('lazy')
    // The first blocking call started it, and it works.
    expect(polled).toBe(imported + 1)
  })
})
