// What every command gets from the CLI: where output goes and the shared settings.

export interface CommandContext {
  /** Standard output: results only, so that they can be piped. */
  out (text: string): void
  /** Standard error: logs and notices. */
  err (text: string): void
  readonly verbose: boolean
}

export function createContext (opts: { verbose: boolean, out?: (text: string) => void, err?: (text: string) => void }): CommandContext {
  return {
    out: opts.out ?? (text => { process.stdout.write(text + '\n') }),
    err: opts.err ?? (text => { process.stderr.write(text + '\n') }),
    verbose: opts.verbose
  }
}
