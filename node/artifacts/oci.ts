// An OCI registry client over fetch (the Distribution API): tag -> manifest -> the one wasm layer, verified while streaming; anonymous, Basic and Bearer-token auth; push of a component as wasmCloud/wash lay it out.

import { ArtifactError } from './errors.ts'
import type { ArtifactLimits } from './limits.ts'
import { defaultArtifactLimits } from './limits.ts'
import { parseDigest } from './reference.ts'
import type { OciRef } from './reference.ts'
import { concat, receiveVerified, sha256Hex } from './verify.ts'

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'
/** The CNCF wasm OCI artifact layout (bytecodealliance/rust-oci-wasm, what wash pushes). */
export const WASM_CONFIG = 'application/vnd.wasm.config.v0+json'
export const WASM_LAYER = 'application/wasm'
/** Layer types of older wasm artifacts (wasm-to-oci, wash before oci-wasm): pulled too. */
export const WASM_LAYER_TYPES: readonly string[] = [WASM_LAYER, 'application/vnd.wasm.content.layer.v1+wasm', 'application/vnd.module.wasm.content.layer.v1+wasm']

export interface Credentials { readonly username: string, readonly password: string }

export interface OciClientInit {
  /** Registries (`host` or `host:port`) reached over plain HTTP; loopback ones always are. */
  readonly insecure?: readonly string[]
  /** The credentials for a registry, if any: sent only when it asks (a 401 challenge). */
  readonly credentials?: (registry: string) => Credentials | undefined
  readonly limits?: Partial<ArtifactLimits>
  /** The largest layer taken (the runtime's maxComponentBytes). */
  readonly maxComponentBytes: number
}

export interface WasmLayer {
  /** Lowercase hex sha256 of the component's bytes. */
  readonly digest: string
  readonly size: number
  readonly mediaType: string
}

export interface ResolvedManifest {
  /** The manifest's own digest (hex). */
  readonly manifestDigest: string
  readonly layer: WasmLayer
}

export interface PushOptions {
  /** What goes in the wasm config's `component` (exports and imports, as oci-wasm writes them). */
  readonly component?: { readonly exports: readonly string[], readonly imports: readonly string[] }
}

export interface RegistryStats {
  readonly manifestGets: number
  readonly blobGets: number
  readonly blobBytes: number
}

export interface OciClient {
  /** The manifest a reference names (its digest checked when the reference pins one) and its wasm layer. */
  resolve (ref: OciRef, signal?: AbortSignal): Promise<ResolvedManifest>
  /** The layer's bytes, verified against its digest and size while they stream in. */
  blob (ref: OciRef, layer: WasmLayer, signal?: AbortSignal): Promise<Uint8Array>
  /** Uploads a component (config blob, layer blob, manifest) under the reference's tag; returns the manifest's digest and the layer's. */
  push (ref: OciRef, bytes: Uint8Array, opts?: PushOptions): Promise<{ manifestDigest: string, layerDigest: string }>
  stats (): RegistryStats
}

const loopbackHost = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/

/** `localhost:5000` -> `localhost`; `[::1]:5000` -> `[::1]`. */
function hostOf (registry: string): string {
  return registry.startsWith('[') ? registry.slice(0, registry.indexOf(']') + 1) : registry.replace(/:\d+$/, '')
}

export function isLoopbackRegistry (registry: string): boolean {
  return loopbackHost.test(hostOf(registry))
}

/** `Bearer realm="...",service="...",scope="..."` -> its scheme and parameters. */
export function parseChallenge (header: string | null): { scheme: string, params: Record<string, string> } | undefined {
  if (header === null) return undefined
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header.slice(0, 4096))
  if (m === null) return undefined
  const params: Record<string, string> = {}
  for (const p of m[2].matchAll(/(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))/g)) params[p[1].toLowerCase()] = p[2] ?? p[3]
  return { scheme: m[1].toLowerCase(), params }
}

async function readLimited (res: Response, max: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => {})
    throw new ArtifactError('artifact-too-large', `${what} is ${declared} bytes, over its limit of ${max}`)
  }
  const parts: Uint8Array[] = []
  let total = 0
  if (res.body !== null) {
    for await (const chunk of res.body) {
      total += chunk.byteLength
      if (total > max) {
        await res.body.cancel().catch(() => {})
        throw new ArtifactError('artifact-too-large', `${what} is over its limit of ${max} bytes`)
      }
      parts.push(chunk)
    }
  }
  return concat(parts, total)
}

export function createOciClient (init: OciClientInit): OciClient {
  const limits: ArtifactLimits = { ...defaultArtifactLimits, ...init.limits }
  const insecure = new Set(init.insecure ?? [])
  /** `registry scope` -> the Authorization header that worked. */
  const auth = new Map<string, string>()
  let manifestGets = 0
  let blobGets = 0
  let blobBytes = 0

  function plainHttp (registry: string): boolean {
    return isLoopbackRegistry(registry) || insecure.has(registry) || insecure.has(hostOf(registry))
  }

  function base (ref: OciRef): string {
    return `${plainHttp(ref.registry) ? 'http' : 'https'}://${ref.registry}/v2/${ref.repository}`
  }

  function timeoutSignal (signal?: AbortSignal): AbortSignal {
    const t = AbortSignal.timeout(limits.registryTimeoutMs)
    return signal === undefined ? t : AbortSignal.any([signal, t])
  }

  async function doFetch (url: string, req: RequestInit, registry: string): Promise<Response> {
    let res: Response
    try {
      res = await fetch(url, req)
    } catch (err) {
      const e = err as Error
      if (e.name === 'TimeoutError' || (e.name === 'AbortError' && req.signal?.reason instanceof DOMException && req.signal.reason.name === 'TimeoutError')) {
        throw new ArtifactError('artifact-timeout', `registry ${registry}: no answer within ${limits.registryTimeoutMs} ms (registryTimeoutMs)`, { cause: err })
      }
      if (e.name === 'AbortError') throw err
      const cause = (e as { cause?: { code?: string, message?: string } }).cause
      throw new ArtifactError('registry-failed', `registry ${registry} (${url.slice(0, url.indexOf('/v2/'))}): ${cause?.code ?? cause?.message ?? e.message}${url.startsWith('https:') ? `; a registry serving plain HTTP needs --oci-insecure ${registry}` : ''}`, { cause: err })
    }
    // a registry may redirect blobs to storage; never from TLS down to plain HTTP
    if (url.startsWith('https:') && res.url.startsWith('http:')) {
      await res.body?.cancel().catch(() => {})
      throw new ArtifactError('insecure-registry', `registry ${registry} redirected ${url} to plain HTTP (${new URL(res.url).host}): refused`)
    }
    return res
  }

  async function token (registry: string, challenge: Record<string, string>, scope: string, creds: Credentials | undefined, signal: AbortSignal): Promise<string> {
    const realm = challenge.realm
    if (realm === undefined) throw new ArtifactError('registry-auth', `registry ${registry} asks for a Bearer token without naming its realm`)
    let url: URL
    try { url = new URL(realm) } catch { throw new ArtifactError('registry-auth', `registry ${registry} names a token realm that is not a URL: ${JSON.stringify(realm.slice(0, 200))}`) }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && plainHttp(url.host))) {
      throw new ArtifactError('insecure-registry', `registry ${registry} sends for tokens to ${url.protocol}//${url.host}, which is not HTTPS: refused (add --oci-insecure ${url.host} if it is trusted)`)
    }
    if (challenge.service !== undefined) url.searchParams.set('service', challenge.service)
    url.searchParams.set('scope', challenge.scope ?? scope)
    const headers: Record<string, string> = { accept: 'application/json' }
    if (creds !== undefined) headers.authorization = basic(creds)
    const res = await doFetch(url.toString(), { headers, signal }, registry)
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel().catch(() => {})
      throw new ArtifactError('registry-auth', `registry ${registry}: its token service refused ${creds === undefined ? 'an anonymous request; give WASMESH_OCI_USER and WASMESH_OCI_PASSWORD' : `the credentials of ${creds.username}`} (HTTP ${res.status})`)
    }
    if (!res.ok) { await res.body?.cancel().catch(() => {}); throw new ArtifactError('registry-auth', `registry ${registry}: its token service answered HTTP ${res.status}`) }
    const body = await readLimited(res, limits.maxRegistryTokenBytes, `the token of registry ${registry}`)
    let parsed: unknown
    try { parsed = JSON.parse(new TextDecoder().decode(body)) } catch { throw new ArtifactError('registry-auth', `registry ${registry}: its token service answered something that is not JSON`) }
    const t = (parsed as { token?: unknown, access_token?: unknown }).token ?? (parsed as { access_token?: unknown }).access_token
    if (typeof t !== 'string' || t.length === 0 || /[\s]/.test(t)) throw new ArtifactError('registry-auth', `registry ${registry}: its token answer holds no token`)
    return `Bearer ${t}`
  }

  function basic (c: Credentials): string {
    return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`
  }

  /** One registry request, answering a 401 challenge once (Basic or Bearer) and remembering what worked for the scope. */
  async function send (ref: OciRef, url: string, req: RequestInit & { headers?: Record<string, string> }, actions: string, signal: AbortSignal): Promise<Response> {
    const scope = `repository:${ref.repository}:${actions}`
    const key = `${ref.registry} ${scope}`
    const withAuth = (a: string | undefined): RequestInit => ({ ...req, signal, headers: { ...req.headers, ...(a !== undefined ? { authorization: a } : {}) } })
    let res = await doFetch(url, withAuth(auth.get(key)), ref.registry)
    if (res.status !== 401) return res
    await res.body?.cancel().catch(() => {})
    const challenge = parseChallenge(res.headers.get('www-authenticate'))
    const creds = init.credentials?.(ref.registry)
    let header: string
    if (challenge?.scheme === 'bearer') header = await token(ref.registry, challenge.params, scope, creds, signal)
    else if (challenge?.scheme === 'basic') {
      if (creds === undefined) throw new ArtifactError('registry-auth', `registry ${ref.registry} wants a user name and password: give WASMESH_OCI_USER and WASMESH_OCI_PASSWORD (and WASMESH_OCI_REGISTRY=${ref.registry} for a node)`)
      header = basic(creds)
    } else throw new ArtifactError('registry-auth', `registry ${ref.registry} answered 401 without a Basic or Bearer challenge`)
    res = await doFetch(url, withAuth(header), ref.registry)
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel().catch(() => {})
      throw new ArtifactError('registry-auth', `registry ${ref.registry} refused ${creds !== undefined ? `the credentials of ${creds.username}` : 'anonymous access'} to ${ref.repository} (${actions}; HTTP ${res.status})`)
    }
    auth.set(key, header)
    return res
  }

  async function failed (res: Response, what: string): Promise<ArtifactError> {
    const text = new TextDecoder().decode(await readLimited(res, 4096, 'an error answer').catch(() => new Uint8Array(0)))
    let detail = ''
    try {
      const errors = (JSON.parse(text) as { errors?: Array<{ code?: string, message?: string }> }).errors
      if (Array.isArray(errors) && errors.length > 0) detail = `: ${errors.map(e => `${String(e.code)} ${String(e.message)}`).join('; ').slice(0, 300)}`
    } catch {}
    if (res.status === 404) return new ArtifactError('artifact-not-found', `${what}: not in the registry (HTTP 404${detail})`)
    return new ArtifactError('registry-failed', `${what}: HTTP ${res.status}${detail}`)
  }

  function layerOf (manifest: unknown, where: string): WasmLayer {
    const m = manifest as { schemaVersion?: unknown, mediaType?: unknown, manifests?: unknown, layers?: unknown }
    if (m === null || typeof m !== 'object') throw new ArtifactError('unsupported-manifest', `${where}: the manifest is not a JSON object`)
    if (m.mediaType === OCI_INDEX || m.mediaType === DOCKER_LIST || Array.isArray(m.manifests)) {
      throw new ArtifactError('unsupported-manifest', `${where} is an index of several manifests; reference the wasm one by its digest (@sha256:...)`)
    }
    if (m.schemaVersion !== 2 || !Array.isArray(m.layers)) throw new ArtifactError('unsupported-manifest', `${where}: not an image manifest (schemaVersion 2 with layers)`)
    const wasm = (m.layers as unknown[]).filter((l): l is { mediaType: string, digest: unknown, size: unknown } =>
      l !== null && typeof l === 'object' && WASM_LAYER_TYPES.includes((l as { mediaType?: unknown }).mediaType as string))
    if (wasm.length !== 1) {
      throw new ArtifactError('unsupported-manifest', `${where} has ${wasm.length} wasm layers (media type ${WASM_LAYER}); a component image has exactly one (push it with wasmesh push or wash push)`)
    }
    const l = wasm[0]
    if (typeof l.digest !== 'string') throw new ArtifactError('unsupported-manifest', `${where}: its wasm layer has no digest`)
    const digest = parseDigest(l.digest, `${where} layer ${l.digest.slice(0, 80)}`)
    if (typeof l.size !== 'number' || !Number.isSafeInteger(l.size) || l.size < 0) throw new ArtifactError('unsupported-manifest', `${where}: its wasm layer has no valid size`)
    if (l.size > init.maxComponentBytes) throw new ArtifactError('artifact-too-large', `${where}: its component is ${l.size} bytes, over maxComponentBytes (${init.maxComponentBytes})`)
    return { digest, size: l.size, mediaType: l.mediaType }
  }

  async function upload (ref: OciRef, bytes: Uint8Array, contentType: string, signal: AbortSignal): Promise<string> {
    const digest = sha256Hex(bytes)
    const head = await send(ref, `${base(ref)}/blobs/sha256:${digest}`, { method: 'HEAD' }, 'pull,push', signal)
    await head.body?.cancel().catch(() => {})
    if (head.ok) return digest
    const start = await send(ref, `${base(ref)}/blobs/uploads/`, { method: 'POST' }, 'pull,push', signal)
    if (start.status !== 202) throw await failed(start, `upload to ${ref.registry}/${ref.repository}`)
    await start.body?.cancel().catch(() => {})
    const location = start.headers.get('location')
    if (location === null) throw new ArtifactError('registry-failed', `registry ${ref.registry} started an upload without a Location`)
    const url = new URL(location, `${base(ref)}/`)
    url.searchParams.set('digest', `sha256:${digest}`)
    const put = await send(ref, url.toString(), { method: 'PUT', headers: { 'content-type': contentType }, body: bytes }, 'pull,push', signal)
    if (put.status !== 201) throw await failed(put, `upload of sha256:${digest} to ${ref.registry}/${ref.repository}`)
    await put.body?.cancel().catch(() => {})
    return digest
  }

  return {
    async resolve (ref, signal) {
      const where = `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@sha256:${ref.digest}` : ''}`
      const s = timeoutSignal(signal)
      manifestGets++
      const res = await send(ref, `${base(ref)}/manifests/${ref.digest !== undefined ? `sha256:${ref.digest}` : ref.tag as string}`, {
        headers: { accept: [OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST].join(', ') }
      }, 'pull', s)
      if (!res.ok) throw await failed(res, where)
      const bytes = await readLimited(res, limits.maxManifestBytes, `the manifest of ${where} (maxManifestBytes)`)
      const manifestDigest = sha256Hex(bytes)
      if (ref.digest !== undefined && manifestDigest !== ref.digest) {
        throw new ArtifactError('digest-mismatch', `registry ${ref.registry} answered ${where} with a manifest whose sha256 is ${manifestDigest}: refused`)
      }
      let manifest: unknown
      try { manifest = JSON.parse(new TextDecoder().decode(bytes)) } catch { throw new ArtifactError('unsupported-manifest', `${where}: the manifest is not JSON`) }
      return { manifestDigest, layer: layerOf(manifest, where) }
    },

    async blob (ref, layer, signal) {
      const what = `registry ${ref.registry}`
      const controller = new AbortController()
      const s = AbortSignal.any([timeoutSignal(signal), controller.signal])
      blobGets++
      const res = await send(ref, `${base(ref)}/blobs/sha256:${layer.digest}`, {}, 'pull', s)
      if (!res.ok) throw await failed(res, `${ref.registry}/${ref.repository} blob sha256:${layer.digest}`)
      if (res.body === null) throw new ArtifactError('registry-failed', `${what} answered the blob sha256:${layer.digest} with no body`)
      try {
        const bytes = await receiveVerified(res.body, { digest: layer.digest, size: layer.size, maxBytes: init.maxComponentBytes, from: what }, limits.artifactIdleTimeoutMs, err => { controller.abort(err) })
        blobBytes += bytes.byteLength
        return bytes
      } catch (err) {
        await res.body.cancel().catch(() => {})
        if ((err as Error).name === 'TimeoutError') throw new ArtifactError('artifact-timeout', `${what}: the blob sha256:${layer.digest} took longer than ${limits.registryTimeoutMs} ms (registryTimeoutMs)`, { cause: err })
        throw err
      }
    },

    async push (ref, bytes, opts = {}) {
      if (ref.digest !== undefined) throw new ArtifactError('invalid-reference', `push to a tag, not a digest (${ref.registry}/${ref.repository}@sha256:...): the manifest's digest is what push prints`)
      const s = timeoutSignal()
      const layerDigest = await upload(ref, bytes, 'application/octet-stream', s)
      const config = new TextEncoder().encode(JSON.stringify({
        created: new Date().toISOString(),
        architecture: 'wasm',
        os: 'wasip2',
        layerDigests: [`sha256:${layerDigest}`],
        ...(opts.component !== undefined ? { component: { exports: opts.component.exports, imports: opts.component.imports } } : {})
      }))
      const configDigest = await upload(ref, config, 'application/octet-stream', s)
      const manifest = new TextEncoder().encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: WASM_CONFIG, digest: `sha256:${configDigest}`, size: config.byteLength },
        layers: [{ mediaType: WASM_LAYER, digest: `sha256:${layerDigest}`, size: bytes.byteLength }]
      }))
      const res = await send(ref, `${base(ref)}/manifests/${ref.tag ?? 'latest'}`, { method: 'PUT', headers: { 'content-type': OCI_MANIFEST }, body: manifest }, 'pull,push', s)
      if (res.status !== 201) throw await failed(res, `the manifest of ${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}`)
      await res.body?.cancel().catch(() => {})
      return { manifestDigest: sha256Hex(manifest), layerDigest }
    },

    stats: () => ({ manifestGets, blobGets, blobBytes })
  }
}
