// Typed errors of component references, the artifact cache, OCI registries and the peer artifact protocol.

export type ArtifactErrorCode =
  | 'invalid-reference'     // a source that is neither a file, a digest nor an OCI reference: fix its spelling
  | 'artifact-not-found'    // no cache entry, no peer and no registry has it: push it, or give a reference a registry can serve
  | 'digest-mismatch'       // bytes that are not what their digest says: refused, never cached or loaded
  | 'artifact-too-large'    // a manifest, a component or a token over its limit (maxManifestBytes, maxComponentBytes)
  | 'artifact-timeout'      // a registry or a peer took longer than its timeout, or went quiet mid-transfer
  | 'registry-failed'       // the registry answered with an error status, or with something that is not the Distribution API
  | 'registry-auth'         // the registry wants credentials it was not given, or refused the ones given
  | 'insecure-registry'     // plain HTTP to a registry not on loopback and not listed in --oci-insecure
  | 'unsupported-manifest'  // a manifest that is not an image manifest holding exactly one wasm layer (an index, several layers)
  | 'artifact-protocol'     // a peer's answer on /wasmesh/artifact/1.0.0 that breaks the protocol (garbage, truncated, too long)

export class ArtifactError extends Error {
  override readonly name = 'ArtifactError'
  readonly code: ArtifactErrorCode
  constructor (code: ArtifactErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

export function isArtifactError (err: unknown): err is ArtifactError {
  return err instanceof ArtifactError
}
