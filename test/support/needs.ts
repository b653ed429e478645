// Tests that need a real service from Debian's packages (PostgreSQL, Chromium, an OCI registry): run with it, or skip loudly without it.

import { describe, it } from 'vitest'

/**
 * `describe` for tests that need a real service. When `missing` says it is not installed, the block is one
 * test whose name says SKIPPED and which warns loudly; in CI (`CI=true`) that test fails instead, because
 * CI installs the service and must run these tests.
 */
export function describeNeeding (name: string, service: { readonly what: string, readonly install: string, readonly missing?: string }, body: () => void): void {
  if (service.missing === undefined) {
    describe(name, body)
    return
  }
  describe(name, () => {
    it(`SKIPPED: no ${service.what} (${service.missing})`, () => {
      const message = `\n*** ${name}: SKIPPED: no ${service.what} (${service.missing}).\n*** ${service.install} to run these tests. ***\n`
      if (process.env.CI === 'true') throw new Error(`${message}In CI a missing service is a failure: .ci/run must install it.`)
      console.warn(message)
    })
  })
}
