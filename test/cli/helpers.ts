// Running the wasmesh command in tests: in-process through main(), or as a real process for signals and stdout; everything started is stopped.

import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { main } from '../../cli/main.ts'

export interface Run { code: number, out: string, err: string }

/** One command line in-process, to its end. */
export async function wasmesh (argv: string[], opts: { env?: Record<string, string | undefined>, signal?: AbortSignal } = {}): Promise<Run> {
  const out: string[] = []
  const err: string[] = []
  const code = await main(argv, { out: t => { out.push(t) }, err: t => { err.push(t) }, env: opts.env ?? {}, signal: opts.signal })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

/** Output that grows while a command runs, with a way to wait for a line. */
export class Lines {
  readonly lines: string[] = []
  #waiters: Array<{ test: (line: string) => boolean, resolve: (line: string) => void }> = []

  push (text: string): void {
    for (const line of text.split('\n')) {
      this.lines.push(line)
      for (const w of [...this.#waiters]) {
        if (w.test(line)) { this.#waiters.splice(this.#waiters.indexOf(w), 1); w.resolve(line) }
      }
    }
  }

  /** The first line (already seen or to come) that passes `test`; rejects when `failed` settles first. */
  async waitFor (test: (line: string) => boolean, failed?: Promise<unknown>): Promise<string> {
    const seen = this.lines.find(test)
    if (seen !== undefined) return seen
    const wait = new Promise<string>(resolve => { this.#waiters.push({ test, resolve }) })
    if (failed === undefined) return await wait
    return await Promise.race([wait, failed.then(r => { throw new Error(`ended before the line appeared: ${JSON.stringify(r)}\n${this.text}`) })])
  }

  get text (): string { return this.lines.join('\n') }
}

/** A long-running command (node, mesh --watch) in-process; `stop()` is the first Ctrl-C. */
export interface Running {
  readonly out: Lines
  readonly err: Lines
  /** Settles with the exit status when the command ends. */
  readonly exited: Promise<number>
  stop (): Promise<number>
}

export function start (argv: string[], opts: { env?: Record<string, string | undefined> } = {}): Running {
  const out = new Lines()
  const err = new Lines()
  const controller = new AbortController()
  const exited = main(argv, { out: t => { out.push(t) }, err: t => { err.push(t) }, env: opts.env ?? {}, signal: controller.signal })
  return {
    out,
    err,
    exited,
    async stop () {
      controller.abort()
      return await exited
    }
  }
}

/** The multiaddrs printed under `listening on:`, as a script would parse them. */
export function listeningOn (stdout: string): string[] {
  const lines = stdout.split('\n')
  const at = lines.indexOf('listening on:')
  if (at < 0) return []
  const out: string[] = []
  for (const line of lines.slice(at + 1)) {
    if (!/^\/(ip4|ip6|dns)/.test(line)) break
    out.push(line)
  }
  return out
}

const bin = fileURLToPath(new URL('../../bin/wasmesh.js', import.meta.url))

/** `wasmesh ...` as a real process (Node as the tests run on), its output collected line by line. */
export interface Spawned {
  readonly child: ChildProcess
  readonly out: Lines
  readonly err: Lines
  /** Exit status, or 128 + signal number when killed by a signal. */
  readonly exited: Promise<number>
}

const spawned = new Set<ChildProcess>()
// npx process trees, each in a process group of its own: killed as a group, so that no node they started outlives the test
const groups = new Set<number>()

/** `command`: another install's `wasmesh` (run by its shebang) instead of this checkout's; `cwd`: where it runs. */
export function spawnWasmesh (argv: string[], env: Record<string, string | undefined> = {}, opts: { command?: string, cwd?: string } = {}): Spawned {
  const [file, args] = opts.command === undefined ? [process.execPath, [bin, ...argv]] : [opts.command, argv]
  return collected(spawn(file, args, { cwd: opts.cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }))
}

/**
 * `npx <argv>` or `npm <argv>` from the repository (or `cwd`), as a user runs it: npm runs the bin or the script under
 * `sh -c`. The tree gets a process group of its own (`child.pid` is its id), as a terminal gives a command line:
 * `signalGroup` is a Ctrl-C there, `groupGone` whether every process of the tree has exited.
 */
export function spawnNpm (program: 'npm' | 'npx', argv: string[], opts: { cwd?: string } = {}): Spawned & { signalGroup (signal: NodeJS.Signals): void, groupGone (): boolean } {
  const child = spawn(program, argv, { cwd: opts.cwd ?? repoRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const group = child.pid!
  groups.add(group)
  return Object.assign(collected(child), {
    signalGroup (signal: NodeJS.Signals) { process.kill(-group, signal) },
    groupGone () {
      try {
        process.kill(-group, 0)
        return false
      } catch (err) {
        return (err as { code?: string }).code === 'ESRCH'
      }
    }
  })
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

function collected (child: ChildProcess): Spawned {
  spawned.add(child)
  const out = new Lines()
  const err = new Lines()
  const collect = (lines: Lines) => {
    let partial = ''
    return (chunk: Buffer): void => {
      const text = partial + chunk.toString('utf8')
      const end = text.lastIndexOf('\n')
      partial = text.slice(end + 1)
      if (end >= 0) lines.push(text.slice(0, end))
    }
  }
  child.stdout?.on('data', collect(out))
  child.stderr?.on('data', collect(err))
  const exited = new Promise<number>(resolve => {
    child.on('exit', (code, signal) => {
      spawned.delete(child)
      resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 0))
    })
  })
  return { child, out, err, exited }
}

/** Kills whatever a failed test left running. */
export async function killSpawned (): Promise<void> {
  for (const group of groups) {
    try { process.kill(-group, 'SIGKILL') } catch {}
  }
  groups.clear()
  await Promise.all([...spawned].map(async child => {
    const gone = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGKILL')
    await gone
  }))
}
