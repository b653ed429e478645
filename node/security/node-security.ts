// A node's authorisation parts, made and wired in one place: its certificate checked, the exchange, the authorizer, the registry's hooks.

import type { KeyObject } from 'node:crypto'
import type { Libp2p } from '@libp2p/interface'
import type { Logger } from '../logger.ts'
import { checkOwnMemberCert } from './member-cert.ts'
import type { MemberLabels } from './member-cert.ts'
import { createMembers, defaultMemberLimits } from './members.ts'
import type { MemberLimits, Members } from './members.ts'
import { createAuthorizer, defaultPolicyLimits } from './policy.ts'
import type { Authorizer, Policy, PolicyLimits, TrustedLabels } from './policy.ts'

/** Limits of the certificate exchange and the policy's cache. */
export interface SecurityLimits extends MemberLimits, PolicyLimits {}

export const defaultSecurityLimits: SecurityLimits = Object.freeze({ ...defaultMemberLimits, ...defaultPolicyLimits })

export interface NodeSecurityInit {
  readonly libp2p: Libp2p
  readonly lattice: string
  /** This node's peer id: its own certificate must name it. */
  readonly self: string
  readonly policy?: Policy
  readonly memberCert?: string
  readonly trustAdmins?: readonly KeyObject[]
  /** Labels this node trusts for a peer from elsewhere than certificates (a trust file); they win over a certificate's. */
  readonly trustedLabels?: (peer: string) => MemberLabels | undefined
  readonly limits?: Partial<SecurityLimits>
  readonly log: Logger
}

export interface NodeSecurity {
  readonly members: Members
  readonly authorizer: Authorizer
  /** What the registry takes: who may serve what, and (when admins are trusted) the labels its filters believe. */
  readonly registry: {
    readonly mayServe: (peer: string, iface: string) => boolean
    readonly trustedLabels?: (peer: string) => MemberLabels | undefined
  }
}

/**
 * Checks this node's own certificate (a wrong one fails here, before anything starts), and makes the certificate
 * exchange and the authorizer fed by it. `members` is started and stopped by the node.
 */
export async function createNodeSecurity (init: NodeSecurityInit): Promise<NodeSecurity> {
  const limits = { ...defaultSecurityLimits, ...init.limits }
  const trusted = init.trustAdmins ?? []
  if (init.memberCert !== undefined) await checkOwnMemberCert(init.memberCert, { peer: init.self, lattice: init.lattice, trusted, limits })
  if (trusted.length === 0 && init.policy?.rules.some(r => r.peers.labelSets.length > 0) === true) {
    init.log.warn('the policy has rules by label, but this node trusts no admin key (--trust-admin): no peer has trusted labels, so they match nobody')
  }
  // Peers' labels are believed only from certificates signed by a trusted admin; policy and label filters read them here.
  const members = createMembers({ libp2p: init.libp2p, lattice: init.lattice, ownCert: init.memberCert, trusted, limits, log: init.log.child('members'), changed: peer => { authorizer.changed(peer) } })
  const local = init.trustedLabels
  const labels: TrustedLabels = local === undefined
    ? members.labels
    : peer => {
      const own = local(peer)
      const certified = members.labels(peer)
      return certified instanceof Promise ? certified.then(c => merged(own, c)) : merged(own, certified)
    }
  const labelsNow = local === undefined ? members.labelsNow : (peer: string) => merged(local(peer), members.labelsNow(peer))
  const authorizer = createAuthorizer({ policy: init.policy, labels, labelsNow, limits })
  return {
    members,
    authorizer,
    registry: { mayServe: authorizer.serve, ...(trusted.length > 0 || local !== undefined ? { trustedLabels: labelsNow } : {}) }
  }
}

/** A peer's labels from both sources; the operator's own (`local`) win over a certificate's. */
function merged (local: MemberLabels | undefined, certified: MemberLabels | undefined): MemberLabels | undefined {
  if (local === undefined) return certified
  if (certified === undefined) return local
  return { ...certified, ...local }
}
