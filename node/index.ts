// The public entry of wasmesh's node (`wasmesh/node`): createNode and the types of what it takes and gives.

export { createNode } from './node.ts'
export { defaultNodeLimits } from './api.ts'
export type {
  CallEvent, CallOptions, ComponentSpec, LocalService, MeshNode, NodeInit, NodeLimits, NodeObserver, NodeStats,
  ServiceCallContext, StopOptions
} from './api.ts'
export { NodeError } from './errors.ts'
export type { NodeErrorCode } from './errors.ts'
export { RouterError } from './router.ts'
export type { Link } from './links.ts'
export { defaultRuntimeLimits } from './runtime/index.ts'
export type { ComponentConfig, LoadedComponent, RuntimeLimits } from './runtime/index.ts'
export type { Logger } from './logger.ts'
