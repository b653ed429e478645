// A seeded pseudo-random generator (sfc32), so that the same scenario seed plans the same events.

export interface Prng {
  /** Uniform in [0, 1). */
  next (): number
  /** Uniform integer in [0, n). */
  int (n: number): number
  /** Exponentially distributed with this mean (the gap between Poisson arrivals). */
  exponential (mean: number): number
  pick<T> (items: readonly T[]): T
  /** `k` distinct items in random order (all of them when k >= length). */
  sample<T> (items: readonly T[], k: number): T[]
  /** An independent generator for another purpose, so that adding draws to one stream leaves the others unchanged. */
  fork (label: string): Prng
  /** 32 random bytes (deterministic identities). */
  bytes (n: number): Uint8Array
}

/** 32-bit FNV-1a of a string, to mix labels into seeds. */
function hash (text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

export function createPrng (seed: number | string): Prng {
  const s = typeof seed === 'number' ? String(seed) : seed
  let a = hash(`a:${s}`)
  let b = hash(`b:${s}`)
  let c = hash(`c:${s}`)
  let d = 1
  const u32 = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0
    const t = (a + b + d) >>> 0
    d = (d + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) >>> 0
    return t
  }
  // sfc32 needs a few rounds before its output is well mixed
  for (let i = 0; i < 15; i++) u32()
  const prng: Prng = {
    next: () => u32() / 4294967296,
    int: (n) => Math.floor(prng.next() * n),
    exponential: (mean) => -Math.log(1 - prng.next()) * mean,
    pick: (items) => {
      if (items.length === 0) throw new RangeError('pick from an empty list')
      return items[prng.int(items.length)]
    },
    sample: (items, k) => {
      const copy = [...items]
      for (let i = copy.length - 1; i > 0; i--) {
        const j = prng.int(i + 1)
        const t = copy[i]; copy[i] = copy[j]; copy[j] = t
      }
      return copy.slice(0, Math.max(0, k))
    },
    fork: (label) => createPrng(`${s}/${label}`),
    bytes: (n) => {
      const out = new Uint8Array(n)
      for (let i = 0; i < n; i += 4) {
        const v = u32()
        for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff
      }
      return out
    }
  }
  return prng
}
