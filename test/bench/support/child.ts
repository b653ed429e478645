// Benchmark servers in their own processes: spawned on this Node, ready once they print their address, stopped by closing their stdin.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export interface ServerProcess {
  /** What the server printed as its address (a multiaddr, or host:port). */
  readonly address: string
  readonly pid: number
  /** Closes the server's stdin (it stops cleanly and exits), killing it if it has not exited within `graceMs`. */
  stop (graceMs?: number): Promise<void>
}

export interface StartServerOptions {
  /** Node options before the script, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[]
  readonly readyTimeoutMs?: number
  /** Told every stdout line the server prints after its address (e.g. heap samples). */
  readonly onLine?: (line: string) => void
  /** Told when the server exits on its own (not by `stop`): the attack bench reports a dead server. */
  readonly onExit?: (code: number | null, signal: string | null) => void
}

/**
 * Runs `script` with this process' Node (same version, same type stripping) and resolves once it
 * printed its first stdout line: a JSON object `{ address }`. The child's stderr is passed through.
 */
export async function startServer (script: URL, args: readonly string[], opts: StartServerOptions = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), fileURLToPath(script), ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  let stopping = false
  const exited = new Promise<void>(resolve => {
    child.once('exit', (code, signal) => {
      if (!stopping) opts.onExit?.(code, signal)
      resolve()
    })
  })
  const lines = createInterface({ input: child.stdout })
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000

  const stop = async (graceMs = 10_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    stopping = true
    child.stdin.end()
    let timer: ReturnType<typeof setTimeout> | undefined
    const killed = new Promise<void>(resolve => {
      timer = setTimeout(() => { child.kill('SIGKILL'); resolve() }, graceMs)
    })
    await Promise.race([exited, killed])
    clearTimeout(timer)
    await exited
  }

  try {
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${script.pathname} ${args.join(' ')} did not report ready within ${readyTimeoutMs} ms`)) }, readyTimeoutMs)
      child.once('error', err => { clearTimeout(timer); reject(err) })
      child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`${script.pathname} ${args.join(' ')} exited (${signal ?? code}) before it was ready`)) })
      lines.once('line', line => {
        clearTimeout(timer)
        const onLine = opts.onLine
        if (onLine !== undefined) lines.on('line', onLine)
        try {
          const { address } = JSON.parse(line) as { address?: unknown }
          if (typeof address !== 'string') throw new Error('no address')
          resolve(address)
        } catch {
          reject(new Error(`${script.pathname} printed ${JSON.stringify(line)} instead of {"address": ...}`))
        }
      })
    })
    if (child.pid === undefined) throw new Error(`${script.pathname} has no pid`)
    return { address, pid: child.pid, stop }
  } catch (err) {
    await stop(1_000)
    throw err
  }
}

/**
 * The child's side: prints the address, then runs `shutdown` and exits once stdin closes (the
 * parent's `stop`, or the parent dying) or on SIGTERM/SIGINT. Exiting by `process.exit` lets
 * `--cpu-prof` write its profile.
 */
export function serveUntilStdinEnds (address: string, shutdown: () => Promise<void>): void {
  let stopping = false
  const end = (): void => {
    if (stopping) return
    stopping = true
    const forced = setTimeout(() => { process.exit(1) }, 5_000)
    forced.unref()
    shutdown().then(() => { process.exit(0) }, (err: unknown) => {
      process.stderr.write(`shutdown failed: ${String(err)}\n`)
      process.exit(1)
    })
  }
  process.stdin.on('end', end)
  process.stdin.on('error', end)
  process.stdin.resume()
  process.on('SIGTERM', end)
  process.on('SIGINT', end)
  process.stdout.write(JSON.stringify({ address }) + '\n')
}
