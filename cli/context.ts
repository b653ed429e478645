// What every command gets from the CLI: where output goes and the shared settings.

export interface CommandContext {
  /** Standard output: results only, so that they can be piped. */
  out (text: string): void
  /** Standard error: logs and notices. */
  err (text: string): void
  readonly verbose: boolean
  /** The environment the command reads (`WASMESH_BOOTSTRAP`, grants' variables). */
  readonly env: Readonly<Record<string, string | undefined>>
  /**
   * Aborted = a stop request, as a first Ctrl-C is. When given, the caller owns stopping and the
   * long-running commands do not listen to the process's signals; otherwise SIGINT and SIGTERM stop them.
   */
  readonly signal?: AbortSignal
  /** Whether standard error is a terminal: logs are text lines there, JSON lines elsewhere. */
  readonly errIsTTY: boolean
}

export interface ContextInit {
  verbose: boolean
  out?: (text: string) => void
  err?: (text: string) => void
  env?: Readonly<Record<string, string | undefined>>
  signal?: AbortSignal
}

export function createContext (opts: ContextInit): CommandContext {
  return {
    out: opts.out ?? (text => { process.stdout.write(text + '\n') }),
    err: opts.err ?? (text => { process.stderr.write(text + '\n') }),
    verbose: opts.verbose,
    env: opts.env ?? process.env,
    signal: opts.signal,
    errIsTTY: opts.err === undefined && process.stderr.isTTY
  }
}
