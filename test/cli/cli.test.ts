import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { main } from '../../cli/main.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

interface Run { code: number, out: string, err: string }

async function wasmesh (...argv: string[]): Promise<Run> {
  const out: string[] = []
  const err: string[] = []
  const code = await main(argv, { out: t => { out.push(t) }, err: t => { err.push(t) } })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

let built: Record<string, string>
let scratch: ScratchDir

beforeAll(async () => {
  built = await ensureExamples({ names: ['hello', 'upper', 'shout', 'types'] })
  scratch = await scratchDir('cli')
})

afterAll(async () => {
  await scratch?.remove()
})

describe('wasmesh (no command)', () => {
  it('prints usage and exits 2 without a command, 0 with --help', async () => {
    const bare = await wasmesh()
    expect(bare.code).toBe(2)
    expect(bare.out).toContain('Usage: wasmesh <command>')
    const help = await wasmesh('--help')
    expect(help.code).toBe(0)
    expect(help.out).toContain('inspect')
  })

  it('rejects an unknown command with a usage error', async () => {
    const r = await wasmesh('frobnicate')
    expect(r.code).toBe(2)
    expect(r.err).toContain('error [usage]: unknown command "frobnicate"')
    // names of Object.prototype members are not commands either
    for (const name of ['constructor', '__proto__', 'toString']) {
      expect(await wasmesh(name)).toMatchObject({ code: 2, err: expect.stringContaining(`unknown command "${name}"`) })
    }
  })
})

describe('wasmesh inspect', () => {
  it('shows the digest, size, exports and imports with signatures', async () => {
    const r = await wasmesh('inspect', built.upper)
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/digest +sha256:[0-9a-f]{64}/)
    expect(r.out).toContain('local:demo/upper')
    expect(r.out).toContain('to-upper: func(msg: string) -> string')
    expect(r.out).toContain('local:demo/host')
    expect(r.out).toContain('log: func(msg: string)')
  })

  it('prints JSON with --json and WIT with --wit', async () => {
    const json = JSON.parse((await wasmesh('inspect', built.upper, '--json')).out)
    expect(json.digest).toMatch(/^[0-9a-f]{64}$/)
    expect(json.exports.interfaces).toEqual([{ id: 'local:demo/upper', functions: ['to-upper: func(msg: string) -> string'] }])
    const wit = await wasmesh('inspect', built.upper, '--wit')
    expect(wit.out).toContain('export local:demo/upper;')
  })

  it('refuses a file that is not a component, with its code', async () => {
    const file = join(scratch.path, 'garbage.wasm')
    await writeFile(file, 'this is not wasm at all')
    const r = await wasmesh('inspect', file)
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^error \[not-a-component\]/)
    expect(r.err).not.toContain('    at ')
  })

  it('explains a missing file argument', async () => {
    const r = await wasmesh('inspect')
    expect(r.code).toBe(2)
    expect(r.err).toContain('inspect takes one component file')
  })
})

describe('wasmesh call --component', () => {
  it('calls an interface export and prints the result in WAVE', async () => {
    const r = await wasmesh('call', '--component', built.upper, 'local:demo/upper#to-upper("hello")')
    expect(r).toMatchObject({ code: 0, out: '"HELLO"' })
    expect(r.err).toContain('log: hello')
  })

  it('calls a function the world exports, by name alone', async () => {
    const r = await wasmesh('call', '--component', built.hello, 'hello-world()')
    expect(r).toMatchObject({ code: 0, out: '"Hello, World!"' })
  })

  it('links one component\'s import to another given component', async () => {
    const r = await wasmesh('call', '--component', built.shout, '--component', built.upper, 'local:demo/shout#shout("hi")')
    expect(r).toMatchObject({ code: 0, out: '"HI!"' })
  })

  it('prints JSON with --json', async () => {
    const r = await wasmesh('call', '--component', built.types, 'wasmesh:examples/types#echo-record({"name": "ada", "age": 36, "tags": ["x"]})', '--json')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.out)).toEqual({ name: 'ada', age: 36, tags: ['x'], home: null })
  })

  it('fails with bad-arguments on WAVE that does not fit the parameters', async () => {
    const r = await wasmesh('call', '--component', built.upper, 'local:demo/upper#to-upper(42)')
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^error \[bad-arguments\]: to-upper\(msg\)/)
  })

  it('names what the component exports when the function is unknown', async () => {
    const r = await wasmesh('call', '--component', built.upper, 'local:demo/upper#nope()')
    expect(r.code).toBe(1)
    expect(r.err).toContain('error [no-such-function]')
    expect(r.err).toContain('local:demo/upper#to-upper')
  })

  it('fails with unresolved-import when no one serves an import', async () => {
    const r = await wasmesh('call', '--component', built.shout, 'local:demo/shout#shout("hi")')
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^error \[unresolved-import\]/)
    expect(r.err).toContain('local:demo/upper')
  })

  it('rejects a malformed call expression and a missing --component', async () => {
    const bad = await wasmesh('call', '--component', built.upper, 'local:demo/upper#to-upper("x"')
    expect(bad.code).toBe(1)
    expect(bad.err).toContain('error [bad-call-expression]')
    const noComponent = await wasmesh('call', 'local:demo/upper#to-upper("x")')
    expect(noComponent.code).toBe(2)
    expect(noComponent.err).toContain('error [usage]')
  })
})
