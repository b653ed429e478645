// Fuzzes every decoder that reads bytes or text from outside: random and mutated input must give a typed error or a value, never a crash.

import fc from 'fast-check'
import { concat } from '../support/bytes.ts'
import { createPrng } from '../../simulations/prng.ts'
import { decodeAdvert, decodeAdvertList, decodeRelayedList, decodeSignedAdvert, encodeAdvert, encodeAdvertList, encodeRelayedList, encodeSignedAdvert } from '../../protocol/advert.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import { encodeFrame, encodeOpening, FrameDecoder } from '../../protocol/frame.ts'
import { decodeValue, encodeValue } from '../../protocol/value.ts'
import { parseWave, printWave } from '../../protocol/wave.ts'
import { parseWit, printType, WitResolveError, WitSyntaxError } from '../../protocol/wit/index.ts'
import { arbTypedValue } from '../support/arbitrary.ts'

/** Tight limits, so that an input which slips past one shows up as an error rather than as memory use. */
const limits = { maxValueBytes: 1 << 20, maxListLength: 1 << 16, maxDepth: 32 }
const frameLimits = { maxFrameBytes: 1 << 16, maxPathDepth: 32, maxHeaderBytes: 1024 }

export interface FuzzFinding {
  readonly target: string
  readonly input: string
  readonly error: string
}

export interface FuzzReport {
  readonly cases: number
  readonly byTarget: Record<string, number>
  readonly findings: FuzzFinding[]
}

export interface FuzzOptions {
  readonly seed: number
  /** Stop after this many cases... */
  readonly cases?: number
  /** ...or at this time (ms since the epoch), whichever comes first. */
  readonly until?: number
  readonly onProgress?: (report: FuzzReport) => void
}

/** A seeded generator (the simulations' own), so that a seed replays the same run. */
function rng (seed: number): () => number {
  const prng = createPrng(seed)
  return () => prng.next()
}

/** Flips, inserts, deletes, truncates and overwrites with interesting bytes (0x00, 0x7f, 0x80, 0xff: LEB128 edges). */
function mutate (bytes: Uint8Array, random: () => number): Uint8Array {
  const out = Array.from(bytes)
  const n = 1 + Math.floor(random() * 4)
  for (let i = 0; i < n; i++) {
    const at = Math.floor(random() * (out.length + 1))
    switch (Math.floor(random() * 5)) {
      case 0: if (out.length > 0) out[at % out.length] ^= 1 << Math.floor(random() * 8); break
      case 1: out.splice(at, 0, [0x00, 0x7f, 0x80, 0xff][Math.floor(random() * 4)]); break
      case 2: out.splice(at, 1); break
      case 3: out.length = at; break
      default: out.splice(at, 0, 0xff, 0xff, 0xff, 0xff, 0x0f)
    }
  }
  return Uint8Array.from(out)
}

function randomBytes (random: () => number, max: number): Uint8Array {
  const out = new Uint8Array(Math.floor(random() * max))
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(random() * 256)
  return out
}

function hex (b: Uint8Array): string {
  return Array.from(b.subarray(0, 256), x => x.toString(16).padStart(2, '0')).join('')
}

const typed = (err: unknown): boolean => err instanceof ProtocolError || err instanceof WitSyntaxError || err instanceof WitResolveError

const witSeed = `package fuzz:seed@1.0.0;
interface api {
  record point { x: s32, y: s32 }
  variant shape { circle(u32), square(point), none }
  flags perms { read, write }
  enum color { red, green }
  resource blob { constructor(data: list<u8>); size: func() -> u64; }
  area: func(s: shape) -> result<f64, string>;
}
world w { export api; import f: func(a: option<list<tuple<u8, char>>>); }`

const advertEnvelope = encodeSignedAdvert({
  advert: encodeAdvert({
    peer: '12D3KooWSx72XVbLHxJifNBwaKuSea4o4VHU6jbJa1gmSbfVf6ag',
    seq: 1764000000000n,
    lattice: 'default',
    addresses: ['/ip4/127.0.0.1/tcp/4001'],
    labels: { zone: 'a' },
    exports: [{ iface: 'local:demo/upper@1.0.0', digest: 'ab'.repeat(32), capacity: 4, load: 1 }],
    ttlMs: 30_000,
    withdrawn: false
  }),
  signature: new Uint8Array(64).fill(7)
})
const advertSeed = encodeAdvertList([advertEnvelope])
/** The same record as a `/sync/1.1.0` reply: each envelope behind its age. */
const relayedSeed = encodeRelayedList([{ ageMs: 1_500, envelope: advertEnvelope }])

/** Runs the fuzz targets in turn until `cases` or `until`; every unexpected exception is a finding. */
export function fuzz (opts: FuzzOptions): FuzzReport {
  const random = rng(opts.seed)
  const samples = fc.sample(arbTypedValue({ maxDepth: 4, async: false }), { seed: opts.seed, numRuns: 200 })
  const byTarget: Record<string, number> = { value: 0, frame: 0, wave: 0, wit: 0, advert: 0 }
  const findings: FuzzFinding[] = []
  const report: FuzzReport = { cases: 0, byTarget, findings }
  const check = (target: string, input: string, run: () => unknown): void => {
    byTarget[target]++
    ;(report as { cases: number }).cases++
    try {
      run()
    } catch (err) {
      if (!typed(err)) findings.push({ target, input, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) })
    }
  }
  const maxCases = opts.cases ?? Number.POSITIVE_INFINITY
  const until = opts.until ?? Number.POSITIVE_INFINITY
  let round = 0
  while (report.cases < maxCases && Date.now() < until) {
    round++
    const { type, value } = samples[Math.floor(random() * samples.length)]
    const encoded = encodeValue(type, value)

    // Values: mutated encodings of a random type, and pure noise, into the decoder.
    const bytes = random() < 0.8 ? mutate(encoded, random) : randomBytes(random, 64)
    check('value', `${printType(type)} ${hex(bytes)}`, () => decodeValue(type, bytes, { limits }))

    // Frames: a header and frames, mutated, fed in random chunks.
    const stream = mutate(concat(encodeOpening({ instance: 'fuzz:x/y', name: 'f' }, encoded), encodeFrame([0, 1], encoded)), random)
    check('frame', hex(stream), () => {
      const d = new FrameDecoder({ header: true, limits: frameLimits })
      for (let at = 0; at < stream.length;) {
        const end = at + 1 + Math.floor(random() * 16)
        d.push(stream.subarray(at, end))
        while (d.next() !== undefined) { /* drain */ }
        at = end
      }
      d.finish()
    })

    // WAVE: printed values with characters changed, inserted or dropped.
    const text = mutateText(printWave(type, value), random)
    check('wave', `${printType(type)} ${JSON.stringify(text)}`, () => parseWave(type, text))

    // Adverts: a signed sync reply (1.0.0 and 1.1.0 in turn), mutated, through every advert decoder a peer's bytes reach.
    const aged = round % 2 === 1
    const reply = mutate(aged ? relayedSeed : advertSeed, random)
    check('advert', hex(reply), () => {
      const envelopes = aged ? decodeRelayedList(reply).map(r => r.envelope) : decodeAdvertList(reply)
      for (const envelope of envelopes) decodeAdvert(decodeSignedAdvert(envelope).advert)
    })

    // WIT: a realistic package with characters changed.
    if (round % 8 === 0) {
      const wit = mutateText(witSeed, random)
      check('wit', JSON.stringify(wit), () => parseWit({ 'fuzz.wit': wit }))
    }
    if (round % 1000 === 0) opts.onProgress?.(report)
  }
  return report
}

function mutateText (text: string, random: () => number): string {
  const chars = [...text]
  const alphabet = ['{', '}', '(', ')', '<', '>', ',', ':', '"', "'", '\\', '%', '-', '0', '9', 'a', ' ', '\n', '/', '*', '@', '\u{1F600}', '\uD800']
  const n = 1 + Math.floor(random() * 3)
  for (let i = 0; i < n; i++) {
    const at = Math.floor(random() * (chars.length + 1))
    const r = random()
    if (r < 0.4) chars.splice(at, 1)
    else if (r < 0.8) chars.splice(at, 0, alphabet[Math.floor(random() * alphabet.length)])
    else chars.length = at
  }
  return chars.join('')
}

