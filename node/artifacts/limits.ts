// The artifact limits (`NodeInit.artifactLimits`, `--limit`): what registries and peers may make a node fetch, hold and serve.

export interface ArtifactLimits {
  /** The largest manifest read from a registry; past it the pull fails (`artifact-too-large`). */
  readonly maxManifestBytes: number
  /** The largest token answer of a registry's token service. */
  readonly maxRegistryTokenBytes: number
  /** A whole registry exchange (a manifest, a blob, an upload) may take this long. */
  readonly registryTimeoutMs: number
  /** A registry or a peer silent this long in the middle of a transfer is given up on (`artifact-timeout`). */
  readonly artifactIdleTimeoutMs: number
  /** Bytes the on-disk cache keeps; past it the least recently used entries not loaded now are evicted. */
  readonly maxArtifactCacheBytes: number
  /** One transfer from a peer may take this long, whatever its pace. */
  readonly peerArtifactTimeoutMs: number
  /** Transfers this node serves to one peer at once; more are answered `busy`. */
  readonly maxArtifactTransfersPerPeer: number
  /** Transfers this node serves at once, all peers together; more are answered `busy`. */
  readonly maxArtifactTransfers: number
  /** Peers asked for a digest before going to the registry. */
  readonly maxArtifactPeerAttempts: number
  /**
   * At start with bootstrap peers, a component by reference that no known peer holds yet waits this long for an
   * advert naming its digest (the sync with the bootstrap peers brings them) before going to the registry.
   */
  readonly artifactPeerWaitMs: number
  /** The size of the chunks this node sends bytes in. */
  readonly artifactChunkBytes: number
}

export const defaultArtifactLimits: ArtifactLimits = Object.freeze({
  maxManifestBytes: 4 * 1024 * 1024,
  maxRegistryTokenBytes: 64 * 1024,
  registryTimeoutMs: 120_000,
  artifactIdleTimeoutMs: 15_000,
  maxArtifactCacheBytes: 2 * 1024 * 1024 * 1024,
  peerArtifactTimeoutMs: 120_000,
  maxArtifactTransfersPerPeer: 2,
  maxArtifactTransfers: 16,
  maxArtifactPeerAttempts: 3,
  artifactPeerWaitMs: 3_000,
  artifactChunkBytes: 64 * 1024
})
