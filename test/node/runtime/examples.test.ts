import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { RuntimeError } from '../../../node/runtime/errors.ts'
import { handleKey } from '../../../node/runtime/values.ts'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { examplePaths, startRuntime, tempDir, type TestRuntime } from './helpers.ts'

const names = ['hello', 'upper', 'shout', 'counter', 'sandbox-probe']
const PROBE = 'wasmesh:examples/probe'

describe.each(['worker', 'inline'] as const)('the example components (%s)', isolation => {
  let paths: Record<string, string>
  let t: TestRuntime
  const resolved: Array<[string, string, unknown[]]> = []
  const store = new Map<string, bigint>()
  const buckets = new Map<string, string>()
  const dropped: string[] = []

  beforeAll(async () => {
    paths = await examplePaths(names)
    t = await startRuntime({
      limits: { callTimeoutMs: 10_000 },
      resolver: async (iface, func, params) => {
        resolved.push([iface, func, params])
        if (iface === 'local:demo/host' && func === 'log') return []
        if (iface === 'local:demo/upper' && func === 'to-upper') {
          const upper = t.runtime.components().find(c => c.name === 'upper')
          if (upper === undefined) throw new RuntimeError('unresolved-import', 'no upper')
          return await t.runtime.call(upper.id, iface, func, params)
        }
        if (iface === 'wasi:keyvalue/store@0.2.0-draft' && func === 'open') {
          const handle = crypto.getRandomValues(new Uint8Array(8))
          buckets.set(handleKey(handle), params[0] as string)
          return [{ tag: 'ok', val: handle }]
        }
        if (iface === 'wasi:keyvalue/store@0.2.0-draft' && func === '[resource-drop]bucket') {
          dropped.push(handleKey(params[0] as Uint8Array))
          return []
        }
        if (iface === 'wasi:keyvalue/atomics@0.2.0-draft' && func === 'increment') {
          const [bucket, key, delta] = params as [Uint8Array, string, bigint | number]
          const k = `${buckets.get(handleKey(bucket)) ?? '?'}/${key}`
          const next = (store.get(k) ?? 0n) + BigInt(delta)
          store.set(k, next)
          return [{ tag: 'ok', val: next }]
        }
        throw new RuntimeError('unresolved-import', `nobody serves ${iface}#${func}`)
      }
    })
  }, 600_000)
  afterAll(async () => { await t?.close() })

  it('hello returns its greeting', async () => {
    const c = await t.runtime.load(paths.hello, { isolation })
    expect(c.name).toBe('hello')
    expect(c.exports.functions.map(f => f.name)).toContain('hello-world')
    expect(await t.runtime.call(c.id, '', 'hello-world', [])).toEqual(['Hello, World!'])
  })

  it("upper's local:demo/host#log reaches the resolver", async () => {
    const c = await t.runtime.load(paths.upper, { isolation })
    expect(c.imports.interfaces.map(i => i.id)).toEqual(['local:demo/host'])
    expect(await t.runtime.call(c.id, 'local:demo/upper', 'to-upper', ['mesh'])).toEqual(['MESH'])
    expect(resolved.some(([i, f]) => i === 'local:demo/host' && f === 'log')).toBe(true)
  })

  it('shout calls to-upper through the resolver (remote import linking)', async () => {
    await t.runtime.load(paths.upper, { isolation })
    const c = await t.runtime.load(paths.shout, { isolation })
    const [out] = await t.runtime.call(c.id, 'local:demo/shout', 'shout', ['hey'])
    expect(out).toMatch(/HEY/)
    expect(resolved.some(([i, f]) => i === 'local:demo/upper' && f === 'to-upper')).toBe(true)
  })

  it('counter uses an imported resource (a bucket handle) through the resolver and drops it', async () => {
    const c = await t.runtime.load(paths.counter, { isolation })
    const [a] = await t.runtime.call(c.id, 'wasmesh:examples/counter', 'increment', ['hits'])
    const [b] = await t.runtime.call(c.id, 'wasmesh:examples/counter', 'increment', ['hits'])
    expect(BigInt(b as bigint)).toBe(BigInt(a as bigint) + 1n)
    expect(store.get('counter/hits')).toBe(2n)
    await expect.poll(() => dropped.length).toBeGreaterThanOrEqual(1)
  })

  it('the sandbox refuses every escape the probe tries', async () => {
    const c = await t.runtime.load(paths['sandbox-probe'], { isolation })
    const attempts: Array<[string, unknown[]]> = [
      ['read-passwd', []], ['list-root', []], ['read-env', []],
      ['connect-tcp', ['127.0.0.1', 1]], ['resolve-name', ['localhost']]
    ]
    for (const [func, params] of attempts) {
      // A refusal is err(...) or, where the shim's refusal does not lower, a trap: never ok.
      const outcome = await t.runtime.call(c.id, PROBE, func, params).then(
        ([r]) => (r as { tag: string }).tag,
        (err: RuntimeError) => err.code)
      expect([func, outcome]).toEqual([func, expect.stringMatching(/^(err|trap)$/)])
    }
  })

  it('grants a read-only directory and named environment variables only when configured', async () => {
    const dir = await tempDir()
    const other = await startRuntime()
    try {
      await mkdir(join(dir.path, 'etc'))
      await writeFile(join(dir.path, 'etc', 'passwd'), 'granted-file-content')
      const c = await other.runtime.load(paths['sandbox-probe'], { isolation, grants: { readOnlyDirs: { '/': dir.path }, env: { GRANTED_VAR: '1' } } })
      const [passwd] = await other.runtime.call(c.id, PROBE, 'read-passwd', [])
      expect(passwd).toEqual({ tag: 'ok', val: expect.stringContaining('granted-file-content') })
      const [env] = await other.runtime.call(c.id, PROBE, 'read-env', [])
      expect(env).toEqual({ tag: 'ok', val: expect.stringContaining('GRANTED_VAR') })
      expect(JSON.stringify(env)).not.toContain('PATH')
      const [tcp] = await other.runtime.call(c.id, PROBE, 'connect-tcp', ['127.0.0.1', 1]).catch(() => [{ tag: 'trap' }])
      expect((tcp as { tag: string }).tag).not.toBe('ok')
      // Read-only means no file is created, truncated or written, even under a granted directory.
      const [created] = await other.runtime.call(c.id, PROBE, 'write-file', ['/new-file', 'x'])
      expect(created).toEqual({ tag: 'err', val: 'open-at: read-only' })
      const [overwritten] = await other.runtime.call(c.id, PROBE, 'write-file', ['/etc/passwd', 'x'])
      expect(overwritten).toEqual({ tag: 'err', val: 'open-at: read-only' })
      expect((await readdir(dir.path)).sort()).toEqual(['etc'])
      const [again] = await other.runtime.call(c.id, PROBE, 'read-passwd', [])
      expect(again).toEqual({ tag: 'ok', val: expect.stringContaining('granted-file-content') })
    } finally {
      await other.close()
      await dir.remove()
    }
  })

  it("sends the guest's stdout and stderr lines to the logger, prefixed by its name, never to the node's own output", async () => {
    const c = await t.runtime.load(paths['sandbox-probe'], { isolation })
    const written: string[] = []
    const spies = [process.stdout, process.stderr].map(stream => vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk))
      return true
    }))
    try {
      await t.runtime.call(c.id, PROBE, 'print', ['line to stdout', 'line to stderr'])
      await expect.poll(() => t.logs.filter(l => l.includes('line to'))).toEqual(['[sandbox-probe] line to stdout', '[sandbox-probe] line to stderr'])
    } finally {
      for (const spy of spies) spy.mockRestore()
    }
    expect(written.filter(w => w.includes('line to'))).toEqual([])
  })
})

describe('QuickJS-built components', () => {
  let t: TestRuntime
  afterAll(async () => { await t?.close() })

  it('never expose the init export that evaluates any JavaScript it is given', async () => {
    const paths = await examplePaths(['hello-quickjs'])
    t = await startRuntime()
    const c = await t.runtime.load(paths['hello-quickjs'])
    expect(c.exports.functions.map(f => f.name)).toEqual(['hello-world'])
    expect(await t.runtime.call(c.id, '', 'hello-world', [])).toEqual(['Hello, World!'])
    await expect(t.runtime.call(c.id, '', 'init', ['', 'globalThis.x = 1', undefined, false])).rejects.toMatchObject({ code: 'no-such-export' })
  }, 120_000)
})
