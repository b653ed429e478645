// Component references: a file path, file://, a digest (sha256:<hex>) or an OCI reference (host/repo:tag, host/repo@sha256:..., oci://...), parsed strictly.

import { fileURLToPath } from 'node:url'
import { ArtifactError } from './errors.ts'

export type ComponentRef =
  | { readonly kind: 'file', readonly path: string }
  /** Bare content address: whoever holds these bytes (this node's cache, a peer) may provide them. */
  | { readonly kind: 'digest', readonly digest: string }
  | OciRef

export interface OciRef {
  readonly kind: 'oci'
  /** `host` or `host:port`, as written. */
  readonly registry: string
  /** `org/app`: lowercase path components. */
  readonly repository: string
  readonly tag?: string
  /** The manifest's digest (lowercase hex, no `sha256:`), when pinned by one. */
  readonly digest?: string
}

/** The longest reference taken: Distribution caps a name at 255 and a tag at 128, a digest at 71. */
export const maxReferenceLength = 512

const hex64 = /^[a-f0-9]{64}$/
const hostPart = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)'
const host = new RegExp(`^(?:${hostPart}(?:\\.${hostPart})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]{1,5})?$`)
// distribution/reference's path component
const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const tagPattern = /^\w[\w.-]{0,127}$/

function invalid (text: string, why: string): ArtifactError {
  return new ArtifactError('invalid-reference', `component reference ${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text)}: ${why}; write a file path, file:///path/app.wasm, sha256:<64 hex digits>, or an OCI reference such as registry.example:5000/org/app:1.2 or ghcr.io/org/app@sha256:<64 hex digits>`)
}

/** `sha256:<hex>` -> the hex, lowercase; anything else is `invalid-reference`. */
export function parseDigest (text: string, what = text): string {
  if (!text.startsWith('sha256:')) throw invalid(what, 'a digest starts with sha256: (no other algorithm is taken)')
  const hex = text.slice('sha256:'.length).toLowerCase()
  if (!hex64.test(hex)) throw invalid(what, 'a sha256 digest has exactly 64 hex digits')
  return hex
}

/** Whether a string without a scheme reads as an OCI reference: `host/...` where the host has a dot, a port or is localhost. */
function looksLikeOci (text: string): boolean {
  if (/^[./~]/.test(text) || text.endsWith('.wasm') || !text.includes('/')) return false
  const first = text.slice(0, text.indexOf('/'))
  return first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')
}

export function parseOciRef (text: string, whole = text): OciRef {
  const slash = text.indexOf('/')
  if (slash <= 0) throw invalid(whole, 'an OCI reference names its registry first (host[:port]/repository)')
  const registry = text.slice(0, slash)
  if (!host.test(registry)) throw invalid(whole, `${JSON.stringify(registry)} is not a registry host[:port]`)
  let rest = text.slice(slash + 1)
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = parseDigest(rest.slice(at + 1), whole)
    rest = rest.slice(0, at)
  }
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon >= 0) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!tagPattern.test(tag)) throw invalid(whole, `${JSON.stringify(tag)} is not a tag (letters, digits, '_', '.', '-'; at most 128)`)
  }
  if (rest.length === 0 || rest.length > 255) throw invalid(whole, 'the repository name is empty or longer than 255 characters')
  for (const part of rest.split('/')) {
    if (!pathComponent.test(part)) throw invalid(whole, `${JSON.stringify(part)} is not a repository path component (lowercase letters, digits, '.', '_', '-')`)
  }
  if (tag === undefined && digest === undefined) tag = 'latest'
  return { kind: 'oci', registry, repository: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) }
}

/**
 * What a component source names. Without a scheme, a string is an OCI reference when its first segment is a
 * registry host (has a dot or a port, or is localhost) and it does not end in `.wasm`; otherwise a file path
 * (write `./dir.v2/app` or `file://` for a file whose path would read as a registry).
 */
export function parseReference (text: string): ComponentRef {
  if (text.length === 0) throw invalid(text, 'it is empty')
  if (text.length > maxReferenceLength) throw invalid(text, `it is longer than ${maxReferenceLength} characters`)
  // white space is refused by the OCI grammar below; a file path may hold it, but never a NUL
  if (text.includes('\0')) throw invalid(text, 'it contains a NUL')
  if (text.startsWith('file://')) {
    try {
      return { kind: 'file', path: fileURLToPath(text) }
    } catch (err) {
      throw invalid(text, `not a file URL (${(err as Error).message})`)
    }
  }
  if (text.startsWith('oci://')) return parseOciRef(text.slice('oci://'.length), text)
  if (text.startsWith('sha256:')) return { kind: 'digest', digest: parseDigest(text) }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) throw invalid(text, `the scheme ${text.slice(0, text.indexOf(':'))}:// is not one of file:// and oci://`)
  if (looksLikeOci(text)) return parseOciRef(text)
  return { kind: 'file', path: text }
}

/** A reference as people write it (`host/repo:tag@sha256:...`, `sha256:...`, the path). */
export function formatReference (ref: ComponentRef): string {
  if (ref.kind === 'file') return ref.path
  if (ref.kind === 'digest') return `sha256:${ref.digest}`
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@sha256:${ref.digest}` : ''}`
}

/** The name a component gets from its reference when none is given: the file's name, the repository's last segment. */
export function referenceName (ref: ComponentRef): string | undefined {
  if (ref.kind === 'file') {
    const base = ref.path.slice(ref.path.lastIndexOf('/') + 1)
    return base.endsWith('.wasm') ? base.slice(0, -'.wasm'.length) : base
  }
  if (ref.kind === 'oci') return ref.repository.slice(ref.repository.lastIndexOf('/') + 1)
  return undefined
}
