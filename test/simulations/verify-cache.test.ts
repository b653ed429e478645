// The shared Ed25519 verification cache: a hit only for the very same key, bytes and signature; forged, altered
// and replayed-under-another-key copies are verified and refused; the simulation's figures do not move.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { loadScenario, meshFigures, runSimulation } from '../../simulations/index.ts'
import { installVerifyCache } from '../../simulations/verify-cache.ts'
import type { VerifyCache } from '../../simulations/verify-cache.ts'

let cache: VerifyCache | undefined
afterEach(() => { cache?.uninstall(); cache = undefined })

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('the verify cache', () => {
  it('answers a repeated valid verification from the cache, for any node holding that key', async () => {
    const alice = await generateKeyPair('Ed25519')
    const msg = bytes('an advert')
    const sig = await alice.sign(msg)
    cache = await installVerifyCache()
    expect(await alice.publicKey.verify(msg, sig)).toBe(true)
    expect(cache.stats).toEqual({ hits: 0, misses: 1 })
    // another copy of the bytes and signature (another node's receive buffer), same answer without a verification
    expect(await alice.publicKey.verify(msg.slice(), sig.slice())).toBe(true)
    expect(cache.stats).toEqual({ hits: 1, misses: 1 })
  })

  it('refuses an altered message, a forged signature and a valid signature under another key, even once cached', async () => {
    const alice = await generateKeyPair('Ed25519')
    const mallory = await generateKeyPair('Ed25519')
    const msg = bytes('an advert')
    const sig = await alice.sign(msg)
    cache = await installVerifyCache()
    expect(await alice.publicKey.verify(msg, sig)).toBe(true)
    expect(await alice.publicKey.verify(bytes('an advert!'), sig)).toBe(false)
    expect(await alice.publicKey.verify(bytes('an advers'), sig)).toBe(false)
    const forged = sig.slice(); forged[10] ^= 1
    expect(await alice.publicKey.verify(msg, forged)).toBe(false)
    expect(await mallory.publicKey.verify(msg, sig)).toBe(false)
    // refusals are not remembered: each is verified again
    expect(await mallory.publicKey.verify(msg, sig)).toBe(false)
    expect(cache.stats).toEqual({ hits: 0, misses: 6 })
    // a caller that mutates its buffer after the check does not change what was cached
    const mutable = bytes('another advert'); const sig2 = await alice.sign(mutable)
    expect(await alice.publicKey.verify(mutable, sig2)).toBe(true)
    mutable[0] ^= 1
    expect(await alice.publicKey.verify(mutable, sig2)).toBe(false)
  })

  it('passes a signature of the wrong length to the library, which refuses it as before', async () => {
    const alice = await generateKeyPair('Ed25519')
    cache = await installVerifyCache()
    await expect(async () => await alice.publicKey.verify(bytes('x'), new Uint8Array(63))).rejects.toThrow(/64 bytes/)
    await expect(async () => await alice.publicKey.verify(bytes('x'), new Uint8Array(1 << 20))).rejects.toThrow(/64 bytes/)
  })

  it('holds at most maxEntries, forgetting the oldest', async () => {
    const alice = await generateKeyPair('Ed25519')
    const msgs = [bytes('a'), bytes('b'), bytes('c')]
    const sigs = await Promise.all(msgs.map(async m => await alice.sign(m)))
    cache = await installVerifyCache({ maxEntries: 2 })
    for (let i = 0; i < 3; i++) expect(await alice.publicKey.verify(msgs[i], sigs[i])).toBe(true)
    expect(await alice.publicKey.verify(msgs[2], sigs[2])).toBe(true)
    expect(await alice.publicKey.verify(msgs[0], sigs[0])).toBe(true)
    expect(cache.stats).toEqual({ hits: 1, misses: 4 })
  })

  it('refuses a bad bound and a second install, and uninstall puts the library back', async () => {
    await expect(installVerifyCache({ maxEntries: 0 })).rejects.toThrow(RangeError)
    await expect(installVerifyCache({ maxEntries: 1.5 })).rejects.toThrow(RangeError)
    cache = await installVerifyCache()
    await expect(installVerifyCache()).rejects.toThrow(/already installed/)
    cache.uninstall()
    const alice = await generateKeyPair('Ed25519')
    const msg = bytes('m'); const sig = await alice.sign(msg)
    expect(await alice.publicKey.verify(msg, sig)).toBe(true)
    expect(cache.stats).toEqual({ hits: 0, misses: 0 })
    cache = await installVerifyCache()
  })
})

describe('a simulation with and without the verify cache', () => {
  it('gives the same mesh figures', async () => {
    const scenario = await loadScenario('smoke')
    const withCache = await runSimulation(scenario)
    const without = await runSimulation(scenario, { verifyCache: false })
    expect(meshFigures(without)).toEqual(meshFigures(withCache))
  }, 300_000)
})
