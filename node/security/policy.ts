// The node's policy: who may call which interfaces and functions, and who may serve which, compiled once and answered from a cache.

import { unversioned } from '../../protocol/versions.ts'
import type { MemberLabels } from './member-cert.ts'

/** Who a rule is about: anyone, some peer ids, or peers whose certificate carries all of one set of labels. */
export interface PeerSelector {
  readonly anyone: boolean
  readonly peers: ReadonlySet<string>
  /** Each set is matched whole (all its labels); any set matching is enough. */
  readonly labelSets: ReadonlyArray<MemberLabels>
}

/** One `iface[#func]` pattern, `*` a wildcard; an interface pattern without `@version` matches every version. */
export interface TargetPattern {
  readonly text: string
  readonly iface: RegExp
  readonly versioned: boolean
  readonly func: RegExp
}

export type RuleKind = 'call' | 'serve'

export interface PolicyRule {
  readonly kind: RuleKind
  readonly effect: 'allow' | 'deny'
  /** How refusals name it: its `name`, else `rule <n>`. */
  readonly name: string
  /** Where it is in its file, for messages. */
  readonly line?: number
  readonly peers: PeerSelector
  readonly targets: readonly TargetPattern[]
}

/** A compiled policy (`compilePolicy`, or `loadPolicyFile` in policy-file.ts). */
export interface Policy {
  readonly rules: readonly PolicyRule[]
  /** Calls no rule matches, to what does not touch data. */
  readonly defaultCall: 'allow' | 'deny'
  /** Interfaces treated as touching data besides the providers marked so: no rule, no call. */
  readonly dataInterfaces: readonly TargetPattern[]
  /** The file it came from, for messages. */
  readonly source?: string
}

/** The answer for one call or serve. */
export interface Verdict {
  readonly allowed: boolean
  /** The rule that decided, or `default` / `default-deny-data` / `default-deny-serve`. */
  readonly rule: string
}

export interface PolicyLimits {
  /** Verdicts kept (per peer, interface and function); past it the cache starts again. */
  readonly maxPolicyCacheEntries: number
}

export const defaultPolicyLimits: PolicyLimits = Object.freeze({ maxPolicyCacheEntries: 65_536 })

/** A glob (`*` any run of characters, everything else literal) as an anchored RegExp. */
export function globPattern (glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map(part => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`)
}

/** `ns:pkg/iface[@version][#func]` with wildcards. */
export function targetPattern (text: string): TargetPattern {
  const hash = text.indexOf('#')
  const iface = hash < 0 ? text : text.slice(0, hash)
  const func = hash < 0 ? '*' : text.slice(hash + 1)
  return { text, iface: globPattern(iface), versioned: iface.includes('@'), func: globPattern(func === '' ? '*' : func) }
}

function matchesIface (t: TargetPattern, iface: string): boolean {
  return t.iface.test(t.versioned ? iface : unversioned(iface))
}

function matchesPeer (s: PeerSelector, peer: string, labels: MemberLabels | undefined): boolean {
  if (s.anyone || s.peers.has(peer)) return true
  if (labels === undefined) return false
  return s.labelSets.some(set => Object.entries(set).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v))
}

/** Whether the rule's peers need the peer's trusted labels to be decided (not anyone, not by id). */
function needsLabels (s: PeerSelector, peer: string): boolean {
  return !s.anyone && !s.peers.has(peer) && s.labelSets.length > 0
}

/** Decides a call with known labels: the first matching call rule, else the defaults. */
export function decideCall (policy: Policy, peer: string, labels: MemberLabels | undefined, iface: string, func: string, touchesData: boolean): Verdict {
  for (const r of policy.rules) {
    if (r.kind !== 'call') continue
    if (!r.targets.some(t => matchesIface(t, iface) && t.func.test(func))) continue
    if (matchesPeer(r.peers, peer, labels)) return { allowed: r.effect === 'allow', rule: r.name }
  }
  if (touchesData || policy.dataInterfaces.some(t => matchesIface(t, iface) && t.func.test(func))) return { allowed: false, rule: 'default-deny-data' }
  return { allowed: policy.defaultCall === 'allow', rule: 'default' }
}

/** Decides who may serve: the first matching serve rule; an interface some serve rule names is denied to everyone else; the rest is open. */
export function decideServe (policy: Policy, peer: string, labels: MemberLabels | undefined, iface: string): Verdict {
  let named = false
  for (const r of policy.rules) {
    if (r.kind !== 'serve' || !r.targets.some(t => matchesIface(t, iface))) continue
    named = true
    if (matchesPeer(r.peers, peer, labels)) return { allowed: r.effect === 'allow', rule: r.name }
  }
  return named ? { allowed: false, rule: 'default-deny-serve' } : { allowed: true, rule: 'default' }
}

/**
 * Whether deciding for `peer` on `iface` (and `func`, for calls) may depend on its labels: only then is it worth
 * waiting for (or asking for) its certificate, and a verdict without them is not final.
 */
function dependsOnLabels (policy: Policy, peer: string, kind: RuleKind, iface: string, func?: string): boolean {
  return policy.rules.some(r => r.kind === kind && needsLabels(r.peers, peer) && r.targets.some(t => matchesIface(t, iface) && (func === undefined || t.func.test(func))))
}

/** Where a peer's trusted labels come from: member certificates, a trust file; a promise while they are being found out. */
export type TrustedLabels = (peer: string) => MemberLabels | undefined | Promise<MemberLabels | undefined>

export interface AuthorizerInit {
  readonly policy?: Policy
  /** The labels this node trusts for a peer (may wait, for a call). */
  readonly labels: TrustedLabels
  /** The same without waiting (routing cannot wait): `undefined` while unknown. */
  readonly labelsNow: (peer: string) => MemberLabels | undefined
  readonly limits?: Partial<PolicyLimits>
}

export interface RefusalStats {
  /** Refused calls by `interface` and rule, at most `maxRefusalSeries` pairs (the rest under `other`). */
  readonly calls: ReadonlyArray<{ readonly iface: string, readonly rule: string, readonly count: number }>
  /** Refused calls in all. */
  readonly total: number
}

export interface Authorizer {
  /** Whether a policy is in force. */
  readonly active: boolean
  /** May `peer` call `iface#func` of this node? A promise only while the peer's labels are being found out. */
  call (peer: string, iface: string, func: string, touchesData: boolean): Verdict | Promise<Verdict>
  /** May `peer` serve `iface` to this node? Never waits: unknown labels count as none until known. */
  serve (peer: string, iface: string): boolean
  /** Puts a new policy in force (undefined: none); drops every cached verdict. */
  setPolicy (policy: Policy | undefined): void
  /** A peer's labels changed: its cached verdicts go. Without a peer: anyone's may have (a trust file reloaded). */
  changed (peer?: string): void
  /** Counts a refused call (the inbound path calls it once per refusal). */
  refused (iface: string, rule: string): void
  stats (): RefusalStats
}

const maxRefusalSeries = 256
const OTHER = 'other'

/** The policy check with its cache: verdicts per peer, interface and function, dropped on a reload or a peer's new labels. */
export function createAuthorizer (init: AuthorizerInit): Authorizer {
  let policy = init.policy
  const max = init.limits?.maxPolicyCacheEntries ?? defaultPolicyLimits.maxPolicyCacheEntries
  // peer -> `${iface}#${func}` (calls) or `>${iface}` (serves) -> verdict
  let cache = new Map<string, Map<string, Verdict>>()
  let cached = 0
  const refusals = new Map<string, { iface: string, rule: string, count: number }>()
  let total = 0

  function put (peer: string, key: string, v: Verdict): void {
    if (cached >= max) { cache = new Map(); cached = 0 }
    let byPeer = cache.get(peer)
    if (byPeer === undefined) cache.set(peer, byPeer = new Map())
    byPeer.set(key, v)
    cached++
  }

  return {
    get active () { return policy !== undefined },

    call (peer, iface, func, touchesData) {
      const p = policy
      if (p === undefined) return allowAll
      const key = touchesData ? `!${iface}#${func}` : `${iface}#${func}`
      const hit = cache.get(peer)?.get(key)
      if (hit !== undefined) return hit
      const decide = (labels: MemberLabels | undefined): Verdict => {
        const v = decideCall(p, peer, labels, iface, func, touchesData)
        if (policy === p) put(peer, key, v)
        return v
      }
      // rules by peer id and for anyone need no labels: no wait for a certificate
      if (!dependsOnLabels(p, peer, 'call', iface, func)) return decide(undefined)
      const labels = init.labels(peer)
      return labels instanceof Promise ? labels.then(decide) : decide(labels)
    },

    serve (peer, iface) {
      const p = policy
      if (p === undefined) return true
      const key = `>${iface}`
      const hit = cache.get(peer)?.get(key)
      if (hit !== undefined) return hit.allowed
      const needs = dependsOnLabels(p, peer, 'serve', iface)
      const labels = needs ? init.labelsNow(peer) : undefined
      const v = decideServe(p, peer, labels, iface)
      // a refusal for want of labels not known yet is asked again next time
      if (!needs || labels !== undefined || v.allowed) put(peer, key, v)
      return v.allowed
    },

    setPolicy (next) {
      policy = next
      cache = new Map()
      cached = 0
    },

    changed (peer) {
      if (peer === undefined) {
        cache = new Map()
        cached = 0
        return
      }
      const byPeer = cache.get(peer)
      if (byPeer === undefined) return
      cached -= byPeer.size
      cache.delete(peer)
    },

    refused (iface, rule) {
      total++
      const key = `${iface} ${rule}`
      const entry = refusals.get(key)
      if (entry !== undefined) { entry.count++; return }
      if (refusals.size < maxRefusalSeries) { refusals.set(key, { iface, rule, count: 1 }); return }
      const other = refusals.get(OTHER)
      if (other !== undefined) other.count++
      else refusals.set(OTHER, { iface: OTHER, rule: OTHER, count: 1 })
    },

    stats () {
      return { calls: [...refusals.values()].map(r => ({ ...r })), total }
    }
  }
}

const allowAll: Verdict = Object.freeze({ allowed: true, rule: 'no-policy' })
