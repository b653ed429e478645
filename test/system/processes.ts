// Real `wasmesh` processes for the system tests: nodes started and read from their output, short-lived CLI runs, and all of them killed at the end.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { eventually } from '../support/eventually.ts'

export const repoDir = fileURLToPath(new URL('../..', import.meta.url))
export const wasmeshBin = fileURLToPath(new URL('../../bin/wasmesh.js', import.meta.url))

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface NodeProcess {
  readonly name: string
  readonly peerId: string
  /** The multiaddrs printed under `listening on:`, each ending in /p2p/<peer id>. */
  readonly addresses: string[]
  readonly exited: Promise<Exit>
  /** The node's process id (its memory can be read from /proc). */
  readonly pid: number
  kill (signal: NodeJS.Signals): void
  /** Everything written so far, for failure messages. */
  output (): string
}

export interface CliResult extends Exit {
  readonly stdout: string
  readonly stderr: string
}

/** Starts every process of one test file and kills whatever is still running at the end. */
export class Processes {
  readonly #running = new Set<{ child: ChildProcess, exited: Promise<Exit> }>()
  /** How long a node may take to print its addresses. */
  readonly #startMs: number

  constructor (opts: { startTimeoutMs?: number } = {}) {
    this.#startMs = opts.startTimeoutMs ?? 30_000
  }

  #spawn (prefix: readonly string[], args: readonly string[]): { child: ChildProcess, exited: Promise<Exit>, out: () => string, err: () => string } {
    const argv = [...prefix, process.execPath, wasmeshBin, ...args]
    const child = spawn(argv[0], argv.slice(1), { cwd: repoDir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WASMESH_BOOTSTRAP: '' } })
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const exited = new Promise<Exit>(resolve => {
      child.once('error', () => { resolve({ code: null, signal: null }) })
      child.once('close', (code, signal) => { resolve({ code, signal }) })
    })
    const entry = { child, exited }
    this.#running.add(entry)
    void exited.then(() => this.#running.delete(entry))
    return { child, exited, out: () => stdout, err: () => stderr }
  }

  /** `wasmesh node <args>`; resolves once it printed its peer id and addresses. */
  async node (name: string, args: readonly string[], prefix: readonly string[] = []): Promise<NodeProcess> {
    const { child, exited, out, err } = this.#spawn(prefix, ['node', '--log-format', 'json', ...args])
    const output = (): string => `--- ${name} stdout ---\n${out()}\n--- ${name} stderr ---\n${err().slice(-50000)}`
    let done = false
    void exited.then(() => { done = true })
    // A process that exits ends the wait at once (the check answers 'exited') instead of at the deadline.
    const started = await eventually(`${name} to print its addresses`, () => parseStart(out()) ?? (done ? 'exited' : undefined), { timeoutMs: this.#startMs, intervalMs: 50 })
      .catch((err: Error) => {
        child.kill('SIGKILL')
        throw new Error(`${err.message}\n${output()}`)
      })
    if (started === 'exited') throw new Error(`${name} exited before it started\n${output()}`)
    return { name, ...started, exited, pid: child.pid as number, kill: signal => { child.kill(signal) }, output }
  }

  /** Any other `wasmesh` command, to completion (killed after `timeoutMs`). */
  async cli (args: readonly string[], opts: { prefix?: readonly string[], timeoutMs?: number } = {}): Promise<CliResult> {
    const { child, exited, out, err } = this.#spawn(opts.prefix ?? [], args)
    const timer = setTimeout(() => { child.kill('SIGKILL') }, opts.timeoutMs ?? 30_000)
    const exit = await exited
    clearTimeout(timer)
    return { ...exit, stdout: out(), stderr: err() }
  }

  /** SIGKILL to everything still running, then waits for them to go. */
  async killAll (): Promise<void> {
    const all = [...this.#running]
    for (const { child } of all) child.kill('SIGKILL')
    await Promise.all(all.map(async p => await p.exited))
  }
}

/** The gateway URL a node printed (`http: http://...`). */
export function httpUrlOf (node: NodeProcess): string {
  const m = /^http: (http:\/\/\S+)/m.exec(node.output())
  if (m === null) throw new Error(`no http: line\n${node.output()}`)
  return m[1]
}

/** `peer id: <id>` ... `listening on:` then one multiaddr per line up to a blank line. */
export function parseStart (stdout: string): { peerId: string, addresses: string[] } | undefined {
  const lines = stdout.split('\n')
  const peerId = lines.find(l => l.startsWith('peer id: '))?.slice('peer id: '.length).trim()
  const at = lines.indexOf('listening on:')
  if (peerId === undefined || at < 0) return undefined
  const addresses: string[] = []
  for (const line of lines.slice(at + 1)) {
    if (line === '') return addresses.length > 0 ? { peerId, addresses } : undefined
    addresses.push(line.trim())
  }
  return undefined // the block is not complete yet
}

/** Polls `check` (which may take seconds: it runs processes) until it returns a value, or throws with the last failure. */
export async function until<T> (what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  return await eventually(what, check, { timeoutMs, intervalMs: 250 })
}

/** Resident memory of a process now, from /proc. */
export function rssBytes (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? 0 : Number(m[1]) * 1024
}

