// A newcomer's first commands (issue 14): --version, "did you mean", file errors that name the file, JSON arguments,
// a function that returns nothing, a missing dependency, and the banner's call line pasted in another folder.
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { killSpawned, listeningOn, spawnWasmesh, start, wasmesh } from './helpers.ts'
import type { Running } from './helpers.ts'

const run = promisify(execFile)
const repo = fileURLToPath(new URL('../..', import.meta.url))
const bin = join(repo, 'bin', 'wasmesh.js')

let built: Record<string, string>
let scratch: ScratchDir

beforeAll(async () => {
  built = await ensureExamples({ names: ['shout', 'upper', 'types'] })
  scratch = await scratchDir('cli-first-hour')
})

afterAll(async () => {
  await killSpawned()
  await scratch?.remove()
})

describe('wasmesh --version and "did you mean"', () => {
  it('prints the package version with --version and -V', async () => {
    const { version } = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string }
    expect(await wasmesh(['--version'])).toMatchObject({ code: 0, out: `wasmesh ${version}` })
    expect(await wasmesh(['-V'])).toMatchObject({ code: 0, out: `wasmesh ${version}` })
  })

  it('suggests the closest command and flag for a typo (exit 2)', async () => {
    const command = await wasmesh(['calll'])
    expect(command.code).toBe(2)
    expect(command.err).toContain('error [usage]: unknown command "calll"; did you mean call?')
    const option = await wasmesh(['call', '--bootstrapp', '/ip4/127.0.0.1/tcp/1', 'a:b/c#d()'])
    expect(option.code).toBe(2)
    expect(option.err).toBe("error [usage]: wasmesh call takes no option --bootstrapp; did you mean --bootstrap? ('wasmesh call --help' lists them)")
    const node = await wasmesh(['node', '--compnent', 'x.wasm'])
    expect(node).toMatchObject({ code: 2, err: expect.stringContaining('did you mean --component?') })
    const global = await wasmesh(['--versoin'])
    expect(global).toMatchObject({ code: 2, err: expect.stringContaining('did you mean --version?') })
  })
})

describe('component file errors name the file', () => {
  it('a missing file, a directory and a file that is not WebAssembly, for call and inspect', async () => {
    const missing = join(scratch.path, 'nope.wasm')
    const garbage = join(scratch.path, 'garbage.wasm')
    await writeFile(garbage, 'not a component at all')
    const cases = [
      [missing, `error [file-not-found]: ${missing}: no such file`],
      [scratch.path, `error [not-a-file]: ${scratch.path} is a directory, not a component file`],
      [garbage, `error [not-a-component]: ${garbage}: not WebAssembly`]
    ] as const
    for (const [file, message] of cases) {
      const call = await wasmesh(['call', '--component', file, 'local:demo/upper#to-upper("x")'])
      expect(call.code).toBe(1)
      expect(call.err.startsWith(message)).toBe(true)
      const inspect = await wasmesh(['inspect', file])
      expect(inspect.code).toBe(1)
      expect(inspect.err.startsWith(message)).toBe(true)
    }
  })
})

describe('wasmesh call --json', () => {
  const types = (call: string): string[] => ['call', '--component', built.types, '--json', `wasmesh:examples/types#${call}`]

  it('takes JSON arguments and keeps none fields as null', async () => {
    const record = await wasmesh(types('echo-record({"name": "ada", "age": 36, "tags": ["x"], "home": null})'))
    expect(record.code).toBe(0)
    expect(JSON.parse(record.out)).toEqual({ name: 'ada', age: 36, tags: ['x'], home: null })
    expect(await wasmesh(types('echo-option(null)'))).toMatchObject({ code: 0, out: 'null' })
    expect(await wasmesh(types('echo-option(7)'))).toMatchObject({ code: 0, out: '7' })
    expect(JSON.parse((await wasmesh(types('echo-variant({"tag": "rect", "val": {"x": 1, "y": -2}})'))).out)).toEqual({ tag: 'rect', val: { x: 1, y: -2 } })
    expect(JSON.parse((await wasmesh(types('echo-many(1, "b", [2, 3])'))).out)).toEqual([1, 'b', [2, 3]])
    expect(await wasmesh(types('echo-u64("18446744073709551615")'))).toMatchObject({ code: 0, out: '"18446744073709551615"' })
  })

  it('refuses JSON that does not fit the parameters with bad-arguments, naming where', async () => {
    const missing = await wasmesh(types('echo-record({"name": "ada"})'))
    expect(missing).toMatchObject({ code: 1, err: 'error [bad-arguments]: echo-record(v): v: field age is missing' })
    const notJson = await wasmesh(types('echo-option(none)'))
    expect(notJson.code).toBe(1)
    expect(notJson.err).toMatch(/^error \[bad-arguments\]: echo-option\(v\): the arguments are not JSON \(--json\)/)
  })
})

describe('through the mesh: nothing returned, a missing dependency', () => {
  let node: Running | undefined
  let addr: string

  beforeAll(async () => {
    // shout imports local:demo/upper, which nobody serves here
    node = start(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(scratch.path, 'node'), '--cache-dir', join(scratch.path, 'cache'),
      '--component', built.shout, '--log-level', 'silent'])
    await node.out.waitFor(l => l.startsWith('call it from another terminal'), node.exited)
    addr = listeningOn(node.out.text)[0]
  }, 60_000)

  afterAll(async () => {
    await node?.stop()
  })

  it('a function that returns nothing prints (), or null with --json', async () => {
    expect(await wasmesh(['call', 'local:demo/host#log("hi")', '--bootstrap', addr])).toMatchObject({ code: 0, out: '()' })
    expect(await wasmesh(['call', 'local:demo/host#log("hi")', '--bootstrap', addr, '--json'])).toMatchObject({ code: 0, out: 'null' })
  })

  it('a component whose import nobody serves fails with unresolved-import naming the import, not trap', async () => {
    const r = await wasmesh(['call', 'local:demo/shout#shout("hi")', '--bootstrap', addr])
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^error \[unresolved-import\]: .*import local:demo\/upper#to-upper: no server exports local:demo\/upper/)
  })
})

describe('the banner\'s call line, pasted in another folder', () => {
  let elsewhere: string

  beforeAll(async () => {
    elsewhere = join(scratch.path, 'elsewhere')
    await mkdir(elsewhere)
  })

  afterEach(async () => {
    await killSpawned()
  })

  let nodes = 0
  async function callLine (env: Record<string, string | undefined>): Promise<{ line: string, stop: () => Promise<number> }> {
    const node = spawnWasmesh(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(scratch.path, `banner-${++nodes}`),
      '--cache-dir', join(scratch.path, 'cache'), '--log-level', 'warn'], env)
    const line = await node.out.waitFor(l => / call '/.test(l), node.exited)
    return { line, stop: async () => { node.child.kill('SIGTERM'); return await node.exited } }
  }

  it('names this install by absolute path when wasmesh is not on PATH, never npx wasmesh', async () => {
    const { line, stop } = await callLine({ PATH: process.env.PATH })
    try {
      expect(line).not.toMatch(/^npx /)
      expect(line.startsWith(`${process.execPath} ${bin} call 'local:demo/host#log("hello")' --bootstrap /ip4/127.0.0.1/`)).toBe(true)
      const { stdout } = await run('sh', ['-c', line], { cwd: elsewhere, timeout: 60_000 })
      expect(stdout.trim()).toBe('()')
    } finally {
      expect(await stop()).toBe(0)
    }
  }, 90_000)

  it('says wasmesh when PATH finds this install (a global install or npm link)', async () => {
    const linked = join(scratch.path, 'bin')
    await mkdir(linked, { recursive: true })
    await symlink(bin, join(linked, 'wasmesh'))
    // The shebang's `node` must be a Node >= 24: the project's, first on PATH, as a user's would be.
    const path = [linked, join(process.execPath, '..'), process.env.PATH].join(delimiter)
    const { line, stop } = await callLine({ PATH: path })
    try {
      expect(line).toMatch(/^wasmesh call 'local:demo\/host#log\("hello"\)' --bootstrap \/ip4\/127\.0\.0\.1\//)
      const { stdout } = await run('sh', ['-c', line], { cwd: elsewhere, env: { ...process.env, PATH: path }, timeout: 60_000 })
      expect(stdout.trim()).toBe('()')
    } finally {
      expect(await stop()).toBe(0)
    }
  }, 90_000)
})
