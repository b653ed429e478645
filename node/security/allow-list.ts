// Peer allow-lists: the peers given by id (--allow-peer) and a trust file of peer ids with the labels this node trusts them with, parsed strictly and bounded.

import { peerIdFromString } from '@libp2p/peer-id'
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml'
import type { Node as YamlNode } from 'yaml'
import { readPublicFile } from './key-files.ts'
import { SecurityError } from './errors.ts'

/** Bounds on a trust file: checked before parsing (bytes) and while parsing (the rest). */
export interface TrustFileLimits {
  /** The largest trust file read. 1 MiB holds some 10,000 peers with a few labels each. */
  readonly maxTrustFileBytes: number
  /** Peers one trust file may list. */
  readonly maxTrustedPeers: number
  /** Labels one peer may be trusted with. */
  readonly maxTrustedLabelsPerPeer: number
  /** The longest label key or value, in characters. */
  readonly maxTrustedLabelChars: number
}

export const defaultTrustFileLimits: TrustFileLimits = Object.freeze({
  maxTrustFileBytes: 1024 * 1024,
  maxTrustedPeers: 10_000,
  maxTrustedLabelsPerPeer: 64,
  maxTrustedLabelChars: 256
})

/** One peer of a trust file. */
export interface TrustedPeer {
  readonly id: string
  /** What this node trusts the peer to be (its zone, its role): the policy's labels, not what the peer advertises about itself. */
  readonly labels: Readonly<Record<string, string>>
}

/** The peers a node lets connect, and the labels it trusts them with. */
export interface AllowList {
  /** Whether `peer` may connect: it is listed (by --allow-peer or in the trust file). */
  allows (peer: string): boolean
  /** The labels the trust file gives `peer` (`{}` for a peer allowed by id only); undefined for a peer not on the list. */
  trustedLabels (peer: string): Readonly<Record<string, string>> | undefined
  /** The number of peers on the list. */
  readonly size: number
}

/**
 * The allow-list of these peer ids (given on the command line) and these trust-file peers. A
 * peer in both gets the trust file's labels.
 */
export function createAllowList (ids: readonly string[], trusted: readonly TrustedPeer[] = []): AllowList {
  const peers = new Map<string, Readonly<Record<string, string>>>()
  for (const id of ids) peers.set(checkPeerId(id, `--allow-peer ${id}`), Object.freeze({}))
  for (const p of trusted) peers.set(p.id, p.labels)
  return {
    allows: peer => peers.has(peer),
    trustedLabels: peer => peers.get(peer),
    size: peers.size
  }
}

/** `id` if it is a peer id (`12D3KooW...`, `Qm...`), else `bad-trust-file` naming `where`. */
export function checkPeerId (id: string, where: string): string {
  try {
    return peerIdFromString(id).toString()
  } catch {
    throw new SecurityError('bad-trust-file', `${where}: ${JSON.stringify(id.slice(0, 80))} is not a peer id (the 'peer id:' line a node prints, 12D3KooW...)`)
  }
}

/** Reads and parses a trust file (anyone may read it: it holds no secret); refused past `maxTrustFileBytes`. */
export async function readTrustFile (path: string, limits: Partial<TrustFileLimits> = {}): Promise<TrustedPeer[]> {
  const l = { ...defaultTrustFileLimits, ...limits }
  const bytes = await readPublicFile(path, 'trust file', l.maxTrustFileBytes).catch((err: unknown) => {
    if (err instanceof SecurityError && err.code === 'bad-key-file') throw new SecurityError('bad-trust-file', err.message, { cause: err })
    throw err
  })
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (err) {
    throw new SecurityError('bad-trust-file', `${path} is not UTF-8 text`, { cause: err })
  }
  return parseTrustFile(text, path, l)
}

/**
 * The trust file's format, YAML:
 *
 *     peers:
 *       - id: 12D3KooW...           # a peer id, as the node prints it
 *         labels: {zone: eu-1}      # optional: what this node trusts that peer with
 *       - id: 12D3KooW...
 *
 * Nothing else is accepted: an unknown key, a peer listed twice, a value of the wrong kind or a
 * bound passed is a `bad-trust-file` error naming the file and the line.
 */
export function parseTrustFile (text: string, where = 'the trust file', limits: Partial<TrustFileLimits> = {}): TrustedPeer[] {
  const l = { ...defaultTrustFileLimits, ...limits }
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const lineOf = (node: YamlNode | null | undefined, fallback = 1): number => {
    const offset = node?.range?.[0]
    return offset === undefined ? fallback : lineCounter.linePos(offset).line
  }
  const fail = (line: number, message: string): never => {
    throw new SecurityError('bad-trust-file', `${where}:${line}: ${message}`)
  }
  const problem = doc.errors[0]
  if (problem !== undefined) fail(lineCounter.linePos(problem.pos[0]).line, /call stack/i.test(problem.message) ? 'values are nested too deeply' : problem.message.split('\n')[0])
  if (doc.contents === null) return []
  const root = doc.contents
  if (!isMap(root)) return fail(lineOf(root as YamlNode), 'a trust file is a mapping with one key, peers: (a list of {id, labels})')
  const out: TrustedPeer[] = []
  const seen = new Map<string, number>()
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : ''
    if (key !== 'peers') fail(lineOf(pair.key as YamlNode), `unknown key ${JSON.stringify(key.slice(0, 80))}: the only key is peers`)
    const list = pair.value as YamlNode | null
    if (list === null || (isScalar(list) && list.value === null)) continue
    if (!isSeq(list)) return fail(lineOf(list, lineOf(pair.key as YamlNode)), 'peers: must be a list of {id, labels}')
    if (list.items.length > l.maxTrustedPeers) fail(lineOf(list), `more than ${l.maxTrustedPeers} peers (maxTrustedPeers)`)
    for (const item of list.items as YamlNode[]) {
      const line = lineOf(item)
      if (!isMap(item)) return fail(line, 'each peer is a mapping: - id: <peer-id> (and optionally labels: {k: v})')
      let id: string | undefined
      let labels: Record<string, string> = {}
      for (const field of item.items) {
        const name = isScalar(field.key) ? String(field.key.value) : ''
        const fieldLine = lineOf(field.key as YamlNode, line)
        const value = field.value as YamlNode | null
        if (name === 'id') {
          if (!isScalar(value) || typeof value.value !== 'string') return fail(fieldLine, 'id: must be a peer id')
          id = checkPeerId(value.value, `${where}:${fieldLine}`)
        } else if (name === 'labels') {
          labels = labelsOf(value, fieldLine, l, fail, lineOf)
        } else {
          fail(fieldLine, `unknown key ${JSON.stringify(name.slice(0, 80))} of a peer: id, labels`)
        }
      }
      if (id === undefined) return fail(line, 'a peer needs id: <peer-id>')
      const twice = seen.get(id)
      if (twice !== undefined) fail(line, `peer ${id} is listed twice (also on line ${twice})`)
      seen.set(id, line)
      out.push({ id, labels: Object.freeze(labels) })
    }
  }
  return out
}

function labelsOf (value: YamlNode | null, line: number, l: TrustFileLimits, fail: (line: number, message: string) => never, lineOf: (node: YamlNode | null | undefined, fallback?: number) => number): Record<string, string> {
  if (value === null || (isScalar(value) && value.value === null)) return {}
  if (!isMap(value)) return fail(line, 'labels: must be a mapping of key: value')
  if (value.items.length > l.maxTrustedLabelsPerPeer) fail(line, `more than ${l.maxTrustedLabelsPerPeer} labels (maxTrustedLabelsPerPeer)`)
  const labels: Record<string, string> = {}
  for (const pair of value.items) {
    const k = isScalar(pair.key) ? pair.key.value : undefined
    const v = isScalar(pair.value) ? pair.value.value : undefined
    const at = lineOf(pair.key as YamlNode, line)
    if (typeof k !== 'string' || k === '' || k.length > l.maxTrustedLabelChars) return fail(at, `a label key is 1-${l.maxTrustedLabelChars} characters of text (maxTrustedLabelChars)`)
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return fail(at, `label ${k}: its value must be text`)
    if (String(v).length > l.maxTrustedLabelChars) fail(at, `label ${k}: its value is longer than ${l.maxTrustedLabelChars} characters (maxTrustedLabelChars)`)
    labels[k] = String(v)
  }
  return labels
}
