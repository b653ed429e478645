// The issue-5 scenario with real `wasmesh node` processes on this machine's loopback.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { defaultAdvertTimings } from '../../node/adverts.ts'
import { Processes } from './processes.ts'
import { runScenario } from './scenario.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

describe('wasmesh node processes on loopback', () => {
  const processes = new Processes()
  let dir: ScratchDir
  let components: { upper: string, shout: string }

  beforeAll(async () => {
    const built = await ensureExamples({ names: ['upper', 'shout'] })
    components = { upper: built.upper, shout: built.shout }
    dir = await scratchDir('system')
  })

  afterAll(async () => {
    await processes.killAll()
    await dir?.remove()
  })

  it('B and C join A; a client reaches both; C is killed and D takes over; D withdraws on SIGTERM', async () => {
    await runScenario({
      processes,
      placement: { listen: () => '/ip4/127.0.0.1/tcp/0', nodePrefix: () => [], clientPrefix: [], metricsHost: '127.0.0.1' },
      dataDir: dir.path,
      cacheDir: join(dir.path, 'cache'),
      components,
      advertTtlMs: defaultAdvertTimings.advertTtlMs
    })
  }, 90_000)
})
