// The trust file's parser and the refusal log: strict, line-numbered, bounded, and no log flood whatever an attacker sends.

import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAllowList, createRefusals, parseTrustFile, readTrustFile } from '../../../node/security/index.ts'
import { createLogger } from '../../../node/logger.ts'
import { scratchDir } from '../../support/scratch.ts'
import type { ScratchDir } from '../../support/scratch.ts'

const a = '12D3KooWQ8efjLNtpUov2f4H1Nty9LyAydCMvhEVUZzcg1KDZY82'
const b = '12D3KooWGfh4KTaPmuN8GuQbShJ9EcQkd9sWLexi25YxpAAqgPXk'

let scratch: ScratchDir
beforeAll(async () => { scratch = await scratchDir('trust') })
afterAll(async () => { await scratch?.remove() })

describe('parseTrustFile', () => {
  it('reads peers with optional labels; an empty file or list allows no one', () => {
    expect(parseTrustFile(`peers:\n  - id: ${a}\n    labels: {zone: eu-1, tier: 2, db: true}\n  - id: ${b}\n`)).toEqual([
      { id: a, labels: { zone: 'eu-1', tier: '2', db: 'true' } },
      { id: b, labels: {} }
    ])
    expect(parseTrustFile('')).toEqual([])
    expect(parseTrustFile('peers: []\n')).toEqual([])
    expect(parseTrustFile('peers:\n')).toEqual([])
  })

  it.each([
    ['not a mapping', '- a\n- b\n', /:1: a trust file is a mapping/],
    ['an unknown top-level key', `peers: []\nadmins: []\n`, /:2: unknown key "admins": the only key is peers/],
    ['peers not a list', 'peers: yes\n', /:1: peers: must be a list/],
    ['a peer that is not a mapping', `peers:\n  - ${a}\n`, /:2: each peer is a mapping/],
    ['no id', `peers:\n  - labels: {a: b}\n`, /:2: a peer needs id/],
    ['a bad id', `peers:\n  - id: 12D3KooWnope\n`, /:2: "12D3KooWnope" is not a peer id/],
    ['an id that is a number', `peers:\n  - id: 42\n`, /:2: id: must be a peer id/],
    ['an unknown key of a peer', `peers:\n  - id: ${a}\n    role: db\n`, /:3: unknown key "role" of a peer/],
    ['labels not a mapping', `peers:\n  - id: ${a}\n    labels: [a, b]\n`, /:3: labels: must be a mapping/],
    ['a label whose value is a list', `peers:\n  - id: ${a}\n    labels:\n      zone: [a]\n`, /:4: label zone: its value must be text/],
    ['a peer listed twice', `peers:\n  - id: ${a}\n  - id: ${b}\n  - id: ${a}\n`, /:4: peer .* is listed twice \(also on line 2\)/],
    ['a YAML syntax error', 'peers: [\n', /:\d+: /],
    ['a duplicate key', 'peers: []\npeers: []\n', /:\d+: /],
    ['deep nesting', `peers: ${'['.repeat(5000)}${']'.repeat(5000)}\n`, /trust/]
  ])('refuses %s with the line', (_what, text, message) => {
    expect(() => parseTrustFile(text, 'trust.yaml')).toThrow(expect.objectContaining({ code: 'bad-trust-file', message: expect.stringMatching(message) }))
  })

  it('enforces its bounds: peers, labels per peer, label length', () => {
    const many = `peers:\n${Array.from({ length: 3 }, () => `  - id: ${a}\n`).join('')}`
    expect(() => parseTrustFile(many, 't', { maxTrustedPeers: 2 })).toThrow(/more than 2 peers \(maxTrustedPeers\)/)
    expect(() => parseTrustFile(`peers:\n  - id: ${a}\n    labels: {a: 1, b: 2, c: 3}\n`, 't', { maxTrustedLabelsPerPeer: 2 })).toThrow(/more than 2 labels/)
    expect(() => parseTrustFile(`peers:\n  - id: ${a}\n    labels: {zone: ${'x'.repeat(300)}}\n`, 't')).toThrow(/longer than 256 characters/)
  })

  it('a file past maxTrustFileBytes is refused unread; binary garbage is not a trust file', async () => {
    const huge = join(scratch.path, 'huge.yaml')
    await writeFile(huge, 'peers: []\n' + '#'.repeat(2 * 1024 * 1024))
    await expect(readTrustFile(huge)).rejects.toMatchObject({ code: 'bad-trust-file', message: expect.stringMatching(/more than a trust file can be \(1048576\)/) })
    const garbage = join(scratch.path, 'garbage.yaml')
    await writeFile(garbage, new Uint8Array([0xff, 0xfe, 0x00, 0x80]))
    await expect(readTrustFile(garbage)).rejects.toMatchObject({ code: 'bad-trust-file' })
    await expect(readTrustFile(join(scratch.path, 'none.yaml'))).rejects.toMatchObject({ code: 'key-file-missing' })
  })
})

describe('createAllowList', () => {
  it('is the union of ids and trust-file peers; the file gives the labels', () => {
    const list = createAllowList([a], [{ id: b, labels: { zone: 'x' } }])
    expect(list.allows(a) && list.allows(b)).toBe(true)
    expect(list.allows('12D3KooWother')).toBe(false)
    expect(list.trustedLabels(a)).toEqual({})
    expect(list.trustedLabels(b)).toEqual({ zone: 'x' })
    expect(() => createAllowList(['nope'])).toThrow(/is not a peer id/)
  })
})

describe('the refusal log', () => {
  it('counts every refusal but logs one line per remote per minute, and at most the node budget over all remotes', () => {
    let now = 0
    const lines: string[] = []
    const refusals = createRefusals({ log: createLogger({ level: 'debug', format: 'text', write: l => { lines.push(l) } }), clock: () => now, limits: { maxRefusalLogsPerMinute: 5 } })
    for (let i = 0; i < 100; i++) refusals.refused('lattice-key', '/ip4/192.0.2.1', 'x')
    expect(lines).toHaveLength(1)
    // an attacker with many addresses: the node's budget holds
    for (let i = 0; i < 100; i++) refusals.refused('no-lattice-key', `/ip4/192.0.2.${i}`, 'y')
    expect(lines).toHaveLength(5)
    expect(refusals.counts()).toEqual({ 'lattice-key': 100, 'no-lattice-key': 100 })
    now += 60_000
    refusals.refused('lattice-key', '/ip4/192.0.2.1', 'z')
    expect(lines).toHaveLength(6)
  })
})
