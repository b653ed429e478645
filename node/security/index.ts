// The security layer: key files, the lattice key, peer allow-lists, policy, member certificates and component signatures.

export { SecurityError } from './errors.ts'
export type { SecurityErrorCode } from './errors.ts'
export { maxKeyFileBytes, readPrivateFile, readPublicFile, writePrivateFile, generateSigningKey, signingKeyJwk, readSigningKey, readPublicKey, keyId } from './key-files.ts'
export { latticeKeyBytes, newLatticeKeyFile, readLatticeKey, parseLatticeKey } from './lattice-key.ts'
