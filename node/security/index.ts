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
export { createAllowList, parseTrustFile, readTrustFile, checkPeerId, defaultTrustFileLimits } from './allow-list.ts'
export type { AllowList, TrustedPeer, TrustFileLimits } from './allow-list.ts'
export { createMembership, defaultTrustReloadDebounceMs } from './membership.ts'
export type { Membership, MembershipInit } from './membership.ts'
export { createRefusals, defaultRefusalLimits } from './refusals.ts'
export type { RefusalReason, RefusalLimits, Refusals } from './refusals.ts'
export { latticeProtector } from './protector.ts'
export { allowListGater } from './gater.ts'
