// The security layer: key files, the lattice key, peer allow-lists, policy, member certificates and component signatures.

export { SecurityError } from './errors.ts'
export type { SecurityErrorCode } from './errors.ts'
export { maxKeyFileBytes, readPrivateFile, readPublicFile, writePrivateFile, generateSigningKey, signingKeyJwk, readSigningKey, readPublicKey, keyId } from './key-files.ts'
export { latticeKeyBytes, newLatticeKeyFile, readLatticeKey, parseLatticeKey } from './lattice-key.ts'
export { signMemberCert, verifyMemberCert, checkOwnMemberCert, parseDurationS, defaultMemberCertLimits, memberCertType } from './member-cert.ts'
export type { MemberCert, MemberCertLimits, MemberLabels, SignMemberInit, VerifyMemberInit } from './member-cert.ts'
export { createMembers, defaultMemberLimits, memberProtocol } from './members.ts'
export type { Members, MembersInit, MemberLimits, MemberRejection, MemberStats } from './members.ts'
export { createAuthorizer, decideCall, decideServe, defaultPolicyLimits, globPattern, targetPattern } from './policy.ts'
export type { Authorizer, AuthorizerInit, PeerSelector, Policy, PolicyLimits, PolicyRule, RefusalStats, RuleKind, TargetPattern, TrustedLabels, Verdict } from './policy.ts'
export { loadPolicyFile, parsePolicy, defaultPolicyFileLimits } from './policy-file.ts'
export type { PolicyFileLimits } from './policy-file.ts'
