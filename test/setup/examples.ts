// Vitest global set-up: builds the example components once, before any test file runs, so parallel test files never race to build them.

import { ensureExamples } from '../../examples/build.ts'
import { ensurePgDemo } from '../../examples/pg-demo/build.ts'

export async function setup (): Promise<void> {
  await ensureExamples()
  await ensurePgDemo()
}
