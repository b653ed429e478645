// The example components build offline, are components, export what their WIT says, and work once transpiled.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { Server } from 'node:net'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { transpileBytes } from '@bytecodealliance/jco-transpile'
import { componentWit } from '@bytecodealliance/jco-transpile/wasm-tools'
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples, examples, staleExamples } from '../../examples/build.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

const COLD_BUILD_MS = 15 * 60_000

/** `\0asm`, then version 0x0d and layer 1 for a component (a core module has version 1, layer 0). */
const COMPONENT_PREAMBLE = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]

/** What each example's printed WIT must contain (componentWit prints the root world only, not the interfaces' bodies). */
const expectedWit: Record<string, string[]> = {
  hello: ['export hello-world: func() -> string;'],
  upper: ['import local:demo/host;', 'export local:demo/upper;'],
  shout: ['import local:demo/upper;', 'export local:demo/shout;'],
  types: ['export wasmesh:examples/types;'],
  counter: ['import wasi:keyvalue/store@0.2.0-draft;', 'import wasi:keyvalue/atomics@0.2.0-draft;', 'export wasmesh:examples/counter;'],
  'sandbox-probe': ['import wasi:filesystem/preopens@0.2.12;', 'import wasi:cli/environment@0.2.12;', 'import wasi:sockets/tcp@0.2.12;', 'import wasi:sockets/ip-name-lookup@0.2.12;', 'export wasmesh:examples/probe;'],
  'sandbox-fetch': ['import wasi:http/outgoing-handler@', 'export wasmesh:examples/probe-http;'],
  arith: ['export wasmesh:examples/arith;'],
  'host-ifaces': ['import wasi:logging/logging@0.1.0-draft;', 'import wasi:config/store@0.2.0-draft;', 'import wasi:config/runtime@0.2.0-draft;',
    'import wasmcloud:secrets/store@0.1.0-draft;', 'import wasmcloud:secrets/reveal@0.1.0-draft;', 'import wasmcloud:bus/lattice@1.0.0;', 'export wasmesh:examples/host-probe;'],
  'http-client': ['import wasi:http/outgoing-handler@', 'export wasmesh:examples/http-client;'],
  'msg-pub': ['import wasmcloud:messaging/consumer@0.2.0;', 'export wasmesh:examples/messenger;'],
  'msg-sub': ['import wasmcloud:messaging/consumer@0.2.0;', 'import local:demo/host;', 'export wasmcloud:messaging/handler@0.2.0;'],
  'http-hello': ['export wasi:http/incoming-handler@0.2.10;'],
  // Written in WAT, so it imports only what it uses (wasi:http's types and the streams they name), nothing from WASI's CLI world.
  'http-hello-wat': ['import wasi:io/error@0.2.10;', 'import wasi:io/streams@0.2.10;', 'import wasi:http/types@0.2.10;', 'export wasi:http/incoming-handler@0.2.10;'],
  'http-echo': ['export wasi:http/incoming-handler@0.2.10;'],
  'http-counter': ['import wasi:keyvalue/store@0.2.0-draft;', 'import wasi:keyvalue/atomics@0.2.0-draft;', 'export wasi:http/incoming-handler@0.2.10;'],
  'http-files': ['import wasi:blobstore/types@0.2.0-draft;', 'import wasi:blobstore/container@0.2.0-draft;', 'import wasi:blobstore/blobstore@0.2.0-draft;', 'export wasi:http/incoming-handler@0.2.10;']
}

type Imports = Record<string, unknown>
/** A compiled core module (the project's TypeScript libs do not declare the WebAssembly global). */
interface CoreModule { readonly __brand?: 'WebAssembly.Module' }
const wasm = (globalThis as unknown as { WebAssembly: { compile: (bytes: Uint8Array) => Promise<CoreModule> } }).WebAssembly
interface Instantiable {
  instantiate: (getCoreModule: (path: string) => Promise<CoreModule>, imports: Imports) => Promise<Record<string, unknown>>
}
type Fn = (...args: unknown[]) => unknown
interface Sandbox {
  preopens?: Record<string, string>
  env?: Record<string, string>
  enableNetwork?: boolean
}

let paths: Record<string, string>
let scratch: ScratchDir
const transpiled = new Map<string, { dir: string, module: Instantiable }>()

/** Transpiles an example once (async instantiation, imports supplied by the caller) and instantiates it. */
async function instantiate (name: string, imports: Imports = {}, sandbox?: Sandbox): Promise<Record<string, unknown>> {
  let entry = transpiled.get(name)
  if (entry == null) {
    const bytes = new Uint8Array(await readFile(paths[name]))
    const { files } = await transpileBytes(bytes, { name, instantiation: 'async' })
    const dir = join(scratch.path, name)
    for (const [file, data] of Object.entries(files)) {
      await mkdir(dirname(join(dir, file)), { recursive: true })
      await writeFile(join(dir, file), data)
    }
    const module = await import(pathToFileURL(join(dir, `${name}.js`)).href) as Instantiable
    entry = { dir, module }
    transpiled.set(name, entry)
  }
  const { dir, module } = entry
  const shim = new WASIShim(sandbox == null ? undefined : { sandbox } as ConstructorParameters<typeof WASIShim>[0])
  return await module.instantiate(
    async path => await wasm.compile(new Uint8Array(await readFile(join(dir, path)))),
    { ...shim.getImportObject(), ...imports }
  )
}

function iface (instance: Record<string, unknown>, name: string): Record<string, Fn> {
  return instance[name] as Record<string, Fn>
}

beforeAll(async () => {
  paths = await ensureExamples()
  scratch = await scratchDir('examples')
}, COLD_BUILD_MS)

afterAll(async () => {
  await scratch?.remove()
})

describe('building', () => {
  it('builds every example to an absolute path under examples/build', () => {
    expect(Object.keys(paths).sort()).toEqual(examples.map(e => e.name).sort())
    for (const path of Object.values(paths)) expect(path).toMatch(/^\/.*\/examples\/build\/[a-z0-9-]+\.wasm$/)
  })

  it('produces components, not core modules', async () => {
    for (const [name, path] of Object.entries(paths)) {
      const head = [...(await readFile(path)).subarray(0, 8)]
      expect(head, name).toEqual(COMPONENT_PREAMBLE)
    }
  })

  it('exports and imports what the WIT of each example says', async () => {
    for (const spec of examples) {
      const wit = await componentWit(new Uint8Array(await readFile(paths[spec.name])))
      const base = spec.name.replace(/-quickjs$/, '')
      for (const line of expectedWit[base]) expect(wit, spec.name).toContain(line)
      // QuickJS-built components also export their engine's init function.
      if (spec.engine === 'quickjs') expect(wit, spec.name).toContain('export init: func(')
      // A hand-written module imports nothing beyond what its expected WIT lists.
      if (spec.engine === 'wat') for (const line of wit.split('\n').filter(l => l.trim().startsWith('import '))) expect(expectedWit[base], spec.name).toContain(line.trim())
    }
  })

  it('does not rebuild what is current', async () => {
    const before = await Promise.all(Object.values(paths).map(async p => (await stat(p)).mtimeMs))
    expect(await staleExamples()).toEqual([])
    await ensureExamples()
    const after = await Promise.all(Object.values(paths).map(async p => (await stat(p)).mtimeMs))
    expect(after).toEqual(before)
  })

  it('refuses an unknown example by name', async () => {
    await expect(ensureExamples({ names: ['no-such-example'] })).rejects.toMatchObject({ code: 'unknown-example' })
  })
})

describe('running the transpiled examples', () => {
  it.each(['hello', 'hello-quickjs'])('%s returns "Hello, World!"', async name => {
    const instance = await instantiate(name)
    expect((instance.helloWorld as Fn)()).toBe('Hello, World!')
  })

  it.each(['upper', 'upper-quickjs'])('%s logs through the host import and upper-cases', async name => {
    const logged: string[] = []
    const instance = await instantiate(name, { 'local:demo/host': { log: (msg: string) => { logged.push(msg) } } })
    expect(iface(instance, 'upper').toUpper('hello, mesh ß')).toBe('HELLO, MESH SS')
    expect(logged).toEqual(['hello, mesh ß'])
  })

  it('shout calls to-upper through its import, wherever that is served', async () => {
    const upper = await instantiate('upper-quickjs', { 'local:demo/host': { log: () => {} } })
    const shout = await instantiate('shout', { 'local:demo/upper': { toUpper: (msg: string) => iface(upper, 'upper').toUpper(msg) } })
    expect(iface(shout, 'shout').shout('hi')).toBe('HI!')
  })

  it('arith (WAT) is exact at the integer limits and echoes strings', async () => {
    const arith = iface(await instantiate('arith'), 'arith')
    expect(arith.add(0xffff_ffff, 1)).toBe(0)
    expect(arith.add(2 ** 31, 5)).toBe(2 ** 31 + 5)
    expect(arith.add64(2n ** 64n - 1n, 2n)).toBe(1n)
    expect(arith.add64(2n ** 53n, 1n)).toBe(2n ** 53n + 1n)
    expect(arith.sub64(-(2n ** 63n), 1n)).toBe(2n ** 63n - 1n)
    expect(arith.sub64(-5n, 7n)).toBe(-12n)
    for (const s of ['', 'héllo ✓ 😀', 'x'.repeat(100_000)]) expect(arith.echo(s)).toBe(s)
  })

  it.each(['counter', 'counter-quickjs'])('%s increments a key of bucket "counter" atomically', async name => {
    const calls: string[] = []
    class Bucket {
      readonly id: string
      readonly values = new Map<string, bigint>()
      constructor (id: string) {
        this.id = id
      }
    }
    const buckets = new Map<string, Bucket>()
    const instance = await instantiate(name, {
      'wasi:keyvalue/store': {
        Bucket,
        open: (id: string) => {
          calls.push(`open ${id}`)
          if (!buckets.has(id)) buckets.set(id, new Bucket(id))
          return buckets.get(id)
        }
      },
      'wasi:keyvalue/atomics': {
        increment: (bucket: Bucket, key: string, delta: bigint) => {
          calls.push(`increment ${bucket.id}/${key} by ${delta}`)
          const value = (bucket.values.get(key) ?? 0n) + delta
          bucket.values.set(key, value)
          return value
        }
      }
    })
    const counter = iface(instance, 'counter')
    expect(counter.increment('visits')).toBe(1n)
    expect(counter.increment('visits')).toBe(2n)
    expect(counter.increment('other')).toBe(1n)
    expect(calls).toEqual(['open counter', 'increment counter/visits by 1', 'open counter', 'increment counter/visits by 1', 'open counter', 'increment counter/other by 1'])
  })

  it.each(['types', 'types-quickjs'])('%s echoes a value of every WIT type (within both engines\' safe ranges)', async name => {
    const t = iface(await instantiate(name), 'types')
    const same: Array<[string, unknown]> = [
      ['echoBool', true], ['echoU8', 255], ['echoU16', 65535], ['echoU32', 2 ** 31 - 1], ['echoU64', 2n ** 53n],
      ['echoS8', -128], ['echoS16', -32768], ['echoS32', -(2 ** 31)], ['echoS64', 2n ** 53n],
      ['echoF32', 1.5], ['echoF64', 0.1], ['echoChar', '😀'], ['echoString', 'héllo'],
      ['echoBytes', new Uint8Array([0, 1, 255])], ['echoU16s', new Uint16Array([1, 65535])],
      ['echoStrings', ['a', '', 'ß']], ['echoNestedList', [new Uint32Array([1, 2]), new Uint32Array([])]],
      ['echoRecord', { name: 'n', age: 7, tags: ['x'], home: { x: -1, y: 2 } }],
      ['echoRecord', { name: '', age: 0, tags: [], home: undefined }],
      ['echoVariant', { tag: 'empty' }], ['echoVariant', { tag: 'circle', val: 1.5 }],
      ['echoVariant', { tag: 'rect', val: { x: 1, y: 2 } }], ['echoVariant', { tag: 'named', val: 'z' }],
      ['echoEnum', 'blue'], ['echoFlags', { read: true, write: false, exec: true }],
      ['echoOption', undefined], ['echoOption', 0],
      // jco tags the outer level of a nested option and leaves the inner one bare.
      ['echoNestedOption', { tag: 'none' }], ['echoNestedOption', { tag: 'some', val: undefined }], ['echoNestedOption', { tag: 'some', val: 'x' }],
      ['echoTuple', [1, 'a', true]], ['echoRecords', [{ x: 1, y: 2 }, { x: -3, y: 4 }]]
    ]
    for (const [fn, value] of same) expect(t[fn](value), `${fn}(${String(value)})`).toEqual(value)
    expect(t.echoF64(Number.NaN)).toBeNaN()
    // A top-level result comes back as its ok payload, or is thrown as its err payload.
    expect(t.echoResult({ tag: 'ok', val: 'fine' })).toBe('fine')
    expect(() => t.echoResult({ tag: 'err', val: 7 })).toThrow()
    expect(t.echoResultOk({ tag: 'ok', val: 3 })).toBe(3)
    expect(t.echoResultErr({ tag: 'ok', val: undefined })).toBeUndefined()
    expect(t.echoResultEmpty({ tag: 'ok', val: undefined })).toBeUndefined()
    expect(t.echoMany(1, 'b', new Uint8Array([3]))).toEqual([1, 'b', new Uint8Array([3])])
  })
})

describe('sandbox-probe', () => {
  let server: Server
  let port: number
  let root: ScratchDir

  beforeAll(async () => {
    server = createServer(socket => socket.destroy())
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as { port: number }).port
    root = await scratchDir('probe-root')
    await mkdir(join(root.path, 'etc'))
    await writeFile(join(root.path, 'etc', 'passwd'), 'probe:x:1:1::/:/bin/false\n')
  })

  afterAll(async () => {
    await new Promise<void>(resolve => server.close(() => { resolve() }))
    await root?.remove()
  })

  it('gets through when the host grants access (so a refusal is not a broken probe)', async () => {
    const probe = iface(await instantiate('sandbox-probe', {}, { preopens: { '/': root.path }, env: { PROBE_VISIBLE: '1' }, enableNetwork: true }), 'probe')
    expect(probe.readPasswd()).toBe('read 26 bytes: probe:x:1:1::/:/bin/false')
    expect(probe.listRoot()).toBe('1 entries: etc')
    expect(probe.readEnv()).toBe('1 variables: PROBE_VISIBLE')
    expect(probe.connectTcp('127.0.0.1', port)).toBe(`connected to 127.0.0.1:${port}`)
  })

  it('reports each refusal as err("<step>: <reason>") when sandboxed', async () => {
    const probe = iface(await instantiate('sandbox-probe', {}, { preopens: {}, env: {}, enableNetwork: false }), 'probe')
    const refusal = (fn: () => unknown): string => {
      try {
        fn()
      } catch (err) {
        return String(err)
      }
      throw new Error('the probe got through')
    }
    expect(refusal(() => probe.readPasswd())).toMatch(/^preopens: no preopened directory covers \/etc\/passwd/)
    expect(refusal(() => probe.listRoot())).toMatch(/^preopens: no preopened directory "\/"/)
    expect(refusal(() => probe.readEnv())).toBe('get-environment: the environment is empty')
    expect(refusal(() => probe.connectTcp('127.0.0.1', port))).toBe('start-connect: access-denied')
    expect(refusal(() => probe.resolveName('localhost'))).toMatch(/^resolve-addresses: /)
  })
})
