// `/wasmesh/member/1.0.0`: each side of a connection asks the other for its member certificate; what verifies is the peer's trusted labels.

import type { KeyObject } from 'node:crypto'
import type { Connection, Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { handleRequests, request } from '../request.ts'
import type { Logger } from '../logger.ts'
import { SecurityError } from './errors.ts'
import type { SecurityErrorCode } from './errors.ts'
import { defaultMemberCertLimits, verifyMemberCert } from './member-cert.ts'
import type { MemberCert, MemberCertLimits, MemberLabels } from './member-cert.ts'

/** The protocol id; the certificate names its lattice, so one protocol serves every lattice. */
export const memberProtocol = '/wasmesh/member/1.0.0'

export interface MemberLimits extends MemberCertLimits {
  /** How long asking a peer for its certificate may take, both sides. */
  readonly memberTimeoutMs: number
  /** Peers whose verdict is kept; past it the oldest is forgotten (and asked again when needed). */
  readonly maxMemberPeers: number
  /** Certificates asked for at once of peers this node is not connected to (routing wants their labels). */
  readonly maxMemberFetchesInFlight: number
}

export const defaultMemberLimits: MemberLimits = Object.freeze({
  ...defaultMemberCertLimits,
  memberTimeoutMs: 5_000,
  maxMemberPeers: 4096,
  maxMemberFetchesInFlight: 16
})

/** Why a peer's certificate was refused (the counters' keys). */
export type MemberRejection = 'bad' | 'untrusted' | 'expired' | 'wrong-peer' | 'other-lattice'

const rejection: Partial<Record<SecurityErrorCode, MemberRejection>> = {
  'bad-member-cert': 'bad',
  'member-cert-untrusted': 'untrusted',
  'member-cert-expired': 'expired',
  'member-cert-wrong-peer': 'wrong-peer',
  'member-cert-other-lattice': 'other-lattice'
}

export interface MemberStats {
  /** Certificates of peers that verified. */
  readonly verified: number
  /** Certificates refused, by reason. */
  readonly rejected: Readonly<Partial<Record<MemberRejection, number>>>
}

export interface MembersInit {
  readonly libp2p: Libp2p
  readonly lattice: string
  /** This node's own certificate (its text), presented to peers that ask; checked against `self` by the caller. */
  readonly ownCert?: string
  /** The admin keys whose certificates this node trusts; none: peers are not asked and no peer has trusted labels. */
  readonly trusted: readonly KeyObject[]
  readonly limits?: Partial<MemberLimits>
  readonly log: Logger
  /** A peer's trusted labels changed (a certificate verified, expired or its peer went). */
  readonly changed?: (peer: string) => void
}

export interface Members {
  /** Answers peers' requests with this node's certificate; asks each newly connected peer for its own. */
  start (): Promise<void>
  stop (): Promise<void>
  /**
   * The labels this node trusts for `peer` (from its verified certificate), `undefined` when it has
   * none that verifies; a promise while its certificate is being asked for (asked now when unknown).
   */
  labels (peer: string): MemberLabels | undefined | Promise<MemberLabels | undefined>
  /** The labels known now, never waiting; asks for the certificate in the background when unknown. */
  labelsNow (peer: string): MemberLabels | undefined
  stats (): MemberStats
}

type Entry =
  | { readonly state: 'pending', readonly promise: Promise<MemberLabels | undefined> }
  | { readonly state: 'done', readonly cert: MemberCert | undefined }

/** Builds the certificate exchange. With no trusted admins nothing is asked and every peer's labels are `undefined`. */
export function createMembers (init: MembersInit): Members {
  const { libp2p, lattice, log } = init
  const limits: MemberLimits = { ...defaultMemberLimits, ...init.limits }
  const requestLimits = { maxRequestBytes: 0, maxResponseBytes: limits.maxMemberCertBytes, timeoutMs: limits.memberTimeoutMs }
  const own = init.ownCert === undefined ? new Uint8Array(0) : new TextEncoder().encode(init.ownCert)
  const asking = init.trusted.length > 0
  // insertion order is age: the oldest verdict goes first past maxMemberPeers
  const entries = new Map<string, Entry>()
  let background = 0
  let verified = 0
  const rejected: Partial<Record<MemberRejection, number>> = {}
  // one warning per peer and reason, the rest at debug: a peer cannot flood the log
  const warned = new Set<string>()
  let started = false
  let handling = false

  function set (peer: string, entry: Entry): void {
    entries.delete(peer)
    entries.set(peer, entry)
    while (entries.size > limits.maxMemberPeers) entries.delete(entries.keys().next().value as string)
  }

  function refuse (peer: string, err: SecurityError): void {
    const why = rejection[err.code] ?? 'bad'
    rejected[why] = (rejected[why] ?? 0) + 1
    const key = `${peer} ${why}`
    const line = `member certificate of ${peer} refused (${why}): ${err.message}`
    if (warned.has(key)) { log.debug(line); return }
    if (warned.size >= limits.maxMemberPeers) warned.clear()
    warned.add(key)
    log.warn(line)
  }

  async function ask (peer: string): Promise<MemberLabels | undefined> {
    let bytes: Uint8Array
    try {
      bytes = await request(libp2p, peerIdFromString(peer), memberProtocol, new Uint8Array(0), requestLimits)
    } catch (err) {
      // a peer that does not speak the protocol, or too slow, or more than maxMemberCertBytes: no certificate
      const code = (err as { code?: unknown }).code
      if (code === 'too-large') refuse(peer, new SecurityError('bad-member-cert', `more than maxMemberCertBytes (${limits.maxMemberCertBytes})`))
      else log.debug(`no member certificate from ${peer}: ${(err as Error).message}`)
      return undefined
    }
    if (bytes.byteLength === 0) return undefined
    try {
      const cert = await verifyMemberCert(bytes, { trusted: init.trusted, peer, lattice, limits })
      verified++
      log.debug(`member ${peer} verified: labels ${JSON.stringify(cert.labels)}, issued by ${cert.issuer}`)
      return remember(peer, cert)
    } catch (err) {
      if (err instanceof SecurityError) refuse(peer, err)
      else log.debug(`member certificate of ${peer}: ${(err as Error).message}`)
      return undefined
    }
  }

  function remember (peer: string, cert: MemberCert): MemberLabels {
    const current = entries.get(peer)
    if (current?.state === 'pending') set(peer, { state: 'done', cert })
    return cert.labels
  }

  function fetch (peer: string): Promise<MemberLabels | undefined> {
    const promise = ask(peer).then(labels => {
      const e = entries.get(peer)
      if (e?.state === 'pending' && e.promise === promise) set(peer, { state: 'done', cert: undefined })
      init.changed?.(peer)
      return labels
    })
    set(peer, { state: 'pending', promise })
    return promise
  }

  function current (peer: string): MemberLabels | undefined | Promise<MemberLabels | undefined> | null {
    const e = entries.get(peer)
    if (e === undefined) return null
    if (e.state === 'pending') return e.promise
    if (e.cert === undefined) return undefined
    if (e.cert.expiresAt * 1000 <= Date.now()) {
      rejected.expired = (rejected.expired ?? 0) + 1
      log.info(`member certificate of ${peer} expired`)
      set(peer, { state: 'done', cert: undefined })
      init.changed?.(peer)
      return undefined
    }
    return e.cert.labels
  }

  const onOpen = (evt: CustomEvent<Connection>): void => {
    const peer = evt.detail.remotePeer.toString()
    // a new connection asks again: the peer may have been given a certificate since
    if (entries.get(peer)?.state !== 'pending') void fetch(peer)
  }
  const onGone = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString()
    if (entries.delete(peer)) init.changed?.(peer)
  }

  return {
    async start () {
      if (started) return
      started = true
      if (own.byteLength > 0 && !handling) {
        handling = true
        await handleRequests(libp2p, memberProtocol, async () => own, requestLimits)
      }
      if (asking) {
        libp2p.addEventListener('connection:open', onOpen)
        libp2p.addEventListener('peer:disconnect', onGone)
      }
    },

    async stop () {
      if (!started) return
      started = false
      libp2p.removeEventListener('connection:open', onOpen)
      libp2p.removeEventListener('peer:disconnect', onGone)
      if (handling) {
        handling = false
        await libp2p.unhandle(memberProtocol)
      }
      entries.clear()
    },

    labels (peer) {
      if (!asking) return undefined
      const known = current(peer)
      return known === null ? fetch(peer) : known
    },

    labelsNow (peer) {
      if (!asking) return undefined
      const known = current(peer)
      if (known instanceof Promise) return undefined
      if (known === null && started && background < limits.maxMemberFetchesInFlight) {
        background++
        void fetch(peer).finally(() => { background-- })
      }
      return known ?? undefined
    },

    stats () {
      return { verified, rejected: { ...rejected } }
    }
  }
}
