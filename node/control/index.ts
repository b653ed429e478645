// The control interface every node serves (wasmesh:lattice/control): its parts' interfaces, the factory, and the rule that a control call names its peer.

import type { ComponentSpec, ConnectionInfo, LocalService } from '../api.ts'
import type { Link } from '../links.ts'
import type { Logger } from '../logger.ts'
import type { Reachability } from '../reachability.ts'
import type { LoadedComponent, PoolStats } from '../runtime/index.ts'
import { unversioned } from '../../protocol/versions.ts'
import { ControlError } from './errors.ts'
import type { EventHub, EventHubStats } from './events.ts'
import type { ControlLimits } from './limits.ts'
import { createControlService } from './service.ts'

export { ControlError } from './errors.ts'
export type { ControlErrorCode } from './errors.ts'
export { defaultControlLimits } from './limits.ts'
export type { ControlLimits } from './limits.ts'
export type { ControlEvent, ControlEventKind, EventHub, EventHubStats } from './events.ts'
export { CONTROL_IFACE, controlInterface, controlWit } from './wit.ts'
import { CONTROL_IFACE } from './wit.ts'


/** What `NodeInit.control` takes. */
export interface ControlInit {
  /**
   * Without a policy, let every peer of the lattice control this node (`wasmesh node --control`). With a policy,
   * the policy decides (the control interface touches data: no rule, no call) and this is ignored. Default false:
   * peers are refused with `control-refused`; this node's own calls always pass.
   */
  readonly open?: boolean
  readonly limits?: Partial<ControlLimits>
}

/** What control needs of its node. */
export interface ControlHost {
  readonly self: string
  readonly log: Logger
  /** Where built-in providers keep their data (`ctx.dataDir`). */
  readonly dataDir?: string
  readonly limits: ControlLimits
  readonly open: boolean
  /** Whether a policy is in force (then the inbound path has already allowed the caller). */
  policyActive (): boolean
  load (spec: ComponentSpec): Promise<LoadedComponent>
  unload (id: string): Promise<void>
  components (): LoadedComponent[]
  componentStats (id: string): PoolStats
  /** Every local service, components' and providers'. */
  services (): LocalService[]
  serve (service: LocalService): void
  unserve (digest: string): void
  links (): readonly Link[]
  putLink (link: Link): void
  /** Deletes the links of `component` to `target` named `name` (undefined: default); returns how many went. */
  deleteLinks (component: string, target: string, name: string | undefined): number
  labels (): Readonly<Record<string, string>>
  setLabels (labels: Readonly<Record<string, string>>): void
  /** How peers reach the node: what get-network answers. */
  network (): NetworkInfo
}

/** `get-network`'s answer (wasmesh:lattice/control's network-info). */
export interface NetworkInfo {
  readonly reachability: Reachability
  readonly addresses: readonly string[]
  /** Peer ids of the relays this node holds a reservation on. */
  readonly relays: readonly string[]
  /** Reservations this node holds for others, as a relay. */
  readonly relayReservations: number
  readonly connections: ReadonlyArray<Pick<ConnectionInfo, 'peer' | 'direction' | 'relayed'> & { readonly address: string }>
}

export interface Control {
  /** What the node serves (and advertises) under CONTROL_IFACE. */
  readonly service: LocalService
  readonly events: EventHub
  /** The merged values of named configs (what scale-component feeds wasi:config). */
  config (names: readonly string[]): Record<string, string>
  /** Emits host-started. */
  start (): void
  /** Emits host-stopping, ends every watcher and stops the providers it started. */
  stop (): Promise<void>
  stats (): EventHubStats
}

export function createControl (host: ControlHost): Control {
  return createControlService(host)
}

/** Whether `iface` (any version) is the control interface. */
export function isControlInterface (iface: string): boolean {
  return unversioned(iface) === unversioned(CONTROL_IFACE)
}

/** A control call goes to the one peer it names: the router must never pick "whichever serves it". */
export function requireControlTarget (iface: string, target: string | undefined): void {
  if (target === undefined && isControlInterface(iface)) {
    throw new ControlError('control-needs-target', `a call to ${iface} must name the node it controls (CallOptions.target, --peer): control calls are never routed to whichever peer serves them`)
  }
}
