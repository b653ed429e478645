// Every limit and timing of apps by name, with its default: what `--limit` and `NodeInit.appLimits` set.

import { defaultManifestLimits } from './manifest.ts'
import type { ManifestLimits } from './manifest.ts'
import type { ReconcilerTimings } from './reconcile.ts'
import { defaultStoreLimits } from './store.ts'
import type { StoreLimits } from './store.ts'

/** Every limit and timing of apps (settable by name with `--limit`, `NodeInit.appLimits`). */
export interface AppLimits extends ManifestLimits, StoreLimits, ReconcilerTimings {
  /** A record's bytes (the manifest inside, base64url, plus the JWS). */
  readonly maxAppRecordBytes: number
  /** Records one sync reply may carry. */
  readonly maxAppSyncRecords: number
  /** A peer first seen this long ago counts as a host (doubled for each time it came back again within `appFlapWindowMs`, at most 32x). */
  readonly appJoinSettleMs: number
  /** Leaving and coming back within this long counts as flapping. */
  readonly appFlapWindowMs: number
  /** Registry changes within this window make one reconcile pass. */
  readonly appReconcileDebounceMs: number
  /** A reconcile pass runs at least this often (for settle and handover times), besides on every change. */
  readonly appReconcileIntervalMs: number
}

export const defaultAppLimits: AppLimits = Object.freeze({
  ...defaultManifestLimits,
  ...defaultStoreLimits,
  maxAppRecordBytes: Math.ceil(defaultManifestLimits.maxAppManifestBytes * 4 / 3) + 16 * 1024,
  maxAppSyncRecords: defaultStoreLimits.maxApps * 4,
  appJoinSettleMs: 1_000,
  appFlapWindowMs: 300_000,
  appReconcileDebounceMs: 100,
  appReconcileIntervalMs: 1_000,
  appHandoverTimeoutMs: 15_000,
  appRetryFailedMs: 30_000
})

