// wasmCloud's first-party capability provider images, mapped onto what the mesh has built in.

/** What a capability becomes: a built-in provider started on its hosts, the HTTP gateway, or something every node already is. */
export type Capability =
  | { readonly kind: 'provider', readonly provider: 'builtin:keyvalue' | 'builtin:blobstore' | 'builtin:postgres' }
  | { readonly kind: 'http-server' }
  | { readonly kind: 'messaging' }

/** By the image's repository path after `ghcr.io/wasmcloud/` (any tag or digest). */
const images: Readonly<Record<string, Capability>> = Object.freeze({
  'http-server': { kind: 'http-server' },
  'keyvalue-redis': { kind: 'provider', provider: 'builtin:keyvalue' },
  'keyvalue-nats': { kind: 'provider', provider: 'builtin:keyvalue' },
  'keyvalue-vault': { kind: 'provider', provider: 'builtin:keyvalue' },
  'blobstore-fs': { kind: 'provider', provider: 'builtin:blobstore' },
  'blobstore-s3': { kind: 'provider', provider: 'builtin:blobstore' },
  'sqldb-postgres': { kind: 'provider', provider: 'builtin:postgres' },
  'messaging-nats': { kind: 'messaging' }
})

/** The capability an image maps onto, or undefined (refused by the manifest parser). `builtin:<name>` names ours directly. */
export function capabilityOf (image: string): Capability | undefined {
  if (image === 'builtin:keyvalue' || image === 'builtin:blobstore' || image === 'builtin:postgres') return { kind: 'provider', provider: image }
  if (image === 'builtin:http-server') return images['http-server']
  if (image === 'builtin:messaging') return images['messaging-nats']
  const m = /^ghcr\.io\/wasmcloud\/([a-z0-9-]+)(?::[A-Za-z0-9._-]+)?(?:@sha256:[0-9a-f]{64})?$/.exec(image)
  return m === null ? undefined : images[m[1]]
}
