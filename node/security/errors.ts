// The security layer's errors: a key, certificate, policy or signature that cannot be used, each with a stable code.

export type SecurityErrorCode =
  | 'key-file-missing'       // the key file does not exist or cannot be opened
  | 'key-file-permissions'   // a private key file others can read (group or world bits set): chmod 600 it
  | 'bad-key-file'           // the file is not a key of the kind expected (wrong size, format, curve or type)
  | 'key-file-exists'        // `key new` would overwrite a key: remove it first or choose another path

export class SecurityError extends Error {
  override readonly name = 'SecurityError'
  readonly code: SecurityErrorCode

  constructor (code: SecurityErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
