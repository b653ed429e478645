// The contract's `hashable-f64` (mantissa, exponent, sign) both ways, exactly, and decimal text to the nearest float of a width.

/** `tuple<u64, s16, s8>`: Rust's `num::Float::integer_decode` of an f64 or an f32; the value is sign * mantissa * 2^exponent. */
export type HashableF64 = readonly [mantissa: bigint, exponent: number, sign: number]

export type FloatWidth = 32 | 64

interface Format {
  /** Significand bits including the implicit one. */
  readonly precision: number
  /** Exponent of the least significant bit of the smallest subnormal. */
  readonly minExponent: number
  /** integer_decode's exponent for the all-ones biased exponent (infinities and NaNs). */
  readonly specialExponent: number
}

const formats: Record<FloatWidth, Format> = {
  64: { precision: 53, minExponent: -1074, specialExponent: 0x7ff - 1075 },
  32: { precision: 24, minExponent: -149, specialExponent: 0xff - 150 }
}

const view = new DataView(new ArrayBuffer(8))

/**
 * integer_decode of `x` as an f64 (width 64) or as the f32 nearest to it (width 32), bit for bit as
 * Rust's `num` crate does it, so a triple a Rust component computes compares equal to ours.
 */
export function toHashable (x: number, width: FloatWidth = 64): HashableF64 {
  if (width === 64) {
    view.setFloat64(0, x)
    const bits = view.getBigUint64(0)
    const sign = bits >> 63n === 0n ? 1 : -1
    const biased = Number((bits >> 52n) & 0x7ffn)
    const fraction = bits & 0xfffffffffffffn
    const mantissa = biased === 0 ? fraction << 1n : fraction | 0x10000000000000n
    return [mantissa, biased - 1075, sign]
  }
  view.setFloat32(0, x)
  const bits = view.getUint32(0)
  const sign = bits >>> 31 === 0 ? 1 : -1
  const biased = (bits >>> 23) & 0xff
  const fraction = bits & 0x7fffff
  const mantissa = biased === 0 ? fraction << 1 : fraction | 0x800000
  return [BigInt(mantissa), biased - 150, sign]
}

function bitLength (n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length
}

/**
 * The float of `width` nearest to num/den (both positive), ties to even, with subnormals and overflow
 * to infinity: one correct rounding, never a double one.
 */
function nearest (num: bigint, den: bigint, width: FloatWidth): number {
  const { precision, minExponent } = formats[width]
  // e: the exponent of the leading bit, 2^e <= num/den < 2^(e+1).
  let e = bitLength(num) - bitLength(den)
  if (e >= 0 ? num < den << BigInt(e) : num << BigInt(-e) < den) e--
  const maxExponent = width === 64 ? 1023 : 127
  if (e > maxExponent) return Infinity
  // q: the exponent of the last significand bit kept.
  const q = Math.max(e - precision + 1, minExponent)
  const n = q >= 0 ? num : num << BigInt(-q)
  const d = q >= 0 ? den << BigInt(q) : den
  let r = n / d
  const twice = (n - r * d) * 2n
  if (twice > d || (twice === d && (r & 1n) === 1n)) r++
  // r <= 2^precision and q is within range, so this product is exact (or overflows to infinity when it must).
  const value = Number(r) * 2 ** q
  return width === 64 ? value : Math.fround(value)
}

/**
 * The number a triple stands for. Exact for every triple integer_decode can produce, including the
 * infinities and NaN (which it encodes with the all-ones exponent); any other triple is rounded once
 * to the nearest float of `width`. A sign below zero is negative; zero mantissas give ±0.
 */
export function fromHashable (triple: HashableF64, width: FloatWidth = 64): number {
  const [mantissa, exponent, sign] = triple
  const negative = sign < 0
  if (mantissa === 0n) return negative ? -0 : 0
  for (const w of width === 64 ? [64] as const : [32, 64] as const) {
    const f = formats[w]
    const implicit = 1n << BigInt(f.precision - 1)
    if (exponent === f.specialExponent && mantissa >= implicit && mantissa < implicit << 1n) {
      if (mantissa === implicit) return negative ? -Infinity : Infinity
      return NaN
    }
  }
  const value = exponent >= 0 ? nearest(mantissa << BigInt(exponent), 1n, width) : nearest(mantissa, 1n << BigInt(-exponent), width)
  return negative ? -value : value
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/

/**
 * Decimal text (PostgreSQL's float output: digits, exponent, `NaN`, `Infinity`) to the nearest float
 * of `width`. For width 32 this avoids the double rounding of Math.fround(Number(text)).
 */
export function parseFloatText (text: string, width: FloatWidth): number {
  const t = text.trim()
  switch (t.toLowerCase()) {
    case 'nan': return NaN
    case 'infinity': case '+infinity': case 'inf': return Infinity
    case '-infinity': case '-inf': return -Infinity
  }
  const m = DECIMAL.exec(t)
  if (m === null || (m[2] === '' && (m[3] ?? '') === '')) throw new RangeError(`not a number: ${JSON.stringify(text)}`)
  if (width === 64) return Number(t)
  const digits = BigInt(`${m[2]}${m[3] ?? ''}` || '0')
  const scale = Number(m[4] ?? '0') - (m[3] ?? '').length
  const negative = m[1] === '-'
  if (digits === 0n) return negative ? -0 : 0
  // Far outside f32's range either way; keeps the bigints small.
  if (scale + digits.toString().length > 60) return negative ? -Infinity : Infinity
  if (scale + digits.toString().length < -60) return negative ? -0 : 0
  const value = scale >= 0 ? nearest(digits * 10n ** BigInt(scale), 1n, 32) : nearest(digits, 10n ** BigInt(-scale), 32)
  return negative ? -value : value
}

/** Text PostgreSQL parses back to exactly `x` (the shortest round-trip form; keeps -0, NaN and the infinities). */
export function floatText (x: number): string {
  if (Number.isNaN(x)) return 'NaN'
  if (x === Infinity) return 'Infinity'
  if (x === -Infinity) return '-Infinity'
  if (x === 0) return Object.is(x, -0) ? '-0' : '0'
  return String(x)
}
