// The advert record peers publish over gossipsub and answer sync requests with: its WIT, byte layout, validation and limits.

import { ProtocolError } from './errors.ts'
import type { ProtocolErrorCode } from './errors.ts'
import { decodeValue, encodeValue, ValueReader } from './value.ts'
import type { DecodeOptions } from './value.ts'
import { parseWit } from './wit/index.ts'
import { parseInterfaceId } from './versions.ts'
import type { ListType, RecordType, Type } from './wit/model.ts'

/** wit/lattice/lattice.wit, byte for byte (a test keeps the two equal). */
export const latticeWit = `package wasmesh:lattice@0.1.0;

/// The records nodes publish on /wasmesh/<lattice>/adverts/1 and answer a sync request with.
interface adverts {
  /// One interface a peer exports.
  record export-entry {
    /// ns:pkg/iface@version exported.
    %interface: string,
    /// sha256 hex of the component (or provider WIT) serving it: callers fetch its WIT by digest.
    digest: string,
    /// Instances that can run at once.
    capacity: u32,
    /// Calls in flight when the advert was made.
    load: u32,
  }

  /// What a peer serves and how to reach it.
  record advert {
    /// The advertiser's peer id (base58btc string).
    peer: string,
    /// Strictly increasing per peer; starts from the wall clock in ms so a restarted node supersedes its old adverts.
    seq: u64,
    lattice: string,
    /// Multiaddrs to dial it.
    addresses: list<string>,
    /// Keys starting with "wasmesh." are reserved, so that 0.1.0 nodes read what was added later as labels:
    /// "wasmesh.role" = "client" (a short-lived client, not a node of the mesh), "wasmesh.name.<digest>" = the
    /// name of the component with that digest (1-64 of A-Z a-z 0-9 . _ -), "wasmesh.apps" = the app replicas it
    /// runs (node/apps/README.md). Unknown reserved keys are ignored.
    labels: list<tuple<string, string>>,
    exports: list<export-entry>,
    /// The record is forgotten this long after it was first received unless refreshed (receivers cap it).
    ttl-ms: u32,
    /// Graceful stop: forget this peer's exports now.
    withdrawn: bool,
  }

  /// advert is the encoded advert record; signature the peer's Ed25519 signature over those bytes.
  record signed-advert {
    advert: list<u8>,
    signature: list<u8>,
  }

  /// An item of a sync reply on /wasmesh/<lattice>/sync/1.1.0 (1.0.0 replies list bare signed-adverts).
  record relayed-advert {
    /// How long ago the relaying node received the advert (0 for its own): the receiver's TTL runs from then.
    age-ms: u32,
    signed: signed-advert,
  }
}
`

/** The interface that defines the records. */
export const advertsInterfaceId = 'wasmesh:lattice/adverts@0.1.0'

export interface AdvertLimits {
  /** The most bytes one encoded advert record may occupy. */
  readonly maxAdvertBytes: number
  /** The most exported interfaces one advert may list. */
  readonly maxAdvertExports: number
  /** The most signed adverts one sync reply may carry. */
  readonly maxAdvertsPerSync: number
  /** The most bytes of one signature (Ed25519 needs 64). */
  readonly maxSignatureBytes: number
  /** The most bytes of one sync reply. */
  readonly maxSyncBytes: number
  /** The most bytes (ASCII characters) of a component's name an advert may carry. */
  readonly maxComponentNameBytes: number
}

export const defaultAdvertLimits: AdvertLimits = Object.freeze({
  maxAdvertBytes: 64 * 1024,
  maxAdvertExports: 1024,
  maxAdvertsPerSync: 4096,
  maxSignatureBytes: 256,
  maxSyncBytes: 16 * 1024 * 1024,
  maxComponentNameBytes: 64
})

/** One interface a peer exports. */
export interface AdvertExport {
  /** `ns:pkg/iface@version` (or without a version). */
  iface: string
  /** sha256 of the component (or provider WIT) serving it, 64 lowercase hex digits. */
  digest: string
  /** Instances that can run at once. */
  capacity: number
  /** Calls in flight when the advert was made. */
  load: number
  /** The name of the component (or provider) serving it, when the advertiser gave one (see isComponentName). */
  name?: string
}

/** What a peer serves and how to reach it. */
export interface Advert {
  /** The advertiser's peer id (base58btc). */
  peer: string
  /** Strictly increasing per peer (start from the wall clock in ms so a restart supersedes old adverts). */
  seq: bigint
  lattice: string
  /** Multiaddrs to dial the peer. */
  addresses: string[]
  labels: Record<string, string>
  exports: AdvertExport[]
  /** Forgotten this long after it was received unless refreshed. */
  ttlMs: number
  /** Graceful stop: forget this peer's exports now. */
  withdrawn: boolean
  /** A short-lived client (`wasmesh call`, `wasmesh mesh`), not a node of the mesh. */
  client?: boolean
  /** The app replicas it runs, in the compact form of node/apps/status.ts (reserved label `wasmesh.apps`); absent: none. */
  apps?: string
}

/** An encoded advert and the advertiser's signature over exactly those bytes. */
export interface SignedAdvert {
  advert: Uint8Array
  signature: Uint8Array
}

/** Which rule an invalid advert broke, so a node can count drops by kind. */
export type AdvertProblem =
  | 'malformed'          // does not decode as the WIT record (or trailing bytes)
  | 'too-large'          // over maxAdvertBytes / maxSignatureBytes / maxSyncBytes
  | 'too-many-exports'   // over maxAdvertExports
  | 'too-many-adverts'   // a sync reply over maxAdvertsPerSync
  | 'peer'               // empty or not base58btc
  | 'lattice'            // not a lattice name
  | 'interface'          // an export that is not `ns:pkg/iface[@semver]`
  | 'digest'             // not 64 lowercase hex digits
  | 'label'              // an empty or repeated label key
  | 'address'            // an address that is not a multiaddr string
  | 'signature'          // an empty signature
  | 'name'               // a component name that is not one (isComponentName), or a reserved label key given as a label

/** A ProtocolError (`invalid-advert`) saying which rule was broken. */
export class AdvertError extends ProtocolError {
  override readonly name: string = 'AdvertError'
  readonly problem: AdvertProblem

  constructor (problem: AdvertProblem, message: string, cause?: unknown) {
    super('invalid-advert' satisfies ProtocolErrorCode, message)
    this.problem = problem
    if (cause !== undefined) this.cause = cause
  }
}

// ---------------------------------------------------------------- names

const LATTICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const BASE58BTC = /^[1-9A-HJ-NP-Za-km-z]{1,128}$/
const DIGEST = /^[0-9a-f]{64}$/
const COMPONENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/**
 * Label keys with this prefix carry fields added after 0.1.0 (lattice.wit, `labels`): a node of 0.1.0 decodes
 * them as labels, so adverts stay readable both ways; they are never the user's labels.
 */
const RESERVED_LABEL = 'wasmesh.'
const ROLE_LABEL = 'wasmesh.role'
const NAME_LABEL = 'wasmesh.name.'
const APPS_LABEL = 'wasmesh.apps'

/** Whether a label key is reserved for the advert's own fields (a user's label may not use it). */
export function isReservedLabel (key: string): boolean {
  return key.startsWith(RESERVED_LABEL)
}

/**
 * Component names an advert may carry: 1 to `maxComponentNameBytes` (64) of A-Z a-z 0-9 . _ -, starting
 * with a letter or digit (the CLI's component names), so a peer's name prints as one plain word.
 */
export function isComponentName (name: string, limits?: Partial<AdvertLimits>): boolean {
  return name.length <= limitsOf(limits).maxComponentNameBytes && COMPONENT_NAME.test(name)
}

/**
 * Lattice names: 1-64 characters of letters, digits, `.`, `_`, `-`, starting with a letter or
 * digit, so that the gossipsub topic `/wasmesh/<lattice>/adverts/1` is unambiguous.
 */
export function isLatticeName (name: string): boolean {
  return LATTICE_NAME.test(name)
}

/** The gossipsub topic adverts of `lattice` travel on. */
export function advertTopic (lattice: string): string {
  return `/wasmesh/${lattice}/adverts/1`
}

// ---------------------------------------------------------------- types

const witTypes = (() => {
  const iface = parseWit({ 'lattice.wit': latticeWit }).findInterface(advertsInterfaceId)
  const get = (name: string): RecordType => {
    const t = iface?.types.get(name)
    if (t === undefined || t.kind !== 'record') throw new Error(`lattice.wit lacks record ${name}`)
    return t
  }
  const signed = get('signed-advert')
  const list: ListType = { kind: 'list', element: signed }
  return { advert: get('advert'), signed, list }
})()

/** The WIT type of the advert record, for callers that print or inspect it. */
export const advertType: Type = witTypes.advert
/** The WIT type of the signed-advert record. */
export const signedAdvertType: Type = witTypes.signed

interface WireExport { interface: string, digest: string, capacity: number, load: number }
interface WireAdvert {
  peer: string
  seq: bigint
  lattice: string
  addresses: string[]
  labels: Array<[string, string]>
  exports: WireExport[]
  ttlMs: number
  withdrawn: boolean
}

function limitsOf (limits: Partial<AdvertLimits> | undefined): AdvertLimits {
  return { ...defaultAdvertLimits, ...limits }
}

/** Value-codec limits for one advert: nothing inside can be longer than the advert itself. */
function valueOpts (maxBytes: number): DecodeOptions {
  return { limits: { maxValueBytes: maxBytes, maxListLength: maxBytes, maxDepth: 8 }, root: 'advert' }
}

function malformed (what: string, err: unknown): AdvertError {
  const detail = err instanceof Error ? err.message : String(err)
  return new AdvertError('malformed', `${what} does not decode: ${detail}`, err)
}

// ---------------------------------------------------------------- validation

/** Throws AdvertError unless `a` keeps every rule a receiver checks. */
function validate (a: Advert, limits: AdvertLimits): void {
  if (a.peer === '') throw new AdvertError('peer', 'advert has an empty peer id')
  if (!BASE58BTC.test(a.peer)) throw new AdvertError('peer', `advert peer id ${JSON.stringify(a.peer.slice(0, 80))} is not a base58btc string`)
  if (!isLatticeName(a.lattice)) {
    throw new AdvertError('lattice', `advert lattice ${JSON.stringify(a.lattice.slice(0, 80))} is not a lattice name (1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit)`)
  }
  for (const addr of a.addresses) {
    if (!addr.startsWith('/') || addr.length < 2) throw new AdvertError('address', `advert address ${JSON.stringify(addr.slice(0, 80))} is not a multiaddr`)
  }
  if (a.exports.length > limits.maxAdvertExports) {
    throw new AdvertError('too-many-exports', `advert lists ${a.exports.length} exports, over maxAdvertExports (${limits.maxAdvertExports})`)
  }
  a.exports.forEach((e, i) => {
    if (parseInterfaceId(e.iface) === undefined) {
      throw new AdvertError('interface', `advert export ${i} ${JSON.stringify(e.iface.slice(0, 120))} is not an interface id ns:pkg/iface[@semver]`)
    }
    if (!DIGEST.test(e.digest)) throw new AdvertError('digest', `advert export ${i} (${e.iface}) digest is not 64 lowercase hex digits`)
    if (e.name !== undefined && !isComponentName(e.name, limits)) {
      throw new AdvertError('name', `advert export ${i} (${e.iface}) names its component ${JSON.stringify(e.name.slice(0, 80))}, not 1-${limits.maxComponentNameBytes} of A-Z a-z 0-9 . _ - starting with a letter or digit`)
    }
  })
}

/** The wire labels: the user's, then the reserved keys for `client` and the exports' names (one per digest). */
function wireLabels (a: Advert): Array<[string, string]> {
  const labels = Object.entries(a.labels)
  for (const [k] of labels) {
    if (isReservedLabel(k)) throw new AdvertError('name', `label ${JSON.stringify(k.slice(0, 80))} starts with ${RESERVED_LABEL}, which adverts reserve for their own fields`)
  }
  if (a.client === true) labels.push([ROLE_LABEL, 'client'])
  if (a.apps !== undefined && a.apps !== '') labels.push([APPS_LABEL, a.apps])
  const named = new Map<string, string>()
  for (const e of a.exports) {
    if (e.name === undefined) continue
    const other = named.get(e.digest)
    if (other !== undefined && other !== e.name) throw new AdvertError('name', `advert names the component ${e.digest.slice(0, 12)} both ${other} and ${e.name}`)
    named.set(e.digest, e.name)
  }
  for (const [digest, name] of named) labels.push([NAME_LABEL + digest, name])
  return labels.sort(([x], [y]) => x < y ? -1 : x > y ? 1 : 0)
}

/** Splits decoded wire labels into the user's labels and the reserved fields (unknown reserved keys ignored). */
function fromWireLabels (wire: ReadonlyArray<readonly [string, string]>): { labels: Record<string, string>, client: boolean, names: Map<string, string>, apps?: string } {
  const user: Array<readonly [string, string]> = []
  const names = new Map<string, string>()
  let client = false
  let apps: string | undefined
  for (const [k, v] of wire) {
    if (!isReservedLabel(k)) user.push([k, v])
    else if (k === ROLE_LABEL) client = v === 'client'
    else if (k === APPS_LABEL) apps = v
    else if (k.startsWith(NAME_LABEL)) names.set(k.slice(NAME_LABEL.length), v)
  }
  // fromEntries defines own properties, so a label named __proto__ stays a label
  return { labels: Object.fromEntries(user), client, names, ...(apps !== undefined ? { apps } : {}) }
}

function checkLabels (labels: ReadonlyArray<readonly [string, string]>): void {
  const seen = new Set<string>()
  for (const [k] of labels) {
    if (k === '') throw new AdvertError('label', 'advert has a label with an empty key')
    if (seen.has(k)) throw new AdvertError('label', `advert repeats label ${JSON.stringify(k.slice(0, 80))}`)
    seen.add(k)
  }
}

// ---------------------------------------------------------------- advert

/** Encodes an advert, enforcing the same rules and limits a receiver checks, so a node never publishes what peers drop. */
export function encodeAdvert (a: Advert, limits?: Partial<AdvertLimits>): Uint8Array {
  const l = limitsOf(limits)
  validate(a, l)
  const labels = wireLabels(a)
  checkLabels(labels)
  const wire: WireAdvert = {
    peer: a.peer,
    seq: a.seq,
    lattice: a.lattice,
    addresses: a.addresses,
    labels,
    exports: a.exports.map(e => ({ interface: e.iface, digest: e.digest, capacity: e.capacity, load: e.load })),
    ttlMs: a.ttlMs,
    withdrawn: a.withdrawn
  }
  let bytes: Uint8Array
  try {
    bytes = encodeValue(witTypes.advert, wire, { limits: { maxValueBytes: l.maxAdvertBytes }, root: 'advert' })
  } catch (err) {
    if (err instanceof ProtocolError && err.code === 'limit-exceeded') {
      throw new AdvertError('too-large', `advert encodes to more than maxAdvertBytes (${l.maxAdvertBytes})`, err)
    }
    throw err
  }
  return bytes
}

/** Decodes an advert from untrusted bytes; any problem is an AdvertError (`invalid-advert`). */
export function decodeAdvert (bytes: Uint8Array, limits?: Partial<AdvertLimits>): Advert {
  const l = limitsOf(limits)
  if (bytes.length > l.maxAdvertBytes) {
    throw new AdvertError('too-large', `advert is ${bytes.length} bytes, over maxAdvertBytes (${l.maxAdvertBytes})`)
  }
  let wire: WireAdvert
  try {
    wire = decodeValue(witTypes.advert, bytes, valueOpts(l.maxAdvertBytes)) as WireAdvert
  } catch (err) {
    throw malformed('advert', err)
  }
  checkLabels(wire.labels)
  const { labels, client, names, apps } = fromWireLabels(wire.labels)
  const advert: Advert = {
    peer: wire.peer,
    seq: wire.seq,
    lattice: wire.lattice,
    addresses: wire.addresses,
    labels,
    exports: wire.exports.map(e => {
      const name = names.get(e.digest)
      return { iface: e.interface, digest: e.digest, capacity: e.capacity, load: e.load, ...(name !== undefined ? { name } : {}) }
    }),
    ttlMs: wire.ttlMs,
    withdrawn: wire.withdrawn,
    ...(client ? { client } : {}),
    ...(apps !== undefined ? { apps } : {})
  }
  validate(advert, l)
  return advert
}

// ---------------------------------------------------------------- signed advert

function envelopeMaxBytes (l: AdvertLimits): number {
  // two LEB128 lengths of at most 5 bytes each
  return l.maxAdvertBytes + l.maxSignatureBytes + 10
}

function checkSigned (s: SignedAdvert, l: AdvertLimits): void {
  if (s.advert.length > l.maxAdvertBytes) {
    throw new AdvertError('too-large', `signed advert carries ${s.advert.length} advert bytes, over maxAdvertBytes (${l.maxAdvertBytes})`)
  }
  if (s.signature.length > l.maxSignatureBytes) {
    throw new AdvertError('too-large', `signature is ${s.signature.length} bytes, over maxSignatureBytes (${l.maxSignatureBytes})`)
  }
  if (s.signature.length === 0) throw new AdvertError('signature', 'signed advert has an empty signature')
}

/** The envelope published on the topic and listed in sync replies. */
export function encodeSignedAdvert (s: SignedAdvert, limits?: Partial<AdvertLimits>): Uint8Array {
  checkSigned(s, limitsOf(limits))
  return encodeValue(witTypes.signed, s)
}

/** Decodes an envelope; the advert inside is still bytes, for the caller to verify the signature over before decodeAdvert. */
export function decodeSignedAdvert (bytes: Uint8Array, limits?: Partial<AdvertLimits>): SignedAdvert {
  const l = limitsOf(limits)
  const max = envelopeMaxBytes(l)
  if (bytes.length > max) throw new AdvertError('too-large', `signed advert is ${bytes.length} bytes, over ${max} (maxAdvertBytes + maxSignatureBytes)`)
  let s: SignedAdvert
  try {
    s = decodeValue(witTypes.signed, bytes, valueOpts(max)) as SignedAdvert
  } catch (err) {
    throw malformed('signed advert', err)
  }
  checkSigned(s, l)
  return s
}

// ---------------------------------------------------------------- sync reply

/** An envelope as a sync reply relays it: how long ago the relaying node received it (0 for its own). */
export interface RelayedAdvert {
  readonly ageMs: number
  /** The signed-advert envelope, as encodeSignedAdvert made it. */
  readonly envelope: Uint8Array
}

const U32_MAX = 0xffff_ffff

/** Splices already-encoded items behind their count, refusing more than the limits allow. */
function encodeList (items: ReadonlyArray<readonly Uint8Array[]>, l: AdvertLimits): Uint8Array {
  if (items.length > l.maxAdvertsPerSync) {
    throw new AdvertError('too-many-adverts', `${items.length} adverts, over maxAdvertsPerSync (${l.maxAdvertsPerSync})`)
  }
  const count = encodeValue({ kind: 'u32' }, items.length)
  let total = count.length
  for (const parts of items) for (const p of parts) total += p.length
  if (total > l.maxSyncBytes) throw new AdvertError('too-large', `sync reply would be ${total} bytes, over maxSyncBytes (${l.maxSyncBytes})`)
  const out = new Uint8Array(total)
  out.set(count, 0)
  let pos = count.length
  for (const parts of items) {
    for (const p of parts) {
      out.set(p, pos)
      pos += p.length
    }
  }
  return out
}

/** Reads a sync reply's items: each an optional `age-ms` then an envelope checked as decodeSignedAdvert checks it. */
function decodeList (bytes: Uint8Array, aged: boolean, l: AdvertLimits): RelayedAdvert[] {
  if (bytes.length > l.maxSyncBytes) throw new AdvertError('too-large', `sync reply is ${bytes.length} bytes, over maxSyncBytes (${l.maxSyncBytes})`)
  const max = envelopeMaxBytes(l)
  const r = new ValueReader(bytes, 0, { ...valueOpts(max), root: 'adverts' })
  const out: RelayedAdvert[] = []
  try {
    const n = r.u32()
    if (n > l.maxAdvertsPerSync) throw new AdvertError('too-many-adverts', `sync reply lists ${n} adverts, over maxAdvertsPerSync (${l.maxAdvertsPerSync})`)
    for (let i = 0; i < n; i++) {
      const ageMs = aged ? r.u32() : 0
      const start = r.pos
      const s = r.read(witTypes.signed) as SignedAdvert
      checkSigned(s, l)
      out.push({ ageMs, envelope: bytes.slice(start, r.pos) })
    }
  } catch (err) {
    if (err instanceof AdvertError) throw err
    throw malformed('sync reply', err)
  }
  if (r.pos !== bytes.length) throw new AdvertError('malformed', `sync reply has ${bytes.length - r.pos} bytes after its last advert`)
  return out
}

/**
 * A sync reply of `/sync/1.0.0`: `list<signed-advert>` built from envelopes already encoded with encodeSignedAdvert
 * (a record's encoding is its fields' encodings concatenated, so envelopes are spliced unchanged).
 */
export function encodeAdvertList (envelopes: readonly Uint8Array[], limits?: Partial<AdvertLimits>): Uint8Array {
  return encodeList(envelopes.map(e => [e]), limitsOf(limits))
}

/**
 * Splits a `/sync/1.0.0` reply into its envelopes (copies), each one checked as decodeSignedAdvert checks it,
 * so the receiver handles every item exactly like a gossip message.
 */
export function decodeAdvertList (bytes: Uint8Array, limits?: Partial<AdvertLimits>): Uint8Array[] {
  return decodeList(bytes, false, limitsOf(limits)).map(item => item.envelope)
}

/** A sync reply of `/sync/1.1.0`: `list<relayed-advert>`, each envelope behind its age (clamped to u32). */
export function encodeRelayedList (items: readonly RelayedAdvert[], limits?: Partial<AdvertLimits>): Uint8Array {
  return encodeList(items.map(item => {
    const age = Math.min(U32_MAX, Math.max(0, Math.floor(item.ageMs)))
    return [encodeValue({ kind: 'u32' }, age), item.envelope]
  }), limitsOf(limits))
}

/** Splits a `/sync/1.1.0` reply into ages and envelopes (copies), each envelope checked as decodeSignedAdvert checks it. */
export function decodeRelayedList (bytes: Uint8Array, limits?: Partial<AdvertLimits>): RelayedAdvert[] {
  return decodeList(bytes, true, limitsOf(limits))
}
