// Applications from wadm manifests, with no leader: the interfaces, and the factory (`createApps`, in apps.ts).

import type { ComponentSpec, LocalService } from '../api.ts'
import type { Logger } from '../logger.ts'
import type { PeerView } from '../registry.ts'
import type { Gateway, Route } from '../http/index.ts'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'
import type { AppLimits } from './limits.ts'
import type { IngestResult, ReplicatorStats } from './replicate.ts'
import type { ReplicaEntry } from './status.ts'
import type { AppStatus, AppVersion } from './view.ts'

export { createApps, replicaName } from './apps.ts'
export { defaultAppLimits } from './limits.ts'
export type { AppLimits } from './limits.ts'
export { AppError } from './errors.ts'
export type { AppErrorCode } from './errors.ts'
export { parseManifest, defaultManifestLimits } from './manifest.ts'
export type { AppManifest, AppComponent, AppLink, Scaler, Spread, ManifestLimits } from './manifest.ts'
export { placeApp, placeComponent, spreadShares } from './placement.ts'
export type { Host, AppPlacement, ComponentPlacement } from './placement.ts'
export { signAppRecord, verifyAppRecord, appRecordType } from './record.ts'
export type { AppRecord, SignedAppRecord } from './record.ts'
export { encodeStatus, decodeStatus } from './status.ts'
export type { ReplicaEntry, ReplicaProblem } from './status.ts'
export { appsTopic, appsSyncProtocol, appsPushProtocol } from './replicate.ts'
export type { AppStatus, AppVersion, ComponentStatus } from './view.ts'
export { capabilityOf } from './builtins.ts'
export { createHostView } from './hosts.ts'
export type { HostView, HostViewLimits } from './hosts.ts'

export interface DeployOptions {
  /** The manifest's folder (relative `file://` images); default the working directory. */
  readonly baseDir?: string
}

export interface DeployResult {
  readonly version: AppVersion
  /** Peers that took the record from this node directly (the rest get it by gossip and sync). */
  readonly accepted: readonly string[]
  /** Peers that refused it, with their code. */
  readonly refused: ReadonlyArray<{ readonly peer: string, readonly code: string, readonly message: string }>
}

/** `MeshNode.apps`: deploy, undeploy and look at applications. */
export interface Apps {
  /** Signs the manifest with this node's key, takes it, and sends it to every connected node. */
  deploy (manifest: string, opts?: DeployOptions): Promise<DeployResult>
  /** Signs and sends a tombstone: every node stops the app's replicas. */
  undeploy (app: string): Promise<DeployResult>
  /** The newest version of each app (undeployed ones included). */
  list (): AppVersion[]
  history (app: string): AppVersion[]
  /** Desired vs running per component, with reasons, from the adverts this node holds. */
  status (app: string): AppStatus
  /** What this node runs. */
  local (): ReplicaEntry[]
  /** Asks every connected node for the records it holds, now (a short-lived client before it reads). */
  refresh (): Promise<void>
  /** Takes a record token as if a peer had sent it (tests, tools). */
  ingest (token: string): Promise<IngestResult>
  stats (): AppStats
}

export interface AppStats extends ReplicatorStats {
  /** Replica sets started and stopped here. */
  readonly replicaSetsStarted: number
  readonly replicaSetsStopped: number
}

export interface AppsInit {
  readonly libp2p: Libp2p<{ pubsub: GossipSub }>
  readonly lattice: string
  readonly self: string
  readonly privateKey: PrivateKey
  readonly dataDir?: string
  readonly log: Logger
  /** Whether this node runs replicas (a short-lived client only replicates and reads). */
  readonly host: boolean
  readonly limits?: Partial<AppLimits>
  readonly syncTimeoutMs: number
  readonly peers: () => readonly PeerView[]
  readonly onPeersChange: (fn: () => void) => () => void
  readonly load: (spec: ComponentSpec) => Promise<{ readonly digest: string }>
  readonly unload: (id: string) => Promise<void>
  readonly serve: (service: LocalService) => void
  readonly unserve: (digest: string) => void
  /** A gateway of this node (its calls go through the node's router). */
  readonly gateway: (listen: string, routes: readonly Route[]) => Gateway
  /** May `peer` deploy or undeploy? (the node's policy; README "Who may deploy"). */
  readonly mayDeploy: (peer: string, kind: 'deploy' | 'undeploy') => Promise<boolean>
  /** This node's replicas changed: advertise. */
  readonly changed: () => void
}

export interface AppsAgent extends Apps {
  start (): Promise<void>
  stop (): Promise<void>
  /** The `wasmesh.apps` advert value. */
  statusText (): string
}

