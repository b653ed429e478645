import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseWit } from '../../../protocol/wit/index.ts'
import { createLogger } from '../../../node/logger.ts'
import { createProvider, loadProviderModule } from '../../../node/providers/sdk.ts'
import type { Provider, ProviderContext, ProviderModule } from '../../../node/providers/sdk.ts'
import { scratchDir } from '../../support/scratch.ts'
import type { ScratchDir } from '../../support/scratch.ts'

const TINY = `package test:tiny@0.1.0;

interface counter {
  variant error { bad(string), gone }

  resource acc {
    constructor(start: u32);
    add: func(n: u32) -> u32;
    merge: static func(a: borrow<acc>, b: borrow<acc>) -> acc;
  }

  make: func(start: u32) -> result<acc, error>;
  take: func(a: acc) -> u32;
  fail: func(how: string) -> result<u32, error>;
  echo: func(s: string) -> string;
}

interface other {
  ping: func() -> string;
}

world tiny {
  export counter;
}
`
const IFACE = 'test:tiny/counter@0.1.0'

class Acc {
  n: number
  constructor (n: number) { this.n = n }
}

/** A tiny provider recording what it was told, so that tests see what the SDK handed it. */
function tiny (overrides: Partial<Record<string, (...args: never[]) => unknown>> = {}): ProviderModule & { dropped: Acc[], ctx?: ProviderContext } {
  const m: ProviderModule & { dropped: Acc[], ctx?: ProviderContext } = {
    name: 'tiny',
    wit: { 'tiny.wit': TINY },
    world: 'test:tiny/tiny@0.1.0',
    dropped: [],
    start (ctx) { m.ctx = ctx },
    exports: {
      [IFACE]: {
        '[constructor]acc': (start: number) => new Acc(start),
        '[method]acc.add': (self: Acc, n: number) => (self.n += n),
        '[static]acc.merge': (a: Acc, b: Acc) => new Acc(a.n + b.n),
        '[resource-drop]acc': (self: Acc) => { m.dropped.push(self) },
        make: (start: number) => start > 100 ? { tag: 'err', val: { tag: 'bad', val: 'too big' } } : { tag: 'ok', val: new Acc(start) },
        take: (a: Acc) => a.n,
        fail: (how: string) => {
          if (how === 'coded') throw Object.assign(new Error('nope'), { code: 'no-such-store' })
          if (how === 'plain') throw new Error('plain failure')
          if (how === 'wrong') return { tag: 'ok', val: 'not a number' }
          return { tag: 'err', val: { tag: 'gone' } }
        },
        echo: (s: string) => s,
        ...overrides
      }
    }
  }
  return m
}

const A = 'peer-a'
const B = 'peer-b'

async function started (m: ProviderModule, opts: Parameters<typeof createProvider>[1] = {}): Promise<Provider> {
  const p = await createProvider(m, opts)
  await p.start()
  return p
}

describe('provider SDK', () => {
  describe('checks the module against its WIT before serving anything', () => {
    it('accepts a module that matches and serves complete, parseable WIT', async () => {
      const p = await createProvider(tiny())
      expect(p.service.name).toBe('tiny')
      expect(p.service.interfaces.map(i => i.id)).toEqual([IFACE])
      expect(p.service.digest).toMatch(/^[0-9a-f]{64}$/)
      const wit = parseWit({ 'described.wit': p.service.wit })
      expect([...wit.findInterface(IFACE)!.functions.keys()]).toContain('[method]acc.add')
    })

    it('names every missing function, extra function and wrong arity at once', async () => {
      const m = tiny({ echo: undefined, extra: () => 1, take: (_a: Acc, _b: number) => 0 })
      delete (m.exports[IFACE] as Record<string, unknown>).echo
      const err = await createProvider(m).catch((e: unknown) => e) as { code: string, message: string }
      expect(err.code).toBe('provider-mismatch')
      expect(err.message).toContain("missing function 'echo' (s)")
      expect(err.message).toContain("'extra' is not a function of the interface")
      expect(err.message).toContain("'take' takes 2 parameters, its WIT has 1 (a)")
    })

    it('refuses implementations of interfaces the world does not export, an unknown world and bad WIT', async () => {
      const extra = { ...tiny(), exports: { ...tiny().exports, 'test:tiny/other@0.1.0': { ping: () => 'pong' } } }
      await expect(createProvider(extra)).rejects.toMatchObject({ code: 'provider-mismatch', message: expect.stringContaining("exports['test:tiny/other@0.1.0'] is not an interface the world") })
      await expect(createProvider({ ...tiny(), world: 'test:tiny/nope@0.1.0' })).rejects.toMatchObject({ code: 'provider-mismatch', message: expect.stringContaining('no world test:tiny/nope@0.1.0') })
      await expect(createProvider({ ...tiny(), wit: { 'bad.wit': 'package x:y; interface {' } })).rejects.toMatchObject({ code: 'provider-mismatch', message: expect.stringContaining('does not parse') })
      await expect(createProvider({ ...tiny(), exports: {} })).rejects.toMatchObject({ message: expect.stringContaining(`no implementation of the exported interface ${IFACE}`) })
    })
  })

  describe('resources', () => {
    let p: Provider
    let m: ReturnType<typeof tiny>
    beforeAll(async () => { m = tiny(); p = await started(m) })
    afterAll(async () => { await p.stop() })

    it('gives out opaque 128-bit handles and hands methods the object back', async () => {
      const [h1] = await p.service.call(IFACE, '[constructor]acc', [5], { caller: A }) as [Uint8Array]
      const [h2] = await p.service.call(IFACE, '[constructor]acc', [5], { caller: A }) as [Uint8Array]
      expect(h1).toBeInstanceOf(Uint8Array)
      expect(h1.byteLength).toBe(16)
      expect(Buffer.compare(h1, h2)).not.toBe(0)
      expect(await p.service.call(IFACE, '[method]acc.add', [h1, 3], { caller: A })).toEqual([8])
      expect(await p.service.call(IFACE, '[method]acc.add', [h1, 1], { caller: A })).toEqual([9])
      const [merged] = await p.service.call(IFACE, '[static]acc.merge', [h1, h2], { caller: A }) as [Uint8Array]
      expect(await p.service.call(IFACE, '[method]acc.add', [merged, 0], { caller: A })).toEqual([14])
      for (const h of [h1, h2, merged]) await p.service.call(IFACE, '[resource-drop]acc', [h], { caller: A })
      expect(p.stats().handles).toBe(0)
      expect(m.dropped.map(a => a.n)).toEqual([9, 5, 14])
    })

    it('swaps handles inside results and takes owned handles away from the caller', async () => {
      const [made] = await p.service.call(IFACE, 'make', [7], { caller: A }) as [{ tag: string, val: Uint8Array }]
      expect(made.tag).toBe('ok')
      expect(made.val.byteLength).toBe(16)
      expect(await p.service.call(IFACE, 'make', [1000], { caller: A })).toEqual([{ tag: 'err', val: { tag: 'bad', val: 'too big' } }])
      expect(p.stats().handles).toBe(1)
      expect(await p.service.call(IFACE, 'take', [made.val], { caller: A })).toEqual([7])
      expect(p.stats().handles).toBe(0)
      await expect(p.service.call(IFACE, '[method]acc.add', [made.val, 1], { caller: A })).rejects.toMatchObject({ code: 'resource-lost' })
    })

    it('refuses a handle held by another peer, or never given out, with resource-lost', async () => {
      const [h] = await p.service.call(IFACE, '[constructor]acc', [1], { caller: A }) as [Uint8Array]
      await expect(p.service.call(IFACE, '[method]acc.add', [h, 1], { caller: B })).rejects.toMatchObject({ code: 'resource-lost' })
      await expect(p.service.call(IFACE, '[resource-drop]acc', [h], { caller: B })).rejects.toMatchObject({ code: 'resource-lost' })
      await expect(p.service.call(IFACE, '[method]acc.add', [new Uint8Array(16), 1], { caller: A })).rejects.toMatchObject({ code: 'resource-lost' })
      // the owner still has it
      expect(await p.service.call(IFACE, '[method]acc.add', [h, 1], { caller: A })).toEqual([2])
      await p.service.call(IFACE, '[resource-drop]acc', [h], { caller: A })
    })

    it('releases what a peer held when it disconnects, calling the drops', async () => {
      m.dropped.length = 0
      for (let i = 0; i < 3; i++) await p.service.call(IFACE, '[constructor]acc', [i], { caller: B })
      const [kept] = await p.service.call(IFACE, '[constructor]acc', [42], { caller: A }) as [Uint8Array]
      expect(p.stats().handles).toBe(4)
      p.service.peerGone?.(B)
      expect(p.stats().handles).toBe(1)
      await new Promise(resolve => setImmediate(resolve))
      expect(m.dropped.map(a => a.n).sort()).toEqual([0, 1, 2])
      expect(await p.service.call(IFACE, '[method]acc.add', [kept, 0], { caller: A })).toEqual([42])
      await p.service.call(IFACE, '[resource-drop]acc', [kept], { caller: A })
    })

    it('bounds the handles one peer may hold', async () => {
      const small = tiny()
      const q = await started(small, { limits: { maxHandlesPerPeer: 2 } })
      try {
        await q.service.call(IFACE, '[constructor]acc', [1], { caller: A })
        await q.service.call(IFACE, '[constructor]acc', [2], { caller: A })
        await expect(q.service.call(IFACE, '[constructor]acc', [3], { caller: A })).rejects.toMatchObject({ code: 'overloaded', message: expect.stringContaining('maxHandlesPerPeer 2') })
        // another peer is not affected
        await q.service.call(IFACE, '[constructor]acc', [4], { caller: B })
        expect(q.stats().handles).toBe(3)
      } finally {
        await q.stop()
      }
      // stopping released (and dropped) everything
      expect(q.stats().handles).toBe(0)
      expect(small.dropped.map(a => a.n).sort()).toEqual([1, 2, 4])
    })
  })

  it('swaps handles in record fields whose WIT names jco rewrites (`get-HTTP-body` -> getHttpBody, `%type` -> type)', async () => {
    const wit = `package test:names@0.1.0;

interface api {
  resource acc { value: func() -> u32; }
  record holder { get-HTTP-body: acc, %type: acc }
  make: func(a: u32, b: u32) -> holder;
}

world names { export api; }
`
    const api = 'test:names/api@0.1.0'
    const p = await started({
      name: 'names',
      wit: { 'names.wit': wit },
      world: 'test:names/names@0.1.0',
      exports: {
        [api]: {
          '[method]acc.value': (self: Acc) => self.n,
          '[resource-drop]acc': (_self: Acc) => {},
          make: (a: number, b: number) => ({ getHttpBody: new Acc(a), type: new Acc(b) })
        }
      }
    })
    try {
      const [pair] = await p.service.call(api, 'make', [3, 4], { caller: A }) as [{ getHttpBody: Uint8Array, type: Uint8Array }]
      expect(pair.getHttpBody.byteLength).toBe(16)
      expect(await p.service.call(api, '[method]acc.value', [pair.getHttpBody], { caller: A })).toEqual([3])
      expect(await p.service.call(api, '[method]acc.value', [pair.type], { caller: A })).toEqual([4])
    } finally {
      await p.stop()
    }
  })

  describe('supervision', () => {
    it('turns a throw into an error of that call only: its code, else internal, never a stack', async () => {
      const p = await started(tiny())
      try {
        await expect(p.service.call(IFACE, 'fail', ['coded'], { caller: A })).rejects.toMatchObject({ code: 'no-such-store', message: `${IFACE}#fail: nope` })
        const plain = await p.service.call(IFACE, 'fail', ['plain'], { caller: A }).catch((e: unknown) => e) as Error & { code: string }
        expect(plain.code).toBe('internal')
        expect(plain.message).toBe(`${IFACE}#fail failed: plain failure`)
        expect(plain.message).not.toContain('at ')
        // the contract's own error is a result, not a failure
        expect(await p.service.call(IFACE, 'fail', ['err'], { caller: A })).toEqual([{ tag: 'err', val: { tag: 'gone' } }])
        expect(await p.service.call(IFACE, 'echo', ['still serving'], { caller: A })).toEqual(['still serving'])
      } finally {
        await p.stop()
      }
    })

    it('catches a result that does not match the WIT as internal, naming the function', async () => {
      const p = await started(tiny())
      try {
        await expect(p.service.call(IFACE, 'fail', ['wrong'], { caller: A })).rejects.toMatchObject({
          code: 'internal',
          message: expect.stringContaining(`${IFACE}#fail returned a value that is not a result<u32, error>`)
        })
        expect(await p.service.call(IFACE, 'echo', ['fine'], { caller: A })).toEqual(['fine'])
      } finally {
        await p.stop()
      }
    })

    it('reports a start that fails and refuses calls', async () => {
      const p = await createProvider({ ...tiny(), start: () => { throw new Error('database unreachable') } })
      await expect(p.start()).rejects.toMatchObject({ code: 'provider-start-failed', message: 'provider tiny failed to start: database unreachable' })
      await expect(p.service.call(IFACE, 'echo', ['x'], { caller: A })).rejects.toMatchObject({ code: 'provider-stopped' })
    })

    it('answers an unknown function with no-such-function', async () => {
      const p = await started(tiny())
      await expect(p.service.call(IFACE, 'nope', [], { caller: A })).rejects.toMatchObject({ code: 'no-such-function' })
      await p.stop()
    })
  })

  describe('config and secrets', () => {
    let dir: ScratchDir
    beforeAll(async () => { dir = await scratchDir('sdk') })
    afterAll(async () => { await dir?.remove() })

    it('resolves env: and file: secrets and never lets their values into logs, errors or adverts', async () => {
      const file = join(dir.path, 'password')
      await writeFile(file, 'file-secret-value\n')
      process.env.WASMESH_TEST_TOKEN = 'env-secret-value'
      const lines: string[] = []
      const log = createLogger({ level: 'debug', format: 'text', write: l => { lines.push(l) } })
      const m = tiny({ echo: (s: string) => { throw new Error(`refused ${s} with ${m.ctx?.secret('token') ?? ''}`) } })
      const p = await started(m, { config: { host: 'db.local' }, secrets: { token: 'env:WASMESH_TEST_TOKEN', password: `file:${file}` }, log })
      try {
        const ctx = m.ctx!
        expect(ctx.config).toEqual({ host: 'db.local' })
        expect(ctx.secret('token')).toBe('env-secret-value')
        expect(ctx.secret('password')).toBe('file-secret-value')
        expect(ctx.secret('missing')).toBeUndefined()
        ctx.log.info(`connecting with password ${ctx.secret('password')!} and token ${ctx.secret('token')!}`)
        const err = await p.service.call(IFACE, 'echo', ['x'], { caller: A }).catch((e: unknown) => e) as Error
        expect(err.message).toBe(`${IFACE}#echo failed: refused x with [redacted]`)
        expect(lines.some(l => l.includes('connecting with password [redacted] and token [redacted]'))).toBe(true)
        const everything = [...lines, err.message, p.service.wit, p.service.digest, p.service.name, JSON.stringify(p.stats())].join('\n')
        expect(everything).not.toContain('env-secret-value')
        expect(everything).not.toContain('file-secret-value')
      } finally {
        await p.stop()
        delete process.env.WASMESH_TEST_TOKEN
      }
    })

    it('refuses a secret given as a value, and fails the start on one it cannot read', async () => {
      await expect(createProvider(tiny(), { secrets: { token: 'hunter2' } })).rejects.toMatchObject({ code: 'invalid-config' })
      const p = await createProvider(tiny(), { secrets: { token: `file:${join(dir.path, 'absent')}` } })
      await expect(p.start()).rejects.toMatchObject({ code: 'provider-start-failed', message: expect.stringContaining('secret token: cannot read') })
    })
  })

  describe('loadProviderModule', () => {
    let dir: ScratchDir
    beforeAll(async () => { dir = await scratchDir('load') })
    afterAll(async () => { await dir?.remove() })

    it('loads a built-in, a module file, and a factory default export', async () => {
      const kv = await loadProviderModule('builtin:keyvalue')
      expect(kv.world).toBe('wasmesh:keyvalue-provider/provider@0.1.0')
      const file = join(dir.path, 'echo-provider.ts')
      await writeFile(file, `export default {
        name: 'echo', world: 'test:e/w@0.1.0',
        wit: { 'e.wit': 'package test:e@0.1.0; interface e { echo: func(s: string) -> string; } world w { export e; }' },
        exports: { 'test:e/e@0.1.0': { echo: (s) => s } }
      }\n`)
      const m = await loadProviderModule(file)
      const p = await started(m)
      expect(await p.service.call('test:e/e@0.1.0', 'echo', ['hi'], { caller: A })).toEqual(['hi'])
      await p.stop()
    })

    it('says clearly what is wrong with a module that is not a provider', async () => {
      await writeFile(join(dir.path, 'none.ts'), 'export const x = 1\n')
      await writeFile(join(dir.path, 'wrong.ts'), 'export default { name: "w", wit: {}, exports: {} }\n')
      await expect(loadProviderModule(join(dir.path, 'none.ts'))).rejects.toMatchObject({ code: 'provider-load-failed', message: expect.stringContaining('no default export') })
      await expect(loadProviderModule(join(dir.path, 'wrong.ts'))).rejects.toMatchObject({ code: 'provider-load-failed', message: expect.stringContaining("'world' must be a string") })
      await expect(loadProviderModule(join(dir.path, 'absent.ts'))).rejects.toMatchObject({ code: 'provider-load-failed', message: expect.stringContaining('cannot import provider') })
      await expect(loadProviderModule('builtin:nope')).rejects.toMatchObject({ code: 'provider-load-failed', message: expect.stringContaining('builtin:keyvalue') })
    })
  })
})
