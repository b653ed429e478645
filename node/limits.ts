// Every limit createNode takes, by its own name: the init object it goes in, its default, its unit, and what a value may be.

import { defaultSessionLimits } from '../protocol/limits.ts'
import { defaultAdvertIntakeLimits, defaultAdvertTimings } from './adverts.ts'
import { defaultNodeLimits, defaultSecurityLimits } from './api.ts'
import type { NodeInit } from './api.ts'
import { NodeError } from './errors.ts'
import { defaultConnectionLimits, defaultStreamLimits, streamLimitsProblem } from './libp2p.ts'
import { defaultRuntimeLimits } from './runtime/limits.ts'
import { defaultMessagingLimits } from './messaging/index.ts'
import { defaultHttpLimits } from './http/limits.ts'
import { defaultArtifactLimits } from './artifacts/limits.ts'
import { defaultControlLimits } from './control/limits.ts'
import { defaultAppLimits } from './apps/index.ts'

/** The fields of `NodeInit` that hold limits. */
export type LimitGroup = 'limits' | 'sessionLimits' | 'advertLimits' | 'timings' | 'runtimeLimits' | 'connectionLimits' | 'streamLimits' | 'securityLimits' | 'messagingLimits' | 'httpLimits' | 'artifactLimits' | 'controlLimits' | 'appLimits'

/** Read from the name, which carries it by the house rule: `...Bytes`, `...BytesPerPeer`, `...Ms`; anything else is a count. */
export type LimitUnit = 'bytes' | 'ms' | 'count'

export interface LimitInfo {
  readonly name: string
  readonly group: LimitGroup
  readonly unit: LimitUnit
  /** Undefined for a limit whose default follows from others (`maxInstancesPerCaller`). */
  readonly default: number | undefined
}

/** The init objects by their defaults: a field added to a defaults object is a named, configurable limit at once. */
const defaults: { readonly [G in LimitGroup]: object } = {
  limits: defaultNodeLimits,
  sessionLimits: defaultSessionLimits,
  advertLimits: defaultAdvertIntakeLimits,
  timings: defaultAdvertTimings,
  runtimeLimits: defaultRuntimeLimits,
  connectionLimits: defaultConnectionLimits,
  streamLimits: defaultStreamLimits,
  securityLimits: defaultSecurityLimits,
  messagingLimits: defaultMessagingLimits,
  httpLimits: defaultHttpLimits,
  artifactLimits: defaultArtifactLimits,
  controlLimits: defaultControlLimits,
  appLimits: defaultAppLimits
}

/** Optional fields, which a defaults object cannot list because their default is computed when they are unset. */
const unsetByDefault: { readonly [G in LimitGroup]?: ReadonlyArray<keyof NonNullable<NodeInit[G]>> } = {
  runtimeLimits: ['maxInstancesPerCaller']
}

/**
 * The longest timer Node keeps: `setTimeout` with more than 2^31-1 ms fires after 1 ms instead, so a
 * "day-long" idle timeout of 3,000,000,000 ms would time every session out at once.
 */
export const maxTimerMs = 2 ** 31 - 1

export function limitUnit (name: string): LimitUnit {
  if (/Bytes(Per[A-Z][a-z]+)*$/.test(name)) return 'bytes'
  if (/Ms$/.test(name)) return 'ms'
  return 'count'
}

function catalogOf (): ReadonlyMap<string, LimitInfo> {
  const out = new Map<string, LimitInfo>()
  const add = (group: LimitGroup, name: string, value: unknown): void => {
    const known = out.get(name)
    // one name, one limit: an operator's `--limit x=1` must mean exactly one thing
    if (known !== undefined) throw new Error(`limit ${name} is in both ${known.group} and ${group}: rename one`)
    out.set(name, { name, group, unit: limitUnit(name), default: typeof value === 'number' ? value : undefined })
  }
  for (const [group, values] of Object.entries(defaults) as Array<[LimitGroup, object]>) {
    for (const [name, value] of Object.entries(values)) add(group, name, value)
    for (const name of unsetByDefault[group] ?? []) add(group, String(name), undefined)
  }
  return out
}

/** Every limit by name, in the order of the init objects. */
export const limitCatalog: ReadonlyMap<string, LimitInfo> = catalogOf()

/** `max-inbound-streams` -> `maxInboundStreams`; a camelCase name is returned as it is. */
export function limitName (spelling: string): string {
  return spelling.includes('-') ? spelling.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase()) : spelling
}

/** The limit a name (or its kebab-case spelling) names; an unknown name is `invalid-config` listing the known ones. */
export function limitInfo (spelling: string): LimitInfo {
  const info = limitCatalog.get(limitName(spelling))
  if (info === undefined) {
    throw new NodeError('invalid-config', `unknown limit ${JSON.stringify(spelling)}; the limits are ${[...limitCatalog.keys()].join(', ')}`)
  }
  return info
}

/** What a value of this limit may be, for error messages. */
export function allowedValues (info: LimitInfo): string {
  if (info.unit === 'ms') return `a whole number of milliseconds from 0 to ${maxTimerMs} (or 500ms, 30s, 2m, 1h)`
  if (info.unit === 'bytes') return `a whole number of bytes from 0 to ${Number.MAX_SAFE_INTEGER} (or 512KiB, 64MiB, 1GiB)`
  return `a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`
}

/** Refuses a value the limit cannot take (negative, fractional, unsafe, a timer Node would not keep). */
export function checkLimit (info: LimitInfo, value: number): number {
  const max = info.unit === 'ms' ? maxTimerMs : Number.MAX_SAFE_INTEGER
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new NodeError('invalid-config', `${info.name} ${String(value)}: give ${allowedValues(info)}`)
  }
  return value
}

/** The init objects of a node, each holding only the limits given. */
export type LimitInits = { -readonly [G in LimitGroup]?: Record<string, number> }

/**
 * Limits by name -> the `NodeInit` fields that carry them, every value and every rule between values
 * checked (`invalid-config` naming the limit). Spread the result into `createNode`'s init.
 */
export function limitInits (values: Readonly<Record<string, number>>): Pick<NodeInit, LimitGroup> {
  const out: LimitInits = {}
  for (const [spelling, value] of Object.entries(values)) {
    const info = limitInfo(spelling)
    const group = out[info.group] ??= {}
    group[info.name] = checkLimit(info, value)
  }
  const problem = streamLimitsProblem({ ...defaultStreamLimits, ...out.streamLimits })
  if (problem !== undefined) throw new NodeError('invalid-config', problem)
  return out as Pick<NodeInit, LimitGroup>
}
