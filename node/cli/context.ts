// What every command gets from the CLI: where output goes and the shared settings.

import { readWitDirs } from '../runtime/component.ts'

export interface CommandContext {
  /** Standard output: results only, so that they can be piped. */
  out (text: string): void
  /** Standard error: logs and notices. */
  err (text: string): void
  readonly verbose: boolean
  /** WIT packages that components are resolved against (the project's `wit/` folder). */
  witSources (): Promise<Record<string, string>>
}

const witDir = new URL('../../wit/', import.meta.url).pathname

export function createContext (opts: { verbose: boolean, out?: (text: string) => void, err?: (text: string) => void }): CommandContext {
  let wit: Promise<Record<string, string>> | undefined
  return {
    out: opts.out ?? (text => { process.stdout.write(text + '\n') }),
    err: opts.err ?? (text => { process.stderr.write(text + '\n') }),
    verbose: opts.verbose,
    witSources: async () => await (wit ??= readWitDirs([witDir]))
  }
}
