// The policy file: what it means, and every bad file refused as bad-policy naming its line.

import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { decideCall, decideServe, loadPolicyFile, parsePolicy } from '../../../node/security/index.ts'
import { scratchDir } from '../../support/scratch.ts'
import type { ScratchDir } from '../../support/scratch.ts'

let dir: ScratchDir
let alice: string
let bob: string

beforeAll(async () => {
  dir = await scratchDir('policy-file')
  alice = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  bob = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
})
afterAll(async () => { await dir?.remove() })

function refusal (text: string): string {
  try {
    parsePolicy(text, 'p.yaml')
  } catch (err) {
    expect((err as { code: string }).code).toBe('bad-policy')
    return (err as Error).message
  }
  return 'parsed'
}

describe('the policy file', () => {
  it('compiles rules that decide calls in order, data providers default-deny, serves by rule', () => {
    const policy = parsePolicy(`
version: 1
default: allow
data: [acme:ledger/*]
rules:
  - name: no bob
    deny: call
    peers: [${bob}]
    interfaces: ["*"]
  - name: web reads kv
    allow: call
    peers: ["label:role=web,zone=eu"]
    interfaces: ["wasi:keyvalue/store#[method]bucket.get", "wasi:keyvalue/store#open"]
  - name: trusted kv
    allow: serve
    peers: [label:tier=cache, "peer:${alice}"]
    interfaces: [wasi:keyvalue/*]
`, 'p.yaml')
    const web = { role: 'web', zone: 'eu' }
    expect(decideCall(policy, alice, web, 'wasi:keyvalue/store@0.2.0-draft', 'open', true)).toEqual({ allowed: true, rule: 'web reads kv' })
    expect(decideCall(policy, alice, web, 'wasi:keyvalue/store@0.2.0-draft', '[method]bucket.set', true)).toEqual({ allowed: false, rule: 'default-deny-data' })
    // half a label set is not the set
    expect(decideCall(policy, alice, { role: 'web' }, 'wasi:keyvalue/store@0.2.0-draft', 'open', true).allowed).toBe(false)
    expect(decideCall(policy, bob, web, 'wasi:keyvalue/store@0.2.0-draft', 'open', true)).toEqual({ allowed: false, rule: 'no bob' })
    expect(decideCall(policy, alice, undefined, 'local:demo/upper', 'to-upper', false)).toEqual({ allowed: true, rule: 'default' })
    expect(decideCall(policy, alice, undefined, 'acme:ledger/books@1.0.0', 'post', false)).toEqual({ allowed: false, rule: 'default-deny-data' })
    expect(decideServe(policy, alice, undefined, 'wasi:keyvalue/store@0.2.0-draft')).toEqual({ allowed: true, rule: 'trusted kv' })
    expect(decideServe(policy, bob, { tier: 'cache' }, 'wasi:keyvalue/atomics@0.2.0-draft')).toEqual({ allowed: true, rule: 'trusted kv' })
    expect(decideServe(policy, bob, { tier: 'other' }, 'wasi:keyvalue/store@0.2.0-draft')).toEqual({ allowed: false, rule: 'default-deny-serve' })
    expect(decideServe(policy, bob, undefined, 'local:demo/upper')).toEqual({ allowed: true, rule: 'default' })
    expect(policy.rules[1].line).toBe(10)
  })

  it('matches a versioned pattern only that version, an unversioned one every version', () => {
    const policy = parsePolicy('default: deny\nrules:\n  - allow: call\n    peers: "*"\n    interfaces: [a:b/c@1.0.0, x:y/*]\n')
    expect(decideCall(policy, alice, undefined, 'a:b/c@1.0.0', 'f', false).allowed).toBe(true)
    expect(decideCall(policy, alice, undefined, 'a:b/c@2.0.0', 'f', false)).toEqual({ allowed: false, rule: 'default' })
    expect(decideCall(policy, alice, undefined, 'x:y/z@9.9.9', 'g', false)).toEqual({ allowed: true, rule: 'rule 1' })
  })

  it('refuses what it does not understand, naming the line', () => {
    expect(refusal('rules:\n  - allow: call\n    peers: "*"\n    interfaces: [a:b/c]\n    functions: [f]\n')).toMatch(/^p\.yaml:5: unknown rule key "functions"/)
    expect(refusal('version: 1\nrule: []\n')).toMatch(/^p\.yaml:2: unknown policy key "rule"/)
    expect(refusal('version: 2\n')).toMatch(/^p\.yaml:1: this node reads policy version 1/)
    expect(refusal('default: maybe\n')).toMatch(/^p\.yaml:1: default is allow or deny/)
    expect(refusal('rules:\n  - peers: "*"\n    interfaces: [a:b/c]\n')).toMatch(/^p\.yaml:2: rule 1 needs exactly one of allow: or deny:/)
    expect(refusal('rules:\n  - allow: call\n    deny: call\n    peers: "*"\n    interfaces: [a:b/c]\n')).toMatch(/exactly one of allow/)
    expect(refusal('rules:\n  - allow: control\n    peers: "*"\n    interfaces: ["*"]\n')).toMatch(/^p\.yaml:2: control rules are reserved for the control plane/)
    expect(refusal('rules:\n  - allow: dance\n    peers: "*"\n    interfaces: ["*"]\n')).toMatch(/call or serve/)
    expect(refusal('rules:\n  - allow: call\n    interfaces: ["*"]\n')).toMatch(/needs peers/)
    expect(refusal('rules:\n  - allow: call\n    peers: "*"\n')).toMatch(/needs interfaces/)
    expect(refusal('rules:\n  - allow: call\n    peers: [nobody]\n    interfaces: ["*"]\n')).toMatch(/^p\.yaml:3: peers: "nobody" is not "\*", a peer id or label:key=value/)
    expect(refusal('rules:\n  - allow: call\n    peers: ["label:role"]\n    interfaces: ["*"]\n')).toMatch(/label:key=value/)
    expect(refusal('rules:\n  - allow: call\n    peers: [label:a=b,c=d]\n    interfaces: ["*"]\n')).toMatch(/quote a selector with commas/)
    expect(refusal('rules:\n  - allow: call\n    peers: "*"\n    interfaces: ["a b"]\n')).toMatch(/^p\.yaml:4: interfaces: "a b" is not ns:pkg\/iface/)
    expect(refusal('rules:\n  - allow: call\n    peers: "*"\n    interfaces: []\n')).toMatch(/is empty/)
    expect(refusal('rules:\n  - allow: serve\n    peers: "*"\n    interfaces: ["a:b/c#f"]\n')).toMatch(/serve rule names interfaces, not functions/)
    expect(refusal('rules:\n  - name: x\n    allow: call\n    peers: "*"\n    interfaces: ["*"]\n  - name: x\n    allow: call\n    peers: "*"\n    interfaces: ["*"]\n')).toMatch(/^p\.yaml:6: two rules are named "x"/)
    expect(refusal('rules: {a: 1}\n')).toMatch(/rules is a list/)
    expect(refusal('- a\n- b\n')).toMatch(/^p\.yaml:1: a policy is a mapping/)
    expect(refusal('version: 1\nversion: 1\n')).toMatch(/^p\.yaml:2: /)
    expect(refusal('rules:\n  - allow: call\n    peers: &p ["*"]\n    interfaces: *p\n')).toMatch(/must be a string/)
  })

  it('refuses garbage, deep nesting, huge files and too many rules', async () => {
    expect(refusal('\u0000\u0001{{{[[[')).toMatch(/^p\.yaml:1: /)
    expect(refusal('rules: ' + '['.repeat(5000) + ']'.repeat(5000))).toMatch(/^p\.yaml/)
    expect(refusal('rules:\n' + '  - allow: call\n    peers: "*"\n    interfaces: ["*"]\n'.repeat(1025))).toMatch(/1025 rules, more than maxPolicyRules \(1024\)/)
    expect(refusal('data: [' + Array.from({ length: 257 }, (_, i) => `a:b/c${i}`).join(', ') + ']\n')).toMatch(/more than maxPolicyListItems \(256\)/)
    const huge = join(dir.path, 'huge.yaml')
    await writeFile(huge, `# ${'x'.repeat(300 * 1024)}\n`)
    await expect(loadPolicyFile(huge)).rejects.toMatchObject({ code: 'bad-policy', message: expect.stringMatching(/at most 262144 bytes \(maxPolicyFileBytes\)/) })
    const binary = join(dir.path, 'binary.yaml')
    await writeFile(binary, new Uint8Array([0xff, 0xfe, 0xfd]))
    await expect(loadPolicyFile(binary)).rejects.toMatchObject({ code: 'bad-policy', message: expect.stringMatching(/not UTF-8/) })
    await expect(loadPolicyFile(join(dir.path, 'missing.yaml'))).rejects.toMatchObject({ code: 'bad-policy', message: expect.stringMatching(/ENOENT/) })
    const good = join(dir.path, 'good.yaml')
    await writeFile(good, 'rules:\n  - allow: call\n    peers: "*"\n    interfaces: ["wasi:keyvalue/*"]\n')
    expect((await loadPolicyFile(good)).rules).toHaveLength(1)
    expect(parsePolicy('').rules).toEqual([])
  })
})
