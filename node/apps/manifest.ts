// wadm's OAM Application manifests: parsed from YAML, checked against what the mesh implements, and normalised (images resolved, config merged).

import { isAbsolute, resolve } from 'node:path'
import { parseDocument } from 'yaml'
import { AppError } from './errors.ts'
import { capabilityOf } from './builtins.ts'
import type { Capability } from './builtins.ts'

/** Limits on what a manifest may ask for, enforced when it is parsed (on the deployer and on every node that receives it). */
export interface ManifestLimits {
  /** The manifest's YAML text. */
  readonly maxAppManifestBytes: number
  /** Components and capabilities of one app. */
  readonly maxAppComponents: number
  /** Replicas one scaler may ask for (spreadscaler instances; daemonscaler instances per host). */
  readonly maxAppReplicas: number
  /** Spreads of one scaler. */
  readonly maxAppSpreads: number
  /** Links of one component. */
  readonly maxAppLinks: number
}

export const defaultManifestLimits: ManifestLimits = Object.freeze({
  maxAppManifestBytes: 256 * 1024,
  maxAppComponents: 64,
  maxAppReplicas: 1000,
  maxAppSpreads: 16,
  maxAppLinks: 32
})

export interface Spread {
  readonly name: string
  /** A host qualifies when its labels carry every one of these. */
  readonly requirements: Readonly<Record<string, string>>
  /** Share of the scaler's replicas (wadm: default 100). */
  readonly weight: number
}

export interface Scaler {
  /** `spread`: `instances` replicas over the hosts; `daemon`: `instances` on every qualifying host. */
  readonly kind: 'spread' | 'daemon'
  readonly instances: number
  /** Empty: every host qualifies. */
  readonly spreads: readonly Spread[]
}

export interface AppLink {
  /** The component or capability of this app the link points at. */
  readonly target: string
  readonly namespace: string
  readonly package: string
  readonly interfaces: readonly string[]
  /** wadm's link name (`default` unless given). */
  readonly name?: string
  readonly sourceConfig: Readonly<Record<string, string>>
  readonly targetConfig: Readonly<Record<string, string>>
}

export interface AppComponent {
  readonly name: string
  readonly type: 'component' | 'capability'
  /** The image as written. */
  readonly image: string
  /** Components: what `node.load` takes (a resolved file path, or the reference as written). Capabilities: the built-in it maps onto. */
  readonly source: string
  readonly capability?: Capability
  /** Every named config's properties, merged in order. */
  readonly config: Readonly<Record<string, string>>
  /** Undefined: no scaler trait; one replica (see README). */
  readonly scaler: Scaler
  readonly links: readonly AppLink[]
}

export interface AppManifest {
  readonly name: string
  /** `metadata.annotations.version`, when given. */
  readonly version?: string
  readonly description?: string
  readonly components: readonly AppComponent[]
}

export interface ParseOptions {
  /** The manifest's folder: `file://` paths that are not absolute resolve from it (as wash does). Default: the working directory. */
  readonly baseDir?: string
  readonly limits?: Partial<ManifestLimits>
}

/** App and component names: they name loaded components (`<app>.<component>`, at most 64 bytes in adverts). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$/
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/
const WIT_WORD = /^[a-z][a-z0-9-]{0,63}$/

type Obj = Record<string, unknown>

function invalid (message: string): AppError {
  return new AppError('invalid-manifest', message)
}

function isObj (v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function obj (v: unknown, where: string): Obj {
  if (!isObj(v)) throw invalid(`${where} must be a mapping`)
  return v
}

function list (v: unknown, where: string): unknown[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw invalid(`${where} must be a list`)
  return v
}

function text (v: unknown, where: string, max = 1024): string {
  if (typeof v !== 'string' || v.length === 0) throw invalid(`${where} must be a non-empty string`)
  if (v.length > max) throw invalid(`${where} is longer than ${max} characters`)
  return v
}

/** Refuses keys the mesh does not know, by name: a feature asked for and not implemented is never ignored. */
function known (o: Obj, keys: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    // the key as JSON, cut short: it is the sender's text, and goes into logs and terminals
    if (!keys.includes(k)) throw new AppError('unsupported', `${where}.${/^[A-Za-z0-9_-]{1,64}$/.test(k) ? k : JSON.stringify(k.slice(0, 64))} is not supported by wasmesh (it knows: ${keys.join(', ')})`)
  }
}

function count (v: unknown, where: string, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid(`${where} must be a whole number >= 0`)
  if (v > max) throw new AppError('manifest-too-large', `${where} is ${v}, over maxAppReplicas (${max})`)
  return v
}

/** Named config (`config: [{name, properties}]`), merged in order; a config given by name only lives outside the manifest, which the mesh has no store of. */
function configOf (v: unknown, where: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [i, c] of list(v, where).entries()) {
    const entry = obj(c, `${where}[${i}]`)
    known(entry, ['name', 'properties'], `${where}[${i}]`)
    const name = text(entry.name, `${where}[${i}].name`, 256)
    if (entry.properties === undefined) {
      throw new AppError('unsupported', `${where}[${i}] names config ${JSON.stringify(name)} without properties: wasmesh has no config store outside the manifest; give its properties here`)
    }
    for (const [k, value] of Object.entries(obj(entry.properties, `${where}[${i}].properties`))) {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') throw invalid(`${where}[${i}].properties.${k} must be a string`)
      Object.defineProperty(out, k, { value: String(value), enumerable: true, writable: true, configurable: true })
    }
  }
  return out
}

/** wadm's link config: `config` lists under source/target, or the deprecated `source_config`/`target_config`. */
function linkConfig (side: unknown, deprecated: unknown, where: string): Record<string, string> {
  const fromSide = side === undefined ? {} : configOf(obj(side, where).config, `${where}.config`)
  return { ...configOf(deprecated, `${where}_config`), ...fromSide }
}

function linkOf (p: Obj, where: string): AppLink & { readonly targetInline?: string } {
  known(p, ['target', 'namespace', 'package', 'interfaces', 'name', 'source', 'source_config', 'target_config'], where)
  let target: string
  let targetSide: unknown
  if (typeof p.target === 'string') target = text(p.target, `${where}.target`, 64)
  else {
    const t = obj(p.target, `${where}.target`)
    known(t, ['name', 'config', 'secrets'], `${where}.target`)
    if (t.secrets !== undefined) throw new AppError('unsupported', `${where}.target.secrets: wasmesh links carry no secrets (give a component its secrets with ComponentSpec.secrets)`)
    target = text(t.name, `${where}.target.name`, 64)
    targetSide = t
  }
  if (isObj(p.source) && p.source.secrets !== undefined) throw new AppError('unsupported', `${where}.source.secrets: wasmesh links carry no secrets`)
  if (p.source !== undefined) known(obj(p.source, `${where}.source`), ['config', 'secrets'], `${where}.source`)
  const namespace = text(p.namespace, `${where}.namespace`, 64)
  const pkg = text(p.package, `${where}.package`, 64)
  if (!WIT_WORD.test(namespace) || !WIT_WORD.test(pkg)) throw invalid(`${where}: namespace and package must be WIT names (${namespace}:${pkg})`)
  const interfaces = list(p.interfaces, `${where}.interfaces`).map((i, n) => {
    const s = text(i, `${where}.interfaces[${n}]`, 64)
    if (!WIT_WORD.test(s)) throw invalid(`${where}.interfaces[${n}] ${JSON.stringify(s)} is not a WIT interface name`)
    return s
  })
  if (interfaces.length === 0) throw invalid(`${where}.interfaces must list at least one interface`)
  return {
    target,
    namespace,
    package: pkg,
    interfaces,
    ...(p.name !== undefined ? { name: text(p.name, `${where}.name`, 64) } : {}),
    sourceConfig: linkConfig(p.source, p.source_config, `${where}.source`),
    targetConfig: targetSide === undefined ? configOf(p.target_config, `${where}.target_config`) : linkConfig(targetSide, p.target_config, `${where}.target`)
  }
}

function scalerOf (type: string, p: Obj, where: string, limits: ManifestLimits): Scaler {
  known(p, ['instances', 'replicas', 'spread'], where)
  if (p.instances !== undefined && p.replicas !== undefined) throw invalid(`${where} gives both instances and replicas (its older name): give one`)
  const instances = count(p.instances ?? p.replicas ?? 1, `${where}.instances`, limits.maxAppReplicas)
  const raw = list(p.spread, `${where}.spread`)
  if (raw.length > limits.maxAppSpreads) throw new AppError('manifest-too-large', `${where}.spread has ${raw.length} spreads, over maxAppSpreads (${limits.maxAppSpreads})`)
  const spreads = raw.map((s, i): Spread => {
    const sp = obj(s, `${where}.spread[${i}]`)
    known(sp, ['name', 'requirements', 'weight'], `${where}.spread[${i}]`)
    const requirements: Record<string, string> = {}
    for (const [k, v] of Object.entries(sp.requirements === undefined ? {} : obj(sp.requirements, `${where}.spread[${i}].requirements`))) {
      if (!LABEL_KEY.test(k)) throw invalid(`${where}.spread[${i}].requirements: ${JSON.stringify(k.slice(0, 80))} is not a label key`)
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw invalid(`${where}.spread[${i}].requirements.${k} must be a string`)
      Object.defineProperty(requirements, k, { value: String(v), enumerable: true, writable: true, configurable: true })
    }
    const weight = sp.weight === undefined ? 100 : count(sp.weight, `${where}.spread[${i}].weight`, 1_000_000)
    return { name: text(sp.name ?? `spread-${i}`, `${where}.spread[${i}].name`, 64), requirements, weight }
  })
  if (spreads.length > 0 && spreads.every(s => s.weight === 0)) throw invalid(`${where}.spread: every weight is 0`)
  return { kind: type === 'daemonscaler' ? 'daemon' : 'spread', instances, spreads }
}

/** `file://` images as paths (relative ones from the manifest's folder); any other reference as written. */
function resolveImage (image: string, baseDir: string): string {
  if (!image.startsWith('file://')) return image
  const path = decodeURIComponent(image.slice('file://'.length))
  if (path === '') throw invalid(`image ${JSON.stringify(image)} names no file`)
  return isAbsolute(path) ? path : resolve(baseDir, path)
}

function componentOf (c: unknown, i: number, opts: { baseDir: string, limits: ManifestLimits }): AppComponent & { readonly hasScaler: boolean } {
  const where = `spec.components[${i}]`
  const o = obj(c, where)
  known(o, ['name', 'type', 'properties', 'traits'], where)
  const name = text(o.name, `${where}.name`, 64)
  if (!NAME.test(name)) throw invalid(`${where}.name ${JSON.stringify(name)}: use 1-31 of A-Z a-z 0-9 _ -, starting with a letter or digit`)
  const type = o.type
  if (type !== 'component' && type !== 'capability') {
    throw new AppError('unsupported', `${where}.type ${JSON.stringify(type)}: wasmesh deploys type component and type capability`)
  }
  const props = obj(o.properties, `${where}.properties`)
  known(props, ['image', 'application', 'id', 'config', 'secrets'], `${where}.properties`)
  if (props.application !== undefined) throw new AppError('unsupported', `${where}.properties.application: shared components of other apps are not supported; give this app its own`)
  if (props.secrets !== undefined) throw new AppError('unsupported', `${where}.properties.secrets: wadm secrets are not supported; give a component its secrets with ComponentSpec.secrets`)
  const image = text(props.image, `${where}.properties.image`, 2048)
  const config = configOf(props.config, `${where}.properties.config`)
  let capability: Capability | undefined
  let source: string
  if (type === 'capability') {
    capability = capabilityOf(image)
    if (capability === undefined) {
      throw new AppError('unsupported-capability', `${where} (${name}): the capability image ${JSON.stringify(image)} maps onto no built-in provider of wasmesh (it maps wasmCloud's http-server, keyvalue-*, blobstore-*, sqldb-postgres and messaging-nats)`)
    }
    source = capability.kind === 'provider' ? capability.provider : capability.kind
  } else {
    source = resolveImage(image, opts.baseDir)
  }
  const traits = list(o.traits, `${where}.traits`)
  let scaler: Scaler | undefined
  const links: AppLink[] = []
  for (const [n, t] of traits.entries()) {
    const tw = `${where}.traits[${n}]`
    const trait = obj(t, tw)
    known(trait, ['type', 'properties'], tw)
    const tt = text(trait.type, `${tw}.type`, 64)
    const tp = obj(trait.properties ?? {}, `${tw}.properties`)
    if (tt === 'spreadscaler' || tt === 'daemonscaler') {
      if (scaler !== undefined) throw invalid(`${where} has two scalers: give one spreadscaler or daemonscaler`)
      scaler = scalerOf(tt, tp, `${tw}.properties`, opts.limits)
    } else if (tt === 'link') {
      links.push(linkOf(tp, `${tw}.properties`))
      if (links.length > opts.limits.maxAppLinks) throw new AppError('manifest-too-large', `${where} has over maxAppLinks (${opts.limits.maxAppLinks}) links`)
    } else {
      throw new AppError('unsupported', `${tw}.type ${JSON.stringify(tt)}: wasmesh knows the traits spreadscaler, daemonscaler and link`)
    }
  }
  return { name, type, image, source, ...(capability !== undefined ? { capability } : {}), config, scaler: scaler ?? { kind: 'spread', instances: 1, spreads: [] }, links, hasScaler: scaler !== undefined }
}

/** Parses and checks a manifest; every problem is an `AppError` with a stable code. */
export function parseManifest (yamlText: string, opts: ParseOptions = {}): AppManifest {
  const limits: ManifestLimits = { ...defaultManifestLimits, ...opts.limits }
  const bytes = Buffer.byteLength(yamlText)
  if (bytes > limits.maxAppManifestBytes) throw new AppError('manifest-too-large', `the manifest is ${bytes} bytes, over maxAppManifestBytes (${limits.maxAppManifestBytes})`)
  // A small alias budget: YAML aliases can expand a small text into a huge tree ("billion laughs").
  const doc = parseDocument(yamlText, { uniqueKeys: true, prettyErrors: false, strict: true })
  if (doc.errors.length > 0) throw invalid(`not YAML: ${doc.errors[0].message.split('\n')[0]}`)
  let root: unknown
  try {
    root = doc.toJS({ maxAliasCount: 64 })
  } catch (err) {
    throw invalid(`not YAML: ${(err as Error).message.split('\n')[0]}`)
  }
  const o = obj(root, 'the manifest')
  // What it is first: garbage that happens to be a mapping is no manifest, not one with unknown keys.
  if (o.apiVersion !== 'core.oam.dev/v1beta1') throw invalid(`apiVersion ${JSON.stringify(o.apiVersion)?.slice(0, 80)}: a wadm manifest is core.oam.dev/v1beta1`)
  if (o.kind !== 'Application') throw invalid(`kind ${JSON.stringify(o.kind)?.slice(0, 80)}: a wadm manifest is kind Application`)
  known(o, ['apiVersion', 'kind', 'metadata', 'spec'], 'the manifest')
  const meta = obj(o.metadata, 'metadata')
  known(meta, ['name', 'annotations', 'labels'], 'metadata')
  const name = text(meta.name, 'metadata.name', 64)
  if (!NAME.test(name)) throw invalid(`metadata.name ${JSON.stringify(name)}: use 1-31 of A-Z a-z 0-9 _ -, starting with a letter or digit`)
  const annotations = meta.annotations === undefined ? {} : obj(meta.annotations, 'metadata.annotations')
  const version = annotations.version === undefined ? undefined : text(String(annotations.version), 'metadata.annotations.version', 128)
  const description = typeof annotations.description === 'string' ? annotations.description.slice(0, 1024) : undefined
  const spec = obj(o.spec, 'spec')
  known(spec, ['components', 'policies'], 'spec')
  if (spec.policies !== undefined && list(spec.policies, 'spec.policies').length > 0) {
    throw new AppError('unsupported', 'spec.policies: wadm policies (secrets backends and the like) are not supported by wasmesh')
  }
  const raw = list(spec.components, 'spec.components')
  if (raw.length === 0) throw invalid('spec.components is empty')
  if (raw.length > limits.maxAppComponents) throw new AppError('manifest-too-large', `spec.components has ${raw.length} entries, over maxAppComponents (${limits.maxAppComponents})`)
  const baseDir = opts.baseDir ?? process.cwd()
  const parsed = raw.map((c, i) => componentOf(c, i, { baseDir, limits }))
  const names = new Set<string>()
  for (const c of parsed) {
    if (names.has(c.name)) throw invalid(`two components are named ${c.name}`)
    names.add(c.name)
  }
  for (const c of parsed) {
    for (const l of c.links) {
      if (!names.has(l.target)) throw invalid(`component ${c.name} links to ${l.target}, which is not a component of this app`)
    }
  }
  // A capability no scaler asks for runs where wadm would not run it at all; here once (README: "Scalers").
  const components = parsed.map(({ hasScaler: _, ...c }) => c)
  return { name, ...(version !== undefined ? { version } : {}), ...(description !== undefined ? { description } : {}), components }
}
