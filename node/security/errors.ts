// The security layer's errors: a key, certificate, policy or signature that cannot be used, each with a stable code.

export type SecurityErrorCode =
  | 'key-file-missing'       // the key file does not exist or cannot be opened
  | 'key-file-permissions'   // a private key file others can read (group or world bits set): chmod 600 it
  | 'bad-key-file'           // the file is not a key of the kind expected (wrong size, format, curve or type)
  | 'key-file-exists'        // `key new` would overwrite a key: remove it first or choose another path
  | 'bad-member-cert'        // not a member certificate: garbage, truncated, oversized, or claims out of bounds
  | 'member-cert-untrusted'  // not signed by a trusted admin key (forged, or an admin this node does not trust)
  | 'member-cert-expired'    // past its expiry (or not valid yet): ask the lattice admin for a new one
  | 'member-cert-wrong-peer' // issued to another peer id: a certificate is only good for the peer it names
  | 'member-cert-other-lattice' // issued for another lattice
  | 'bad-policy'             // a policy file that cannot be used: the message names the file and line

export class SecurityError extends Error {
  override readonly name = 'SecurityError'
  readonly code: SecurityErrorCode

  constructor (code: SecurityErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
