// The policy file: YAML, strict (unknown keys and wrong types refused with their line), bounded, compiled into a Policy.

import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml'
import type { Node as YamlNode, YAMLMap } from 'yaml'
import { SecurityError } from './errors.ts'
import { targetPattern } from './policy.ts'
import type { PeerSelector, Policy, PolicyRule, RuleKind, TargetPattern } from './policy.ts'

export interface PolicyFileLimits {
  /** The largest policy file read. */
  readonly maxPolicyFileBytes: number
  /** Rules in one policy. */
  readonly maxPolicyRules: number
  /** Patterns or selectors in one rule's list. */
  readonly maxPolicyListItems: number
}

export const defaultPolicyFileLimits: PolicyFileLimits = Object.freeze({
  maxPolicyFileBytes: 256 * 1024,
  maxPolicyRules: 1024,
  maxPolicyListItems: 256
})

/** The kinds a rule may allow or deny; `control` is reserved for the control plane (refused until it exists). */
const ruleKinds: readonly string[] = ['call', 'serve']
const topKeys = ['version', 'default', 'data', 'rules']
const ruleKeys = ['name', 'allow', 'deny', 'peers', 'interfaces']
const target = /^[A-Za-z0-9*][A-Za-z0-9*:/@.+_-]*(#[A-Za-z0-9*[\]._-]*)?$/
const labelPart = /^[A-Za-z0-9][A-Za-z0-9._\-/]*$/

/** Reads and compiles a policy file; every problem a `bad-policy` naming the file and line. */
export async function loadPolicyFile (path: string, limits: PolicyFileLimits = defaultPolicyFileLimits): Promise<Policy> {
  let handle
  try {
    handle = await open(path, constants.O_RDONLY)
  } catch (err) {
    throw new SecurityError('bad-policy', `cannot read the policy file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
  }
  try {
    const buf = new Uint8Array(limits.maxPolicyFileBytes + 1)
    let length = 0
    while (length < buf.length) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length)
      if (bytesRead === 0) break
      length += bytesRead
    }
    if (length > limits.maxPolicyFileBytes) throw new SecurityError('bad-policy', `${path}: a policy file is at most ${limits.maxPolicyFileBytes} bytes (maxPolicyFileBytes)`)
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, length))
    } catch {
      throw new SecurityError('bad-policy', `${path}: not UTF-8 text`)
    }
    return parsePolicy(text, path, limits)
  } finally {
    await handle.close()
  }
}

/** Parses and compiles a policy's YAML text; `where` names it in messages. */
export function parsePolicy (text: string, where = 'policy', limits: PolicyFileLimits = defaultPolicyFileLimits): Policy {
  if (text.length > limits.maxPolicyFileBytes) throw new SecurityError('bad-policy', `${where}: a policy is at most ${limits.maxPolicyFileBytes} bytes (maxPolicyFileBytes)`)
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as { range?: [number, number, number] } | null)?.range
    return range === undefined ? undefined : lines.linePos(range[0]).line
  }
  const fail = (node: unknown, message: string): never => {
    const line = lineOf(node)
    throw new SecurityError('bad-policy', `${where}${line === undefined ? '' : `:${line}`}: ${message}`)
  }
  const problem = doc.errors[0]
  if (problem !== undefined) {
    const message = /call stack/i.test(problem.message) ? 'values are nested too deeply' : problem.message.split('\n')[0]
    throw new SecurityError('bad-policy', `${where}:${lines.linePos(problem.pos[0]).line}: ${message}`)
  }
  const root = doc.contents
  if (root === null) return { rules: [], defaultCall: 'allow', dataInterfaces: [], source: where }
  if (!isMap(root)) return fail(root, 'a policy is a mapping (version:, default:, data:, rules:)')

  const scalar = (node: unknown, what: string): string => {
    if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number')) return fail(node, `${what} must be a string`)
    return String(node.value)
  }
  const list = (node: unknown, what: string): YamlNode[] => {
    if (isScalar(node)) return [node]
    if (!isSeq(node)) return fail(node, `${what} must be a string or a list of strings`)
    if (node.items.length === 0) return fail(node, `${what} is empty: a rule about nothing matches nothing`)
    if (node.items.length > limits.maxPolicyListItems) return fail(node, `${what} has ${node.items.length} items, more than maxPolicyListItems (${limits.maxPolicyListItems})`)
    return node.items as YamlNode[]
  }
  const targets = (node: unknown, what: string): TargetPattern[] => list(node, what).map(item => {
    const t = scalar(item, what)
    if (!target.test(t)) return fail(item, `${what}: ${JSON.stringify(t.slice(0, 80))} is not ns:pkg/iface[@version][#function] (with * wildcards)`)
    return targetPattern(t)
  })
  const keysOf = (map: YAMLMap, allowed: readonly string[], what: string): Map<string, { key: unknown, value: unknown }> => {
    const out = new Map<string, { key: unknown, value: unknown }>()
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined
      if (key === undefined || !allowed.includes(key)) return fail(pair.key, `unknown ${what} key ${JSON.stringify(String(key ?? pair.key).slice(0, 40))} (the keys are ${allowed.join(', ')})`)
      out.set(key, { key: pair.key, value: pair.value })
    }
    return out
  }

  const top = keysOf(root, topKeys, 'policy')
  const version = top.get('version')
  if (version !== undefined && scalar(version.value, 'version') !== '1') fail(version.value, 'this node reads policy version 1')
  const def = top.get('default')
  let defaultCall: 'allow' | 'deny' = 'allow'
  if (def !== undefined) {
    const d = scalar(def.value, 'default')
    if (d !== 'allow' && d !== 'deny') fail(def.value, 'default is allow or deny (calls no rule matches; data providers are always denied)')
    defaultCall = d as 'allow' | 'deny'
  }
  const data = top.get('data')
  const dataInterfaces = data === undefined ? [] : targets(data.value, 'data')
  const rulesEntry = top.get('rules')
  const rules: PolicyRule[] = []
  if (rulesEntry !== undefined && rulesEntry.value !== null && !(isScalar(rulesEntry.value) && rulesEntry.value.value === null)) {
    const seq = rulesEntry.value
    if (!isSeq(seq)) return fail(seq, 'rules is a list of rules (- allow: call ...)')
    if (seq.items.length > limits.maxPolicyRules) fail(seq, `${seq.items.length} rules, more than maxPolicyRules (${limits.maxPolicyRules})`)
    const names = new Set<string>()
    seq.items.forEach((item, i) => {
      if (!isMap(item)) return fail(item, `rule ${i + 1} must be a mapping (allow: call, peers: [...], interfaces: [...])`)
      const keys = keysOf(item, ruleKeys, 'rule')
      const allow = keys.get('allow')
      const deny = keys.get('deny')
      if ((allow === undefined) === (deny === undefined)) return fail(item, `rule ${i + 1} needs exactly one of allow: or deny: (call or serve)`)
      const effect = allow !== undefined ? 'allow' : 'deny'
      const kindNode = (allow ?? deny)?.value
      const kind = scalar(kindNode, effect)
      if (kind === 'control') return fail(kindNode, 'control rules are reserved for the control plane, which does not exist yet: leave them out for now')
      if (!ruleKinds.includes(kind)) return fail(kindNode, `${effect}: ${JSON.stringify(kind.slice(0, 40))}: a rule allows or denies call or serve`)
      const peersEntry = keys.get('peers')
      if (peersEntry === undefined) return fail(item, `rule ${i + 1} needs peers: ("*", peer ids, or label:key=value)`)
      const ifaces = keys.get('interfaces')
      if (ifaces === undefined) return fail(item, `rule ${i + 1} needs interfaces: (ns:pkg/iface[#function], * wildcards)`)
      const line = lineOf(item)
      const nameEntry = keys.get('name')
      const name = nameEntry === undefined ? `rule ${i + 1}` : scalar(nameEntry.value, 'name')
      if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(name)) fail(nameEntry?.value, `name ${JSON.stringify(name.slice(0, 80))}: 1-64 letters, digits, spaces, . _ -`)
      if (names.has(name)) fail(nameEntry?.value, `two rules are named ${JSON.stringify(name)}: refusals name the rule, so names are unique`)
      names.add(name)
      const ts = targets(ifaces.value, 'interfaces')
      if (kind === 'serve' && ts.some(t => t.text.includes('#'))) fail(ifaces.value, 'a serve rule names interfaces, not functions (no #)')
      rules.push({ kind: kind as RuleKind, effect, name, line, peers: selector(list(peersEntry.value, 'peers'), scalar, fail), targets: ts })
    })
  }
  return { rules, defaultCall, dataInterfaces, source: where }
}

/** `*`, peer ids (`peer:` optional), `label:k=v[,k2=v2]` (all of them, from the peer's certificate). */
function selector (items: YamlNode[], scalar: (node: unknown, what: string) => string, fail: (node: unknown, message: string) => never): PeerSelector {
  let anyone = false
  const peers = new Set<string>()
  const labelSets: Array<Record<string, string>> = []
  for (const item of items) {
    const text = scalar(item, 'peers').trim()
    if (text === '*') { anyone = true; continue }
    if (text.startsWith('label:')) {
      const set: Record<string, string> = {}
      for (const part of text.slice('label:'.length).split(',')) {
        const eq = part.indexOf('=')
        const k = part.slice(0, eq).trim()
        const v = part.slice(eq + 1).trim()
        if (eq <= 0 || !labelPart.test(k)) fail(item, `peers: ${JSON.stringify(text.slice(0, 80))}: write label:key=value[,key=value]`)
        if (Object.hasOwn(set, k)) fail(item, `peers: ${JSON.stringify(text.slice(0, 80))} names label ${k} twice`)
        Object.defineProperty(set, k, { value: v, enumerable: true })
      }
      labelSets.push(Object.freeze(set))
      continue
    }
    const id = text.startsWith('peer:') ? text.slice('peer:'.length) : text
    try {
      peerIdFromString(id)
    } catch {
      const hint = text.includes('=') ? ' (in a [ ] list, quote a selector with commas: "label:a=b,c=d")' : ''
      fail(item, `peers: ${JSON.stringify(text.slice(0, 80))} is not "*", a peer id or label:key=value${hint}`)
    }
    peers.add(id)
  }
  return { anyone, peers, labelSets }
}
