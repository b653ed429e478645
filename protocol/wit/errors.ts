// Typed errors of the WIT front end: every failure names the file, line and column it comes from.

export type WitErrorCode = 'wit-syntax' | 'wit-resolve'

/** Where in the WIT sources a problem is: file name as given to `parseWit`, 1-based line and column. */
export interface WitLocation {
  readonly file: string
  readonly line: number
  readonly column: number
}

abstract class WitError extends Error {
  abstract readonly code: WitErrorCode
  readonly file: string
  readonly line: number
  readonly column: number
  /** The message without the `file:line:column` prefix. */
  readonly reason: string

  constructor (reason: string, at: WitLocation) {
    super(`${at.file}:${at.line}:${at.column}: ${reason}`)
    this.reason = reason
    this.file = at.file
    this.line = at.line
    this.column = at.column
  }
}

/** The text is not WIT: a bad token, a missing `;`, an unexpected keyword, a malformed version. */
export class WitSyntaxError extends WitError {
  override readonly name: string = 'WitSyntaxError'
  readonly code = 'wit-syntax' as const
}

/** The text parses but does not resolve: unknown or duplicate names, cycles, empty types, bad handles. */
export class WitResolveError extends WitError {
  override readonly name: string = 'WitResolveError'
  readonly code = 'wit-resolve' as const
}
