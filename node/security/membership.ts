// Who may be a member of this node's lattice: the lattice key's protector, the allow-list's gater, the trust file reloaded on change or on demand, and the refusals they count.

import { watch } from 'node:fs'
import type { FSWatcher } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import type { ConnectionGater, ConnectionProtector, Libp2p, Startable } from '@libp2p/interface'
import type { Logger } from '../logger.ts'
import { createAllowList, readTrustFile } from './allow-list.ts'
import type { AllowList, TrustFileLimits } from './allow-list.ts'
import { SecurityError } from './errors.ts'
import { allowListGater } from './gater.ts'
import { latticeProtector } from './protector.ts'
import { createRefusals } from './refusals.ts'
import type { RefusalLimits, RefusalReason, Refusals } from './refusals.ts'

/** Edits of the trust file closer together than this are one reload (editors write a file in several steps). */
export const defaultTrustReloadDebounceMs = 200

export interface MembershipInit {
  /** The lattice key's file bytes (`readLatticeKey`): only peers holding the same key connect. */
  readonly latticeKey?: Uint8Array
  /** Peers allowed by id. */
  readonly allowPeers?: readonly string[]
  /** A trust file (`parseTrustFile`'s format): its peers are allowed too, with their labels; watched and reloaded. */
  readonly trustFile?: string
  readonly trustFileLimits?: Partial<TrustFileLimits>
  readonly refusalLimits?: Partial<RefusalLimits>
  readonly trustReloadDebounceMs?: number
  readonly log: Logger
  /** After a reload put a new list in force: the labels it gives peers may have changed. */
  readonly onReload?: () => void
}

export interface Membership extends Startable {
  /** The connection protector of a private lattice; undefined without a lattice key. */
  readonly protector?: () => ConnectionProtector
  /** The allow-list's gater; it lets everyone in while no allow-list is configured. */
  readonly gater: ConnectionGater
  /** Whether a lattice key protects every connection. */
  readonly privateLattice: boolean
  /** Whether an allow-list (--allow-peer or a trust file) is in force. */
  readonly restricted: boolean
  /** Whether `peer` may connect (always true without an allow-list). */
  allows (peer: string): boolean
  /**
   * The labels this node's trust file gives `peer` (`{}` for a peer allowed by id only), undefined
   * for a peer not on the allow-list or when there is none. The labels an operator vouches for,
   * unlike those a peer advertises about itself.
   */
  trustedLabels (peer: string): Readonly<Record<string, string>> | undefined
  /**
   * Reads the trust file again and applies it: peers no longer allowed are disconnected. A file
   * that cannot be read or parsed keeps the list in force and is logged; returns whether the new
   * list is in force. Without a trust file, nothing to do (true).
   */
  reload (): Promise<boolean>
  /** The libp2p node whose connections a reload closes. */
  attach (libp2p: Libp2p): void
  counts (): Partial<Record<RefusalReason, number>>
  readonly refusals: Refusals
}

/** Reads the trust file (a bad one is a `bad-trust-file` error: the node does not start on it). */
export async function createMembership (init: MembershipInit): Promise<Membership> {
  const log = init.log
  const refusals = createRefusals({ log, limits: init.refusalLimits })
  const ids = init.allowPeers ?? []
  const trustFile = init.trustFile === undefined ? undefined : resolve(init.trustFile)
  const restricted = ids.length > 0 || trustFile !== undefined
  let list: AllowList | undefined = restricted
    ? createAllowList(ids, trustFile === undefined ? [] : await readTrustFile(trustFile, init.trustFileLimits))
    : undefined
  if (list !== undefined) log.info(`allow-list in force: ${list.size} peer${list.size === 1 ? '' : 's'} may connect${trustFile === undefined ? '' : ` (trust file ${trustFile}, re-read on change and on SIGHUP)`}`)
  let libp2p: Libp2p | undefined
  let watcher: FSWatcher | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  let reloading: Promise<boolean> | undefined
  let again = false

  const closeDisallowed = (): void => {
    if (libp2p === undefined || list === undefined) return
    const gone = new Map<string, number>()
    for (const conn of libp2p.getConnections()) {
      const peer = conn.remotePeer.toString()
      if (list.allows(peer)) continue
      gone.set(peer, (gone.get(peer) ?? 0) + 1)
      conn.abort(new SecurityError('bad-trust-file', `peer ${peer} is no longer on the allow-list`))
    }
    for (const [peer, n] of gone) log.info(`peer ${peer} is no longer on the allow-list: closed its ${n} connection${n === 1 ? '' : 's'}`)
  }

  const readAndApply = async (): Promise<boolean> => {
    if (trustFile === undefined) return true
    try {
      const next = createAllowList(ids, await readTrustFile(trustFile, init.trustFileLimits))
      const before = list?.size ?? 0
      list = next
      log.info(`trust file ${trustFile} reloaded: ${next.size} peer${next.size === 1 ? '' : 's'} allowed (${before} before)`)
      closeDisallowed()
      init.onReload?.()
      return true
    } catch (err) {
      log.error(`trust file ${trustFile} not reloaded, the previous list stays in force: ${(err as Error).message}`)
      return false
    }
  }

  // one reload at a time; a request during one makes one more after it
  const reload = async (): Promise<boolean> => {
    if (reloading !== undefined) { again = true; return await reloading }
    reloading = (async () => {
      let ok: boolean
      do { again = false; ok = await readAndApply() } while (again)
      return ok
    })().finally(() => { reloading = undefined })
    return await reloading
  }

  return {
    protector: init.latticeKey === undefined ? undefined : latticeProtector({ psk: init.latticeKey, refusals }),
    gater: allowListGater(() => list, refusals),
    privateLattice: init.latticeKey !== undefined,
    restricted,
    allows: peer => list === undefined || list.allows(peer),
    trustedLabels: peer => list?.trustedLabels(peer),
    reload,
    attach (node) { libp2p = node },
    counts: () => refusals.counts(),
    refusals,
    start () {
      if (trustFile === undefined || watcher !== undefined) return
      // the directory, not the file: editors and `mv` replace the file, which ends a watch on it
      const name = basename(trustFile)
      watcher = watch(dirname(trustFile), (_event, file) => {
        if (file !== null && file.toString() !== name) return
        clearTimeout(timer)
        timer = setTimeout(() => { void reload() }, init.trustReloadDebounceMs ?? defaultTrustReloadDebounceMs)
      })
      watcher.on('error', err => { log.warn(`no longer watching the trust file ${trustFile} (${err.message}): reload it with SIGHUP`) })
    },
    async stop () {
      watcher?.close()
      watcher = undefined
      clearTimeout(timer)
      timer = undefined
      await reloading
    }
  }
}
