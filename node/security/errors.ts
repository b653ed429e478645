// The security layer's errors: a key, certificate, policy or signature that cannot be used, each with a stable code.

export type SecurityErrorCode =
  | 'key-file-missing'       // the key file does not exist or cannot be opened
  | 'key-file-permissions'   // a private key file others can read (group or world bits set): chmod 600 it
  | 'bad-key-file'           // the file is not a key of the kind expected (wrong size, format, curve or type)
  | 'key-file-exists'        // `key new` would overwrite a key: remove it first or choose another path
  | 'bad-trust-file'         // the trust file (allowed peers and their labels) is not valid: the message names the line
  | 'lattice-key-missing'    // a peer spoke plain libp2p to a private lattice: give it the lattice key (--lattice-key)
  | 'lattice-key-mismatch'   // a peer's connection is not under this lattice's key: give it the same key file

export class SecurityError extends Error {
  override readonly name = 'SecurityError'
  readonly code: SecurityErrorCode

  constructor (code: SecurityErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
