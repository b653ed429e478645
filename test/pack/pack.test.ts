// `npm pack`, then install the tarball where nothing else of the repository exists and run the installed `wasmesh`.
import { execFile } from 'node:child_process'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { listeningOn, spawnWasmesh, killSpawned } from '../cli/helpers.ts'

const run = promisify(execFile)
const repo = fileURLToPath(new URL('../..', import.meta.url))
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

describe('the npm package', () => {
  const dirs: ScratchDir[] = []
  let packDir: string
  let installDir: string
  let cacheDir: string
  let globalDir: string
  let elsewhere: string
  let tarball: string
  let hello: string

  beforeAll(async () => {
    hello = (await ensureExamples({ names: ['hello'] })).hello
    for (const prefix of ['pack', 'install', 'cache', 'global', 'elsewhere']) dirs.push(await scratchDir(`${prefix}-test`))
    ;[packDir, installDir, cacheDir, globalDir, elsewhere] = dirs.map(d => d.path)
    // prepack compiles to dist/, postpack removes it again.
    await run(npm, ['pack', '--pack-destination', packDir], { cwd: repo, timeout: 60_000 })
    const [file] = (await readdir(packDir)).filter(f => f.endsWith('.tgz'))
    tarball = join(packDir, file)
    await writeFile(join(installDir, 'package.json'), JSON.stringify({ name: 'wasmesh-pack-test', private: true }))
    await run(npm, ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: installDir, timeout: 120_000 })
    // The README's global install, into a prefix of its own instead of the machine's.
    await run(npm, ['install', '-g', '--prefix', globalDir, '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: installDir, timeout: 120_000 })
  }, 300_000)

  afterAll(async () => {
    await killSpawned()
    await Promise.all(dirs.map(async d => { await d.remove() }))
  })

  /** The installed command, run by the project's Node with only the install directory around it. */
  async function wasmesh (...args: string[]): Promise<{ stdout: string, stderr: string }> {
    return await run(process.execPath, [join(installDir, 'node_modules', '.bin', 'wasmesh'), ...args], {
      cwd: installDir,
      timeout: 60_000,
      env: { ...process.env, XDG_CACHE_HOME: cacheDir }
    })
  }

  it('ships the compiled code, the command and the WIT, and no sources, tests or examples', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball])
    const files = stdout.trim().split('\n').map(f => f.replace(/^package\//, ''))
    expect(files).toContain('bin/wasmesh.js')
    expect(files).toContain('dist/cli/main.js')
    expect(files).toContain('dist/node/runtime/worker.js')
    expect(files).toContain('wit/examples/local-demo.wit')
    expect(files).toContain('README.md')
    expect(files.filter(f => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([])
    expect(files.filter(f => /^(test|examples|simulations|node|protocol)\//.test(f))).toEqual([])
  })

  it('installs and runs `wasmesh --help`', async () => {
    const { stdout } = await wasmesh('--help')
    expect(stdout).toMatch(/^Usage: wasmesh <command>/)
    expect(stdout).toContain('inspect')
  })

  it('inspects a component', async () => {
    const { stdout } = await wasmesh('inspect', hello)
    expect(stdout).toMatch(/digest\s+sha256:[0-9a-f]{64}/)
    expect(stdout).toContain('hello-world: func() -> string')
  })

  it('exports wasmesh/node and wasmesh/protocol to a project that installs it', async () => {
    const script = "const node = await import('wasmesh/node'); const protocol = await import('wasmesh/protocol'); console.log(typeof node.createNode, typeof protocol.parseWit)"
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: installDir, timeout: 60_000 })
    expect(stdout.trim()).toBe('function function')
  })

  it('installs globally: `wasmesh` runs from any folder, --version says the package version', async () => {
    // The shebang finds Node on PATH: the project's Node first, as a user's Node >= 24 would be.
    const env = { ...process.env, PATH: [join(globalDir, 'bin'), dirname(process.execPath), process.env.PATH].join(delimiter) }
    const { stdout } = await run('wasmesh', ['--version'], { cwd: elsewhere, env, timeout: 60_000 })
    const { version } = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string }
    expect(stdout.trim()).toBe(`wasmesh ${version}`)
  })

  it('a global install makes and builds a project of its own (the toolchain ships with it), and runs it', async () => {
    const env = { ...process.env, PATH: [join(globalDir, 'bin'), dirname(process.execPath), process.env.PATH].join(delimiter), XDG_CACHE_HOME: cacheDir }
    const project = join(elsewhere, 'greeter')
    await run('wasmesh', ['new', 'rpc-js', project], { cwd: elsewhere, env, timeout: 60_000 })
    await run('wasmesh', ['build', project], { cwd: elsewhere, env, timeout: 240_000 })
    const wasm = (await readdir(join(project, 'build'))).find(f => f.endsWith('.wasm'))
    expect(wasm).toBeDefined()
    const { stdout } = await run('wasmesh', ['call', '--component', join(project, 'build', wasm!), 'local:greeter/greeter#greet("mesh")'], { cwd: elsewhere, env, timeout: 60_000 })
    expect(stdout.trim()).toMatch(/mesh/)
  }, 300_000)

  it('a globally installed node prints a call line that works as pasted in another folder', async () => {
    const path = [join(globalDir, 'bin'), dirname(process.execPath), process.env.PATH].join(delimiter)
    const node = spawnWasmesh(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(elsewhere, 'data'), '--log-level', 'warn'],
      { PATH: path, XDG_CACHE_HOME: cacheDir }, { command: join(globalDir, 'bin', 'wasmesh') })
    try {
      const line = await node.out.waitFor(l => / call '/.test(l), node.exited)
      expect(listeningOn(node.out.text).length).toBeGreaterThan(0)
      expect(line).toMatch(/^wasmesh call 'local:demo\/host#log\("hello"\)' --bootstrap \/ip4\/127\.0\.0\.1\//)
      const { stdout } = await run('sh', ['-c', line], { cwd: elsewhere, env: { ...process.env, PATH: path }, timeout: 60_000 })
      expect(stdout.trim()).toBe('()')
    } finally {
      node.child.kill('SIGTERM')
      await node.exited
    }
  })

  it('runs the built-in providers, whose WIT is read beside their modules and from wit/ (keyvalue, blobstore)', async () => {
    const node = spawnWasmesh(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(elsewhere, 'providers'), '--log-level', 'warn', '--no-demo-host',
      '--provider', 'kv=builtin:keyvalue', '--provider-config', 'kv:backend=memory',
      '--provider', 'blobs=builtin:blobstore', '--provider-config', `blobs:root=${join(elsewhere, 'blobs')}`],
    { PATH: [dirname(process.execPath), process.env.PATH].join(delimiter), XDG_CACHE_HOME: cacheDir }, { command: join(installDir, 'node_modules', '.bin', 'wasmesh') })
    try {
      await node.out.waitFor(l => / call '/.test(l), node.exited)
      expect(node.out.text).toContain('wasi:keyvalue/store')
      expect(node.out.text).toContain('wrpc:blobstore/blobstore')
    } finally {
      node.child.kill('SIGTERM')
      await node.exited
    }
  })

  it('runs a component in its worker thread (the compiled worker is found)', async () => {
    const { stdout } = await wasmesh('call', '--component', hello, 'hello-world()')
    expect(stdout.trim()).toBe('"Hello, World!"')
  })
})
