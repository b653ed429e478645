import { describe, expect, it } from 'vitest'
import { publishSubjectProblem, subjectMatches, subscriptionProblem } from '../../../node/messaging/index.ts'

describe('subjects', () => {
  it('match as NATS matches them', () => {
    expect(subjectMatches('orders.created', 'orders.created')).toBe(true)
    expect(subjectMatches('orders.*', 'orders.created')).toBe(true)
    expect(subjectMatches('orders.*', 'orders.created.eu')).toBe(false)
    expect(subjectMatches('orders.>', 'orders.created.eu')).toBe(true)
    expect(subjectMatches('orders.>', 'orders')).toBe(false)
    expect(subjectMatches('*.created', 'orders.created')).toBe(true)
    expect(subjectMatches('>', 'a')).toBe(true)
    expect(subjectMatches('orders', 'orders.created')).toBe(false)
  })

  it('refuse what NATS refuses', () => {
    for (const bad of ['', 'a..b', '.a', 'a.', 'a b', 'a\u0000b', 'x'.repeat(257)]) {
      expect(publishSubjectProblem(bad), JSON.stringify(bad)).toBeDefined()
      expect(subscriptionProblem(bad), JSON.stringify(bad)).toBeDefined()
    }
    expect(publishSubjectProblem('orders.*')).toBeDefined()
    expect(publishSubjectProblem('orders.>')).toBeDefined()
    expect(subscriptionProblem('a.>.b')).toBeDefined()
    expect(subscriptionProblem('a.b*')).toBeDefined()
    expect(subscriptionProblem('a.*.>')).toBeUndefined()
  })
})
