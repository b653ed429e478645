// Typed errors of the component runtime: every failure carries a stable `code` a caller (and the wire) can match on.

/** Stable codes of runtime failures. Never renamed once published. */
export type RuntimeErrorCode =
  | 'file-not-found'      // a component file that does not exist (the message names it)
  | 'not-a-file'          // a component path that is a directory
  | 'unreadable-file'     // a component file that exists but cannot be read (permissions, I/O)
  | 'not-a-component'     // the bytes are not a WebAssembly component (a core module, garbage, truncated)
  | 'component-too-large' // over `maxComponentBytes`
  | 'invalid-component'   // a component header, but it does not decode, resolve or transpile
  | 'unsupported-component' // well-formed, but uses what wasmesh cannot describe yet (e.g. WIT `map` types)
  | 'no-such-component'   // no loaded component has this id
  | 'no-such-export'      // the component exports no such interface or function
  | 'invalid-params'      // parameters of the wrong number or shape, or an unknown resource handle
  | 'overloaded'          // every instance busy and the queue full (or the call was pushed out of it by a caller with fewer queued)
  | 'timeout'             // a call ran past its deadline (`callTimeoutMs` from when it was made): still queued, or running (its instance was terminated)
  | 'trap'                // the guest trapped (or ran out of memory); its instance was discarded
  | 'unresolved-import'   // the call needed an import that no one serves
  | 'resource-lost'       // a resource handle whose instance is gone (trapped, timed out, unloaded)
  | 'stopped'             // the runtime is stopped or the component was unloaded

export class RuntimeError extends Error {
  override readonly name: string = 'RuntimeError'
  readonly code: RuntimeErrorCode

  constructor (code: RuntimeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

/** Whether a value that crossed a thread boundary (or was thrown) is a runtime error with a known code. */
export function isRuntimeError (err: unknown): err is RuntimeError {
  return err instanceof RuntimeError
}

/**
 * A call that never began: its shared worker was stopped (another instance's deadline, or a crash) while the call
 * still waited behind others there. The pool runs it again on another instance (pool.ts); nothing of it ran.
 * Internal to the runtime: no caller ever sees it.
 */
export class NotStarted extends Error {
  constructor () {
    super('the call did not start: its shared worker was stopped')
  }
}
