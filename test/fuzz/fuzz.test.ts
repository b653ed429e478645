import { describe, expect, it } from 'vitest'
import { fuzz } from './fuzz.ts'

describe('fuzzing every decoder (fixed seed)', () => {
  it('turns random and mutated input into values or typed errors, never a crash', () => {
    const report = fuzz({ seed: 20261125, cases: 20_000 })
    expect(report.findings).toEqual([])
    expect(report.byTarget.value).toBeGreaterThan(4000)
    expect(report.byTarget.frame).toBeGreaterThan(4000)
    expect(report.byTarget.wave).toBeGreaterThan(4000)
    expect(report.byTarget.wit).toBeGreaterThan(500)
    expect(report.byTarget.advert).toBeGreaterThan(4000)
  }, 120_000)
})
