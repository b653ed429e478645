// The public entry of a mesh node (package.json "./node"): createNode and the types its users need.

export { createNode } from './node.ts'
export { defaultNodeLimits, defaultSecurityLimits } from './api.ts'
export type {
  CallEvent, CallOptions, ComponentSpec, ConnectionInfo, DialOptions, LocalService, MeshNode, NodeInit, NodeLimits,
  NodeObserver, NodeStats, PeerView, RegistryChange, RegistryFilter, SecurityLimits, Server, ServiceCallContext, StopOptions
} from './api.ts'
// what NodeInit's policy, memberCert, trustAdmins and trust are made from
export { loadPolicyFile, parsePolicy, readPublicKey, readSigningKey, signMemberCert, verifyMemberCert, SecurityError } from './security/index.ts'
export type { MemberCert, MemberLabels, Policy, SecurityErrorCode } from './security/index.ts'
export { describeProtocol } from './describe.ts'
export { functionOf } from '../protocol/wit/index.ts'
export { syncProtocol } from './adverts.ts'
export { RouterError } from './router.ts'
export { NodeError } from './errors.ts'
export type { LoadedComponent, PoolStats } from './runtime/index.ts'
export type { Link } from './links.ts'
export { UntrustedComponentError, signComponent } from './security/index.ts'
export type { ComponentClaims, ComponentTrust, UntrustedReason } from './security/index.ts'
// the control interface every node serves: call it with `node.call(CONTROL_IFACE, func, params, { target })`
export { CONTROL_IFACE, ControlError, controlWit, defaultControlLimits } from './control/index.ts'
export type { ControlErrorCode, ControlEvent, ControlEventKind, ControlInit, ControlLimits } from './control/index.ts'
