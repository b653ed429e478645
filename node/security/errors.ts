// The security layer's errors: a key, certificate, policy or signature that cannot be used, each with a stable code.

export type SecurityErrorCode =
  | 'key-file-missing'       // the key file does not exist or cannot be opened
  | 'key-file-permissions'   // a private key file others can read (group or world bits set): chmod 600 it
  | 'bad-key-file'           // the file is not a key of the kind expected (wrong size, format, curve or type)
  | 'key-file-exists'        // `key new` would overwrite a key: remove it first or choose another path
  | 'invalid-claims'         // `sign` was given claims a signature cannot carry (an import that is not an interface id, a name too long)
  | 'untrusted-component'    // a component without a signature by a trusted key (see UntrustedComponentError's reason)
  | 'bad-trust-file'         // the trust file (allowed peers and their labels) is not valid: the message names the line
  | 'lattice-key-missing'    // a peer spoke plain libp2p to a private lattice: give it the lattice key (--lattice-key)
  | 'lattice-key-mismatch'   // a peer's connection is not under this lattice's key: give it the same key file
  | 'bad-member-cert'        // not a member certificate: garbage, truncated, oversized, or claims out of bounds
  | 'member-cert-untrusted'  // not signed by a trusted admin key (forged, or an admin this node does not trust)
  | 'member-cert-expired'    // past its expiry (or not valid yet): ask the lattice admin for a new one
  | 'member-cert-wrong-peer' // issued to another peer id: a certificate is only good for the peer it names
  | 'member-cert-other-lattice' // issued for another lattice
  | 'bad-policy'             // a policy file that cannot be used: the message names the file and line

export class SecurityError extends Error {
  override readonly name: string = 'SecurityError'
  readonly code: SecurityErrorCode

  constructor (code: SecurityErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** Why a component is not trusted: each says what to do in the error's message. */
export type UntrustedReason =
  | 'unsigned'             // no signature beside it (`<file>.sig`) or given with its bytes: sign it with `wasmesh sign`
  | 'too-large'            // the signature is over maxComponentSignatureBytes: not a signature
  | 'malformed'            // not a component signature (not a compact JWS, another alg such as none or HS256, wrong typ or claims)
  | 'untrusted-key'        // signed by a key this node does not trust: add its public key with --trust-key, or sign with a trusted key
  | 'bad-signature'        // the signature does not verify with the key it names: altered or forged
  | 'digest-mismatch'      // a valid signature of other bytes: the component changed after signing, or the signature is another component's
  | 'expired'              // the signature's exp has passed: sign it again
  | 'not-yet-valid'        // the signature's nbf is still to come
  | 'imports-not-allowed'  // the component imports interfaces its signature does not allow

/** `untrusted-component`: a component the node refuses to load, and why. */
export class UntrustedComponentError extends SecurityError {
  override readonly name = 'UntrustedComponentError'
  readonly reason: UntrustedReason

  constructor (reason: UntrustedReason, message: string, options?: { cause?: unknown }) {
    super('untrusted-component', message, options)
    this.reason = reason
  }
}
