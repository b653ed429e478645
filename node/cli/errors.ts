// The CLI's own errors: a usage mistake or a failed command, each with a stable code and an exit status.

export type CliErrorCode = 'usage' | 'bad-call-expression' | 'no-such-function' | 'bad-arguments' | 'file-not-found'

export class CliError extends Error {
  override readonly name = 'CliError'
  readonly code: CliErrorCode
  /** 2 for usage mistakes, 1 for everything else, as most Unix tools do. */
  readonly exitCode: number

  constructor (code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.exitCode = code === 'usage' ? 2 : 1
  }
}
