import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  AdvertError, advertTopic, decodeAdvert, decodeAdvertList, decodeRelayedList, decodeSignedAdvert, defaultAdvertLimits, encodeAdvert,
  encodeAdvertList, encodeRelayedList, encodeSignedAdvert, isComponentName, isLatticeName, latticeWit
} from '../../protocol/advert.ts'
import { parseInterfaceId } from '../../protocol/versions.ts'
import type { Advert, AdvertProblem } from '../../protocol/advert.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import { decodeValue, encodeValue } from '../../protocol/value.ts'
import { parseWit } from '../../protocol/wit/index.ts'
import type { Type } from '../../protocol/wit/model.ts'

const PEER = '12D3KooWGRUVh9gYdAsD3q7BfC2h5Qhqzv6FQY6n1qAvYZwCn7Zs'
const DIGEST = 'ab'.repeat(32)

function advert (over: Partial<Advert> = {}): Advert {
  return {
    peer: PEER,
    seq: 1_700_000_000_000n,
    lattice: 'default',
    addresses: ['/ip4/127.0.0.1/tcp/4001/p2p/' + PEER],
    labels: { zone: 'eu-1', gpu: 'no' },
    exports: [
      { iface: 'local:demo/upper@0.1.0', digest: DIGEST, capacity: 4, load: 1 },
      { iface: 'wasi:keyvalue/store@0.2.0-draft', digest: 'cd'.repeat(32), capacity: 8, load: 0 }
    ],
    ttlMs: 30_000,
    withdrawn: false,
    ...over
  }
}

/** Encodes a raw advert record as a (possibly hostile) peer could, bypassing encodeAdvert's checks. */
function rawAdvert (fields: Record<string, unknown>): Uint8Array {
  const type = parseWit({ 'lattice.wit': latticeWit }).findInterface('wasmesh:lattice/adverts@0.1.0')!.types.get('advert') as Type
  const a = advert()
  return encodeValue(type, {
    peer: a.peer,
    seq: a.seq,
    lattice: a.lattice,
    addresses: a.addresses,
    labels: Object.entries(a.labels),
    exports: a.exports.map(e => ({ interface: e.iface, digest: e.digest, capacity: e.capacity, load: e.load })),
    ttlMs: a.ttlMs,
    withdrawn: a.withdrawn,
    ...fields
  })
}

function problemOf (fn: () => unknown): AdvertProblem | undefined {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(AdvertError)
    expect(err).toBeInstanceOf(ProtocolError)
    expect((err as ProtocolError).code).toBe('invalid-advert')
    return (err as AdvertError).problem
  }
  return undefined
}

describe('the advert WIT', () => {
  it('is wit/lattice/lattice.wit byte for byte', () => {
    const file = readFileSync(new URL('../../wit/lattice/lattice.wit', import.meta.url), 'utf8')
    expect(latticeWit).toBe(file)
  })

  it('defines the four records of wasmesh:lattice/adverts@0.1.0', () => {
    const iface = parseWit({ 'lattice.wit': latticeWit }).findInterface('wasmesh:lattice/adverts@0.1.0')
    expect([...iface!.types.keys()]).toEqual(['export-entry', 'advert', 'signed-advert', 'relayed-advert'])
  })
})

describe('encodeAdvert / decodeAdvert', () => {
  it('round-trips an advert, labels included', () => {
    const a = advert()
    expect(decodeAdvert(encodeAdvert(a))).toEqual(a)
  })

  it('round-trips a withdrawal with no exports, and the largest seq', () => {
    const a = advert({ exports: [], withdrawn: true, seq: 0xffff_ffff_ffff_ffffn, labels: {}, addresses: [] })
    expect(decodeAdvert(encodeAdvert(a))).toEqual(a)
  })

  it('encodes the same advert to the same bytes whatever the label order', () => {
    expect(encodeAdvert(advert({ labels: { a: '1', b: '2' } }))).toEqual(encodeAdvert(advert({ labels: { b: '2', a: '1' } })))
  })

  it('keeps a label named __proto__ as a plain label', () => {
    const decoded = decodeAdvert(rawAdvert({ labels: [['__proto__', 'x']] }))
    expect(Object.hasOwn(decoded.labels, '__proto__')).toBe(true)
    expect(Object.getPrototypeOf(decoded.labels)).toBe(Object.prototype)
  })

  it('round-trips arbitrary valid adverts', () => {
    const word = fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/)
    const arb = fc.record({
      peer: fc.stringMatching(/^[1-9A-HJ-NP-Za-km-z]{1,60}$/),
      seq: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
      lattice: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/),
      addresses: fc.array(fc.string().map(s => '/' + s + 'x'), { maxLength: 4 }),
      labels: fc.dictionary(fc.string({ minLength: 1 }).filter(k => !k.startsWith('wasmesh.')), fc.string(), { maxKeys: 4 }),
      exports: fc.array(fc.record({
        iface: fc.tuple(word, word, word, fc.option(fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20)), { nil: undefined }))
          .map(([n, p, i, v]) => `${n}:${p}/${i}` + (v === undefined ? '' : `@${v.join('.')}`)),
        digest: fc.stringMatching(/^[0-9a-f]{64}$/),
        capacity: fc.nat(0xffff_ffff),
        load: fc.nat(0xffff_ffff)
      }), { maxLength: 5 }),
      ttlMs: fc.nat(0xffff_ffff),
      withdrawn: fc.boolean()
    })
    fc.assert(fc.property(arb, a => {
      expect(decodeAdvert(encodeAdvert(a))).toEqual(a)
    }), { seed: 4, numRuns: 200 })
  })

  it.each<[string, Record<string, unknown>, AdvertProblem]>([
    ['an empty peer id', { peer: '' }, 'peer'],
    ['a peer id that is not base58btc', { peer: 'peer/0' }, 'peer'],
    ['an empty lattice', { lattice: '' }, 'lattice'],
    ['a lattice with a slash', { lattice: 'a/b' }, 'lattice'],
    ['a lattice starting with a dot', { lattice: '.x' }, 'lattice'],
    ['a lattice over 64 characters', { lattice: 'x'.repeat(65) }, 'lattice'],
    ['an address that is not a multiaddr', { addresses: ['127.0.0.1:4001'] }, 'address'],
    ['an export id without a package', { exports: [{ interface: 'upper', digest: DIGEST, capacity: 1, load: 0 }] }, 'interface'],
    ['an export id with a bad version', { exports: [{ interface: 'a:b/c@1.2', digest: DIGEST, capacity: 1, load: 0 }] }, 'interface'],
    ['an export id with an uppercase-mixed word', { exports: [{ interface: 'a:b/Upper@1.0.0', digest: DIGEST, capacity: 1, load: 0 }] }, 'interface'],
    ['a short digest', { exports: [{ interface: 'a:b/c', digest: 'ab'.repeat(31), capacity: 1, load: 0 }] }, 'digest'],
    ['an uppercase digest', { exports: [{ interface: 'a:b/c', digest: 'AB'.repeat(32), capacity: 1, load: 0 }] }, 'digest'],
    ['a digest that is not hex', { exports: [{ interface: 'a:b/c', digest: 'zz'.repeat(32), capacity: 1, load: 0 }] }, 'digest'],
    ['an empty label key', { labels: [['', 'x']] }, 'label'],
    ['a repeated label key', { labels: [['zone', 'a'], ['zone', 'b']] }, 'label']
  ])('refuses %s', (_name, fields, problem) => {
    expect(problemOf(() => decodeAdvert(rawAdvert(fields)))).toBe(problem)
  })

  it('refuses what does not decode as the record, with the codec error as cause', () => {
    const bytes = encodeAdvert(advert())
    for (const bad of [bytes.subarray(0, bytes.length - 1), new Uint8Array([...bytes, 0]), new Uint8Array(0), new Uint8Array([0xff, 0xff, 0xff])]) {
      expect(problemOf(() => decodeAdvert(bad))).toBe('malformed')
    }
    try {
      decodeAdvert(new Uint8Array([...bytes, 0]))
    } catch (err) {
      expect(((err as Error).cause as ProtocolError).code).toBe('trailing-bytes')
    }
    // withdrawn must be 0 or 1
    const flipped = bytes.slice()
    flipped[flipped.length - 1] = 2
    expect(problemOf(() => decodeAdvert(flipped))).toBe('malformed')
  })

  it('refuses more exports than maxAdvertExports, on decode and on encode', () => {
    const many = Array.from({ length: 5 }, (_, i) => ({ iface: `a:b/c${'x'.repeat(i)}`, digest: DIGEST, capacity: 1, load: 0 }))
    const bytes = encodeAdvert(advert({ exports: many }))
    expect(problemOf(() => decodeAdvert(bytes, { maxAdvertExports: 4 }))).toBe('too-many-exports')
    expect(problemOf(() => encodeAdvert(advert({ exports: many }), { maxAdvertExports: 4 }))).toBe('too-many-exports')
    expect(decodeAdvert(bytes, { maxAdvertExports: 5 }).exports).toHaveLength(5)
  })

  it('refuses adverts over maxAdvertBytes before decoding, and will not encode one', () => {
    const bytes = encodeAdvert(advert())
    expect(problemOf(() => decodeAdvert(bytes, { maxAdvertBytes: bytes.length - 1 }))).toBe('too-large')
    expect(decodeAdvert(bytes, { maxAdvertBytes: bytes.length }).peer).toBe(PEER)
    expect(problemOf(() => encodeAdvert(advert(), { maxAdvertBytes: bytes.length - 1 }))).toBe('too-large')
    const big = advert({ labels: { blob: 'x'.repeat(defaultAdvertLimits.maxAdvertBytes) } })
    expect(problemOf(() => encodeAdvert(big))).toBe('too-large')
  })

  it('refuses on encode what a receiver would refuse', () => {
    expect(problemOf(() => encodeAdvert(advert({ peer: '' })))).toBe('peer')
    expect(problemOf(() => encodeAdvert(advert({ lattice: 'a b' })))).toBe('lattice')
    expect(problemOf(() => encodeAdvert(advert({ labels: { '': 'x' } })))).toBe('label')
    expect(problemOf(() => encodeAdvert(advert({ exports: [{ iface: 'a:b/c', digest: 'x', capacity: 1, load: 0 }] })))).toBe('digest')
  })

  it('has the documented default limits', () => {
    expect(defaultAdvertLimits).toMatchObject({ maxAdvertBytes: 65536, maxAdvertExports: 1024, maxAdvertsPerSync: 4096, maxComponentNameBytes: 64 })
  })
})

describe('component names and clients (reserved labels)', () => {
  const named = (): Advert => advert({
    exports: [
      { iface: 'local:demo/upper@0.1.0', digest: DIGEST, capacity: 4, load: 1, name: 'upper' },
      { iface: 'local:demo/lower@0.1.0', digest: DIGEST, capacity: 4, load: 0, name: 'upper' },
      { iface: 'wasi:keyvalue/store@0.2.0-draft', digest: 'cd'.repeat(32), capacity: 8, load: 0 }
    ]
  })

  it('round-trips the name of each export\'s component and the client flag, apart from the labels', () => {
    const a = { ...named(), client: true }
    const back = decodeAdvert(encodeAdvert(a))
    expect(back).toEqual(a)
    expect(back.labels).toEqual({ zone: 'eu-1', gpu: 'no' })
  })

  it('stays a 0.1.0 advert on the wire: a node that knows no names reads them as labels, and its adverts still decode', () => {
    const bytes = encodeAdvert({ ...named(), client: true })
    const type = parseWit({ 'lattice.wit': latticeWit }).findInterface('wasmesh:lattice/adverts@0.1.0')!.types.get('advert') as Type
    // what an old node's decoder (the same record, no reserved keys) makes of it
    const old = decodeValue(type, bytes, { root: 'advert' }) as { labels: Array<[string, string]> }
    expect(old.labels).toEqual([['gpu', 'no'], ['wasmesh.name.' + DIGEST, 'upper'], ['wasmesh.role', 'client'], ['zone', 'eu-1']])
    // an old node's advert: no names, not a client
    const plain = decodeAdvert(rawAdvert({}))
    expect(plain.client).toBeUndefined()
    expect(plain.exports.every(e => e.name === undefined)).toBe(true)
  })

  it('ignores reserved keys it does not know and names of digests nobody exports', () => {
    const back = decodeAdvert(rawAdvert({ labels: [['wasmesh.future', 'x'], ['wasmesh.name.' + 'ef'.repeat(32), 'ghost'], ['zone', 'a']] }))
    expect(back.labels).toEqual({ zone: 'a' })
    expect(back.exports.map(e => e.name)).toEqual([undefined, undefined])
  })

  it.each([
    ['an empty name', ''],
    ['a name with a space', 'my component'],
    ['a name with a control character', 'up\u001b[2Jper'],
    ['a name starting with a dot', '.upper'],
    ['a name over maxComponentNameBytes', 'x'.repeat(65)]
  ])('refuses %s, on decode and on encode', (_what, name) => {
    expect(problemOf(() => decodeAdvert(rawAdvert({ labels: [['wasmesh.name.' + DIGEST, name]] })))).toBe('name')
    expect(problemOf(() => encodeAdvert(advert({ exports: [{ iface: 'a:b/c', digest: DIGEST, capacity: 1, load: 0, name }] })))).toBe('name')
  })

  it('takes maxComponentNameBytes from the limits, and isComponentName says what fits', () => {
    const a = advert({ exports: [{ iface: 'a:b/c', digest: DIGEST, capacity: 1, load: 0, name: 'counter' }] })
    expect(problemOf(() => decodeAdvert(encodeAdvert(a), { maxComponentNameBytes: 6 }))).toBe('name')
    expect(isComponentName('counter')).toBe(true)
    expect(isComponentName('counter', { maxComponentNameBytes: 6 })).toBe(false)
    expect(isComponentName('a/b')).toBe(false)
  })

  it('refuses a user label in the reserved namespace and two names for one digest', () => {
    expect(problemOf(() => encodeAdvert(advert({ labels: { 'wasmesh.role': 'client' } })))).toBe('name')
    expect(problemOf(() => encodeAdvert(advert({
      exports: [{ iface: 'a:b/c', digest: DIGEST, capacity: 1, load: 0, name: 'one' }, { iface: 'a:b/d', digest: DIGEST, capacity: 1, load: 0, name: 'two' }]
    })))).toBe('name')
  })
})

describe('signed adverts and sync replies', () => {
  const sig = new Uint8Array(64).fill(7)

  it('round-trips an envelope', () => {
    const bytes = encodeAdvert(advert())
    const env = encodeSignedAdvert({ advert: bytes, signature: sig })
    const back = decodeSignedAdvert(env)
    expect(back.advert).toEqual(bytes)
    expect(back.signature).toEqual(sig)
    expect(decodeAdvert(back.advert)).toEqual(advert())
  })

  it('refuses an empty signature, an oversized one, an oversized advert, and garbage', () => {
    const bytes = encodeAdvert(advert())
    expect(problemOf(() => encodeSignedAdvert({ advert: bytes, signature: new Uint8Array(0) }))).toBe('signature')
    expect(problemOf(() => encodeSignedAdvert({ advert: bytes, signature: new Uint8Array(257) }))).toBe('too-large')
    const env = encodeSignedAdvert({ advert: bytes, signature: sig })
    expect(problemOf(() => decodeSignedAdvert(env, { maxAdvertBytes: bytes.length - 1 }))).toBe('too-large')
    expect(problemOf(() => decodeSignedAdvert(env, { maxSignatureBytes: 63 }))).toBe('too-large')
    expect(problemOf(() => decodeSignedAdvert(env.subarray(0, env.length - 1)))).toBe('malformed')
    expect(problemOf(() => decodeSignedAdvert(new Uint8Array(300_000)))).toBe('too-large')
  })

  it('round-trips a sync reply of envelopes, unchanged', () => {
    const envs = [1n, 2n, 3n].map(seq => encodeSignedAdvert({ advert: encodeAdvert(advert({ seq })), signature: sig }))
    const reply = encodeAdvertList(envs)
    const back = decodeAdvertList(reply)
    expect(back).toEqual(envs)
    expect(back.map(e => decodeAdvert(decodeSignedAdvert(e).advert).seq)).toEqual([1n, 2n, 3n])
    expect(decodeAdvertList(encodeAdvertList([]))).toEqual([])
  })

  it('is list<signed-advert> as the value codec encodes it', () => {
    const wit = parseWit({ 'lattice.wit': latticeWit })
    const signed = wit.findInterface('wasmesh:lattice/adverts@0.1.0')!.types.get('signed-advert') as Type
    const item = { advert: encodeAdvert(advert()), signature: sig }
    expect(encodeAdvertList([encodeSignedAdvert(item)])).toEqual(encodeValue({ kind: 'list', element: signed }, [item]))
  })

  it('round-trips a 1.1.0 sync reply as list<relayed-advert>: each envelope unchanged behind its age', () => {
    const wit = parseWit({ 'lattice.wit': latticeWit })
    const relayed = wit.findInterface('wasmesh:lattice/adverts@0.1.0')!.types.get('relayed-advert') as Type
    const item = { advert: encodeAdvert(advert()), signature: sig }
    const env = encodeSignedAdvert(item)
    const reply = encodeRelayedList([{ ageMs: 0, envelope: env }, { ageMs: 1234.7, envelope: env }, { ageMs: 2 ** 40, envelope: env }])
    expect(reply).toEqual(encodeValue({ kind: 'list', element: relayed }, [
      { ageMs: 0, signed: item }, { ageMs: 1234, signed: item }, { ageMs: 0xffff_ffff, signed: item }
    ]))
    expect(decodeRelayedList(reply)).toEqual([{ ageMs: 0, envelope: env }, { ageMs: 1234, envelope: env }, { ageMs: 0xffff_ffff, envelope: env }])
    expect(problemOf(() => decodeRelayedList(reply, { maxAdvertsPerSync: 2 }))).toBe('too-many-adverts')
    expect(problemOf(() => decodeRelayedList(reply.subarray(0, reply.length - 1)))).toBe('malformed')
    // a 1.0.0 reply is not a 1.1.0 one
    expect(problemOf(() => decodeRelayedList(encodeAdvertList([env])))).toBe('malformed')
  })

  it('refuses more than maxAdvertsPerSync, over maxSyncBytes, a bad item and trailing bytes', () => {
    const env = encodeSignedAdvert({ advert: encodeAdvert(advert()), signature: sig })
    const three = encodeAdvertList([env, env, env])
    expect(problemOf(() => encodeAdvertList([env, env, env], { maxAdvertsPerSync: 2 }))).toBe('too-many-adverts')
    expect(problemOf(() => decodeAdvertList(three, { maxAdvertsPerSync: 2 }))).toBe('too-many-adverts')
    expect(problemOf(() => encodeAdvertList([env, env, env], { maxSyncBytes: three.length - 1 }))).toBe('too-large')
    expect(problemOf(() => decodeAdvertList(three, { maxSyncBytes: three.length - 1 }))).toBe('too-large')
    expect(problemOf(() => decodeAdvertList(new Uint8Array([...three, 9])))).toBe('malformed')
    expect(problemOf(() => decodeAdvertList(three.subarray(0, three.length - 3)))).toBe('malformed')
    // a count far beyond what follows fails without allocating for it
    expect(problemOf(() => decodeAdvertList(new Uint8Array([0x80, 0x20])))).toBe('malformed')
    const noSig = encodeValue({ kind: 'list', element: { kind: 'u8' } }, encodeAdvert(advert()))
    expect(problemOf(() => decodeAdvertList(new Uint8Array([1, ...noSig, 0])))).toBe('signature')
  })
})

describe('names', () => {
  it('checks lattice names', () => {
    for (const ok of ['default', 'prod-eu', 'a', 'x.y_z', '0', 'L'.repeat(64)]) expect(isLatticeName(ok), ok).toBe(true)
    for (const bad of ['', '-a', 'a/b', 'a b', 'é', 'L'.repeat(65)]) expect(isLatticeName(bad), bad).toBe(false)
    expect(advertTopic('default')).toBe('/wasmesh/default/adverts/1')
  })

  it('parses interface ids with and without versions', () => {
    expect(parseInterfaceId('wasi:keyvalue/store@0.2.0-draft')).toEqual({
      namespace: 'wasi', package: 'keyvalue', name: 'store', version: '0.2.0-draft', unversioned: 'wasi:keyvalue/store'
    })
    expect(parseInterfaceId('a:b/c')).toEqual({ namespace: 'a', package: 'b', name: 'c', unversioned: 'a:b/c' })
    expect(parseInterfaceId('a:b/get-HTTP@1.0.0+build.5')?.version).toBe('1.0.0+build.5')
    for (const bad of ['a:b', 'a/b', 'a:b/c@', 'a:b/c@01.0.0', 'a:b/c@1.0', 'a:b/-c', 'a:b/c/d', 'a:b/c@1.0.0-']) {
      expect(parseInterfaceId(bad), bad).toBeUndefined()
    }
  })
})
