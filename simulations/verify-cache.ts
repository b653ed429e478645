// One Ed25519 verification per distinct (key, message, signature) in the process, shared by every simulated node.
//
// Hundreds of nodes in one process each check the same signatures: every node verifies every advert's gossipsub
// signature and its envelope's signature, so a heartbeat of N adverts costs N x N x 2 verifications, the
// largest single item of a simulation's CPU after garbage collection. A verification is a pure function of the
// public key, the bytes and the signature, so its result can be shared: the first node that checks a triple pays
// for it, the others get the same answer. Nothing a node observes changes (a forged or altered copy is a
// different triple, never found in the cache, and is verified and refused as before); only the host's CPU does,
// which is why the report's CPU figures say they were measured with it.
//
// It replaces `verify` on `@libp2p/crypto`'s Ed25519 public key class (the one every layer uses: libp2p,
// gossipsub, the adverts' envelopes, identify's signed records) for the run, and puts it back after.

import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'

/** The cache's default bound: a 1,000-node heartbeat holds about 2,000 distinct signed messages. */
export const DEFAULT_VERIFY_CACHE_ENTRIES = 20_000

export interface VerifyCacheStats {
  /** Verifications answered from the cache. */
  hits: number
  /** Verifications done (and, when they passed, remembered). */
  misses: number
}

export interface VerifyCache {
  readonly stats: VerifyCacheStats
  /** Puts the library's own `verify` back. */
  uninstall (): void
}

interface Entry { readonly key: Uint8Array, readonly data: Uint8Array }

type Verify = (this: { raw: Uint8Array }, data: Uint8Array | { subarray (): Uint8Array }, sig: Uint8Array, options?: unknown) => boolean | Promise<boolean>

let installed = false

/**
 * Installs the shared cache for `Ed25519PublicKey.prototype.verify`. Only valid results are remembered (a
 * forged copy is checked every time, as a real node would), at most `maxEntries`, the oldest forgotten first.
 * One install at a time per process.
 */
export async function installVerifyCache (opts: { maxEntries?: number } = {}): Promise<VerifyCache> {
  const maxEntries = opts.maxEntries ?? DEFAULT_VERIFY_CACHE_ENTRIES
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`verify cache maxEntries must be a positive integer, got ${maxEntries}`)
  if (installed) throw new Error('the verify cache is already installed')
  // the class is not exported by the package: reach its prototype through an instance
  const sample = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32))
  const proto = Object.getPrototypeOf(sample.publicKey) as { verify: Verify }
  const original = proto.verify
  const stats: VerifyCacheStats = { hits: 0, misses: 0 }
  // keyed by the signature (64 bytes, as latin1 text); the key and bytes are compared in full on a hit
  const entries = new Map<string, Entry>()

  const cached: Verify = function (data, sig, options) {
    const bytes = data instanceof Uint8Array ? data : data.subarray()
    if (!(sig instanceof Uint8Array) || sig.byteLength !== 64) return original.call(this, data, sig, options)
    const id = Buffer.from(sig.buffer, sig.byteOffset, sig.byteLength).toString('latin1')
    const hit = entries.get(id)
    if (hit !== undefined && equal(hit.key, this.raw) && equal(hit.data, bytes)) {
      stats.hits++
      return true
    }
    stats.misses++
    const result = original.call(this, bytes, sig, options)
    const remember = (ok: boolean): boolean => {
      if (!ok) return ok
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string)
      // copies: the caller's buffers may be reused after it returns
      entries.set(id, { key: this.raw.slice(), data: bytes.slice() })
      return ok
    }
    return result instanceof Promise ? result.then(remember) : remember(result)
  }

  proto.verify = cached
  installed = true
  return {
    stats,
    uninstall () {
      if (proto.verify === cached) proto.verify = original
      entries.clear()
      installed = false
    }
  }
}

function equal (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}
