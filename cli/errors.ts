// The CLI's own errors: a usage mistake or a failed command, each with a stable code and an exit status.

export type CliErrorCode =
  | 'usage'              // a flag or argument the command does not take (exit 2)
  | 'bad-call-expression' // the call is not `ns:pkg/iface#func(args)`
  | 'no-such-function'    // no component given exports the function (in-process calls)
  | 'bad-arguments'       // the WAVE arguments do not fit the function's parameters
  | 'file-not-found'
  | 'bad-project'         // wasmesh.json is missing or wrong, or `wasmesh new` cannot make the project there
  | 'build-failed'        // the sources or the WIT of a project do not build (names the file and line)
  | 'toolchain-missing'   // componentize-js, componentize-qjs or typescript is not installed
  | 'no-server'           // the mesh was reached but no peer serves the interface within the timeout
  | 'unreachable'         // no bootstrap peer could be reached within the timeout
  | 'sync-timeout'        // a bootstrap peer was reached but sent no view of the lattice within the timeout
  | 'address-in-use'      // a --listen address is taken by another process
  | 'start-failed'        // the node could not start
  | 'invalid-config'      // a --limit the node cannot take (exit 2, a usage mistake like any bad flag)
  | 'bad-key'             // a key, certificate or trust file that cannot be used (missing, readable by others, wrong format)
  | 'control-failed'      // a node answered a control call with an error (its code and message follow)

export class CliError extends Error {
  override readonly name = 'CliError'
  readonly code: CliErrorCode
  /** 2 for usage mistakes (a bad flag), 1 for everything else, as most Unix tools do. */
  readonly exitCode: number

  constructor (code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.exitCode = code === 'usage' || code === 'invalid-config' ? 2 : 1
  }
}
