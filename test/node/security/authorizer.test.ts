// The authorizer: verdicts cached and dropped, labels asked for only when a rule needs them, refusals counted within bounds.

import { describe, expect, it } from 'vitest'
import { createAuthorizer, parsePolicy } from '../../../node/security/index.ts'
import type { MemberLabels } from '../../../node/security/index.ts'

const policy = parsePolicy(`
rules:
  - name: web uses kv
    allow: call
    peers: ["label:role=web"]
    interfaces: [wasi:keyvalue/*]
  - name: cache serves kv
    allow: serve
    peers: ["label:tier=cache"]
    interfaces: [wasi:keyvalue/*]
`)
const KV = 'wasi:keyvalue/store@0.2.0-draft'

function setup (labels: Record<string, MemberLabels | Promise<MemberLabels | undefined>>) {
  const asked: string[] = []
  const authorizer = createAuthorizer({
    policy,
    labels: peer => { asked.push(`wait ${peer}`); return labels[peer] },
    labelsNow: peer => { asked.push(`now ${peer}`); const l = labels[peer]; return l instanceof Promise ? undefined : l },
    limits: { maxPolicyCacheEntries: 4 }
  })
  return { authorizer, asked }
}

describe('the authorizer', () => {
  it('asks for labels only when a rule about that interface needs them, and caches the verdict', async () => {
    const { authorizer, asked } = setup({ a: { role: 'web' } })
    expect(authorizer.call('a', 'local:demo/upper', 'to-upper', false)).toEqual({ allowed: true, rule: 'default' })
    expect(authorizer.serve('a', 'local:demo/upper')).toBe(true)
    expect(asked).toEqual([])
    expect(authorizer.call('a', KV, 'open', true)).toEqual({ allowed: true, rule: 'web uses kv' })
    expect(authorizer.call('a', KV, 'open', true)).toEqual({ allowed: true, rule: 'web uses kv' })
    expect(asked).toEqual(['wait a'])
    authorizer.changed('a')
    authorizer.call('a', KV, 'open', true)
    expect(asked).toEqual(['wait a', 'wait a'])
  })

  it('waits for labels being found out, and decides with what arrives', async () => {
    const pending = Promise.withResolvers<MemberLabels | undefined>()
    const { authorizer } = setup({ b: pending.promise })
    const verdict = authorizer.call('b', KV, 'open', true)
    expect(verdict).toBeInstanceOf(Promise)
    pending.resolve({ role: 'batch' })
    expect(await verdict).toEqual({ allowed: false, rule: 'default-deny-data' })
  })

  it('does not cache a serve refusal made for want of labels, and drops every verdict on a new policy', () => {
    const labels: Record<string, MemberLabels> = {}
    const { authorizer } = setup(labels)
    expect(authorizer.serve('c', KV)).toBe(false)
    labels.c = { tier: 'cache' }
    expect(authorizer.serve('c', KV)).toBe(true)
    authorizer.setPolicy(parsePolicy('default: deny\n'))
    expect(authorizer.call('c', 'local:demo/upper', 'f', false)).toEqual({ allowed: false, rule: 'default' })
    authorizer.setPolicy(undefined)
    expect(authorizer.active).toBe(false)
    expect(authorizer.call('c', KV, 'open', true)).toEqual({ allowed: true, rule: 'no-policy' })
  })

  it('keeps at most maxPolicyCacheEntries verdicts and 256 refusal series', () => {
    const { authorizer, asked } = setup({})
    for (let i = 0; i < 10; i++) authorizer.call(`p${i}`, KV, 'open', true)
    asked.length = 0
    // the cache started over past 4 entries: the last ones are held, the first ones asked again
    authorizer.call('p9', KV, 'open', true)
    expect(asked).toEqual([])
    authorizer.call('p0', KV, 'open', true)
    expect(asked).toEqual(['wait p0'])
    for (let i = 0; i < 300; i++) authorizer.refused(`x:y/i${i}`, 'default')
    const stats = authorizer.stats()
    expect(stats.total).toBe(300)
    expect(stats.calls).toHaveLength(257)
    expect(stats.calls.at(-1)).toEqual({ iface: 'other', rule: 'other', count: 44 })
  })
})
