// A node's artifacts: turns a component's reference into verified bytes (cache, then peers that advertise the digest, then the registry), keeps them by digest and serves them to peers.

import type { Libp2p } from '@libp2p/interface'
import type { Logger } from '../logger.ts'
import type { PeerView } from '../registry.ts'
import { readComponentSource } from '../runtime/index.ts'
import { ArtifactError } from './errors.ts'
import type { ArtifactErrorCode } from './errors.ts'
import { defaultArtifactLimits } from './limits.ts'
import type { ArtifactLimits } from './limits.ts'
import { createOciClient } from './oci.ts'
import type { Credentials, OciClient, RegistryStats, WasmLayer } from './oci.ts'
import { createArtifactServer, fetchFromPeer } from './peer-protocol.ts'
import type { ArtifactServerStats } from './peer-protocol.ts'
import { formatReference, parseReference, referenceName } from './reference.ts'
import type { ComponentRef, OciRef } from './reference.ts'
import { createStore } from './store.ts'
import type { StoreStats } from './store.ts'
import { sha256Hex } from './verify.ts'

/** Where a node gets components from (`NodeInit.artifacts`). */
export interface ArtifactsConfig {
  /** Registries (`host` or `host:port`) spoken to over plain HTTP; loopback ones always are (`--oci-insecure`). */
  readonly insecure?: readonly string[]
  /** Credentials by registry (`host[:port]`), sent only to that registry and only when it asks. */
  readonly credentials?: Readonly<Record<string, Credentials>>
}

export type ArtifactSource = 'file' | 'bytes' | 'cache' | 'peer' | 'registry'

export interface Fetched {
  /** Lowercase hex sha256 of the bytes. */
  readonly digest: string
  readonly bytes: Uint8Array
  readonly from: ArtifactSource
  /** The peer that sent them, when `from` is `peer`. */
  readonly peer?: string
  /** The reference as given, normalized. */
  readonly reference: string
  /** A default name for the component (the repository's last segment, the file's name). */
  readonly name?: string
}

export interface ArtifactStats {
  readonly cache: StoreStats
  /** Components obtained, by where they came from. */
  readonly fetched: Partial<Record<ArtifactSource, number>>
  /** Transfers from peers refused (wrong bytes, truncated, too large, slow...), by error code. */
  readonly peerFailures: Partial<Record<ArtifactErrorCode, number>>
  readonly registry: RegistryStats
  readonly server: ArtifactServerStats
}

export interface FetchOptions {
  readonly signal?: AbortSignal
  /** A node starting with bootstrap peers: their adverts are on the way. */
  readonly waitForPeers?: boolean
}

export interface ArtifactsInit {
  readonly libp2p: Libp2p
  /** `<data-dir>/artifacts`; without it the cache is in memory. */
  readonly dir?: string
  /** The peers this node knows, with the component digests their adverts name. */
  readonly peers: () => readonly PeerView[]
  /** Told whenever what `peers` answers may have changed; returns the unsubscribe. */
  readonly onPeersChange: (listener: () => void) => () => void
  readonly log: Logger
  readonly config?: ArtifactsConfig
  readonly limits?: Partial<ArtifactLimits>
  readonly maxComponentBytes: number
}

export interface Artifacts {
  /** Opens the cache (before anything loads) and serves it to peers. */
  start (): Promise<void>
  stop (): Promise<void>
  /**
   * The bytes a reference names, verified; a file's and bytes given are cached too, so that peers can fetch them.
   * `waitForPeers`: when no known peer holds the digest, wait up to `artifactPeerWaitMs` for one to advertise it.
   */
  fetch (source: string | Uint8Array, opts?: FetchOptions): Promise<Fetched>
  /** A loaded component's bytes stay in the cache while it runs. */
  pin (digest: string): void
  unpin (digest: string): void
  stats (): ArtifactStats
}

function shuffle<T> (items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j], items[i]]
  }
  return items
}

export function createArtifacts (init: ArtifactsInit): Artifacts {
  const limits: ArtifactLimits = { ...defaultArtifactLimits, ...init.limits }
  const { libp2p, log, maxComponentBytes } = init
  const store = createStore({ dir: init.dir, maxBytes: limits.maxArtifactCacheBytes, log })
  const credentials = init.config?.credentials ?? {}
  const oci: OciClient = createOciClient({
    insecure: init.config?.insecure,
    credentials: registry => Object.hasOwn(credentials, registry) ? credentials[registry] : undefined,
    limits,
    maxComponentBytes
  })
  const server = createArtifactServer({ libp2p, lookup: async digest => await store.get(digest), limits, log })
  const fetched: Partial<Record<ArtifactSource, number>> = {}
  const peerFailures: Partial<Record<ArtifactErrorCode, number>> = {}
  /** One fetch per digest at a time: concurrent loads of the same image share it. */
  const inflight = new Map<string, Promise<Omit<Fetched, 'reference' | 'name'>>>()
  let opened: Promise<void> | undefined

  const count = (from: ArtifactSource): void => { fetched[from] = (fetched[from] ?? 0) + 1 }

  /** Peers whose adverts name the digest: connected ones first, each group in random order so that load spreads. */
  function holders (digest: string): string[] {
    const self = libp2p.peerId.toString()
    const having = init.peers().filter(p => !p.local && p.peer !== self && p.exports.some(e => e.digest === digest))
    return [...shuffle(having.filter(p => p.connected)), ...shuffle(having.filter(p => !p.connected))].map(p => p.peer)
  }

  /** Resolves when a peer advertising `digest` is known, or after `artifactPeerWaitMs` (an event, not a poll). */
  async function holderKnown (digest: string, signal?: AbortSignal): Promise<void> {
    if (holders(digest).length > 0 || limits.artifactPeerWaitMs === 0) return
    await new Promise<void>(resolve => {
      const done = (): void => { clearTimeout(timer); unsubscribe(); signal?.removeEventListener('abort', done); resolve() }
      const timer = setTimeout(done, limits.artifactPeerWaitMs)
      const unsubscribe = init.onPeersChange(() => { if (holders(digest).length > 0) done() })
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  async function fromPeers (digest: string, signal?: AbortSignal): Promise<{ bytes: Uint8Array, peer: string } | undefined> {
    for (const peer of holders(digest).slice(0, limits.maxArtifactPeerAttempts)) {
      if (signal?.aborted === true) break
      try {
        return { bytes: await fetchFromPeer(libp2p, peer, digest, { maxBytes: maxComponentBytes, limits, signal }), peer }
      } catch (err) {
        const code: ArtifactErrorCode = err instanceof ArtifactError ? err.code : 'artifact-protocol'
        peerFailures[code] = (peerFailures[code] ?? 0) + 1
        const say = code === 'digest-mismatch' || code === 'artifact-protocol' ? log.warn : log.debug
        say.call(log, `sha256:${digest.slice(0, 12)} from ${peer}: ${(err as Error).message} (${code}); trying elsewhere`)
      }
    }
    return undefined
  }

  /** Cache, then peers, then (for an OCI layer) the registry; what arrives is verified and cached. */
  async function byDigest (digest: string, registry: { ref: OciRef, layer: WasmLayer } | undefined, opts: FetchOptions): Promise<Omit<Fetched, 'reference' | 'name'>> {
    const { signal } = opts
    const cached = await store.get(digest)
    if (cached !== undefined) { count('cache'); return { digest, bytes: cached, from: 'cache' } }
    let running = inflight.get(digest)
    if (running === undefined) {
      running = (async () => {
        if (opts.waitForPeers === true) await holderKnown(digest, signal)
        const got = await fromPeers(digest, signal)
        if (got !== undefined) {
          await store.put(digest, got.bytes)
          count('peer')
          return { digest, bytes: got.bytes, from: 'peer' as const, peer: got.peer }
        }
        if (registry === undefined) {
          throw new ArtifactError('artifact-not-found', `sha256:${digest}: not in this node's cache, and no peer advertising it sent it (push it to a registry and use its OCI reference, or load it on a peer first)`)
        }
        const bytes = await oci.blob(registry.ref, registry.layer, signal)
        await store.put(digest, bytes)
        count('registry')
        log.info(`pulled ${formatReference(registry.ref)} (sha256:${digest.slice(0, 12)}, ${bytes.byteLength} bytes) from its registry`)
        return { digest, bytes, from: 'registry' as const }
      })()
      inflight.set(digest, running)
      running.finally(() => { inflight.delete(digest) }).catch(() => {})
    }
    return await running
  }

  async function fetchRef (ref: ComponentRef, opts: FetchOptions): Promise<Omit<Fetched, 'reference' | 'name'>> {
    if (ref.kind === 'file') {
      const bytes = await readComponentSource(ref.path, maxComponentBytes)
      const digest = sha256Hex(bytes)
      await store.put(digest, bytes)
      count('file')
      return { digest, bytes, from: 'file' }
    }
    if (ref.kind === 'digest') return await byDigest(ref.digest, undefined, opts)
    // a tag can move: its manifest always comes from the registry; the layer it names, from whoever has it
    const { layer } = await oci.resolve(ref, opts.signal)
    return await byDigest(layer.digest, { ref, layer }, opts)
  }

  return {
    async start () {
      opened ??= store.open().catch((err: unknown) => { opened = undefined; throw err })
      await opened
      await server.start()
    },

    async stop () {
      await server.stop()
    },

    async fetch (source, opts = {}) {
      await (opened ??= store.open().catch((err: unknown) => { opened = undefined; throw err }))
      if (typeof source !== 'string') {
        if (source.byteLength > maxComponentBytes) throw new ArtifactError('artifact-too-large', `component is ${source.byteLength} bytes, over maxComponentBytes (${maxComponentBytes})`)
        const digest = sha256Hex(source)
        await store.put(digest, source)
        count('bytes')
        return { digest, bytes: source, from: 'bytes', reference: `sha256:${digest}` }
      }
      const ref = parseReference(source)
      const got = await fetchRef(ref, opts)
      const name = referenceName(ref)
      return { ...got, reference: formatReference(ref), ...(name !== undefined ? { name } : {}) }
    },

    pin: digest => { store.pin(digest) },
    unpin: digest => { store.unpin(digest) },

    stats: () => ({ cache: store.stats(), fetched: { ...fetched }, peerFailures: { ...peerFailures }, registry: oci.stats(), server: server.stats() })
  }
}
