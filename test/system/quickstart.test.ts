// The README's quick start, followed in a fresh clone: npm ci, npm start, the printed call line pasted in another folder, a second node with its own data directory, and wasmesh mesh showing both.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { killSpawned, listeningOn, spawnNpm, spawnWasmesh } from '../cli/helpers.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

const run = promisify(execFile)
const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const isClone = existsSync(join(repoRoot, '.git'))
if (!isClone) console.warn('SKIPPED: the quick-start test clones this repository and needs its .git')

describe.runIf(isClone)('the README quick start in a fresh clone', () => {
  let scratch: ScratchDir
  let clone: string
  let elsewhere: string

  beforeAll(async () => {
    scratch = await scratchDir('quickstart')
    clone = join(scratch.path, 'wasmesh')
    elsewhere = join(scratch.path, 'elsewhere')
    await mkdir(elsewhere)
    await run('git', ['clone', '--quiet', repoRoot, clone], { timeout: 60_000 })
    // the README's first command (the npm registry, or npm's cache of it)
    await run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: clone, timeout: 240_000, maxBuffer: 16 * 2 ** 20 })
  }, 300_000)

  afterEach(async () => { await killSpawned() })
  afterAll(async () => { await scratch?.remove() })

  it('npm start serves the examples, its call line works from another folder, a second node joins and wasmesh mesh lists both', async () => {
    // `npm start` as the README says; only the listen address is pinned to loopback, where tests may dial
    const first = spawnNpm('npm', ['start', '--', '--listen', '/ip4/127.0.0.1/tcp/0'], { cwd: clone })
    const line = await first.out.waitFor(l => / call 'local:demo\/shout#shout\("hello"\)' --bootstrap /.test(l), first.exited)
    const address = listeningOn(first.out.text)[0]
    expect(address).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)

    // the second terminal: the line as printed, in any folder
    const called = await run('sh', ['-c', line], { cwd: elsewhere, timeout: 60_000 })
    expect(called.stdout.trim()).toBe('"HELLO!"')

    // the third terminal: the README's second node, with its own data directory, run the way the call line runs wasmesh
    const wasmesh = line.slice(0, line.indexOf(' call '))
    const [command, ...prefix] = wasmesh.split(' ')
    const second = spawnWasmesh([...prefix, 'node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', '.wasmesh/second', '--bootstrap', address], {}, { command, cwd: clone })
    await second.out.waitFor(l => l.startsWith('peer id: '), second.exited)
    const secondPeer = second.out.lines.find(l => l.startsWith('peer id: '))!.slice('peer id: '.length)
    const firstPeer = address.slice(address.lastIndexOf('/p2p/') + '/p2p/'.length)
    expect(secondPeer).not.toBe(firstPeer)

    const mesh = await run('sh', ['-c', `${wasmesh} mesh --json --bootstrap ${address}`], { cwd: elsewhere, timeout: 60_000 })
    const peers = (JSON.parse(mesh.stdout) as { peers: Array<{ peer: string }> }).peers.map(p => p.peer)
    expect(peers).toEqual(expect.arrayContaining([firstPeer, secondPeer]))

    // Ctrl-C in each terminal: both drain and exit 0
    second.child.kill('SIGINT')
    first.signalGroup('SIGINT')
    expect(await first.exited).toBe(0)
    expect(await second.exited).toBe(0)
  }, 240_000)
})
