// The security layer: key files, the lattice key, peer allow-lists, policy, member certificates and component signatures.

export { SecurityError, UntrustedComponentError } from './errors.ts'
export type { SecurityErrorCode, UntrustedReason } from './errors.ts'
export { maxKeyFileBytes, readPrivateFile, readPublicFile, writePrivateFile, generateSigningKey, signingKeyJwk, readSigningKey, readPublicKey, keyId } from './key-files.ts'
export { latticeKeyBytes, newLatticeKeyFile, readLatticeKey, parseLatticeKey } from './lattice-key.ts'
export {
  checkComponentClaims, componentDigest, componentSignatureAlg, componentSignatureType, defaultMaxComponentSignatureBytes, disallowedImports, importAllowed,
  parseComponentSignature, selfCheck, signComponent, signatureSuffix, trustedKeys, verifyComponentSignature
} from './signatures.ts'
export type { ComponentClaims, ComponentSignature, SignOptions, VerifyOptions } from './signatures.ts'
export { createComponentGate, readSignatureFile } from './component-trust.ts'
export type { ComponentGate, ComponentSource, ComponentTrust } from './component-trust.ts'
