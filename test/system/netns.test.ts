// The issue-5 scenario with each `wasmesh node` in a network namespace of its own, as on separate machines: needs root.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { defaultAdvertTimings } from '../../node/adverts.ts'
import { createNetnsLab, netnsUnavailable } from './netns.ts'
import type { NetnsLab } from './netns.ts'
import { Processes } from './processes.ts'
import { runScenario } from './scenario.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

const unavailable = await netnsUnavailable()

if (unavailable !== undefined) {
  describe('wasmesh node processes in separate network namespaces', () => {
    it(`SKIPPED: ${unavailable}`, () => {
      console.warn(`\n*** SKIPPED the network-namespace system test: ${unavailable}. CI must run it as root. ***\n`)
    })
  })
} else {
  describe('wasmesh node processes in separate network namespaces', () => {
    const processes = new Processes()
    let lab: NetnsLab | undefined
    let dir: ScratchDir
    let components: { upper: string, shout: string }

    beforeAll(async () => {
      const built = await ensureExamples({ names: ['upper', 'shout'] })
      components = { upper: built.upper, shout: built.shout }
      dir = await scratchDir('netns')
      lab = await createNetnsLab(['a', 'b', 'c', 'd', 'client'])
    })

    afterAll(async () => {
      // Processes first: a namespace whose processes still run outlives its deletion.
      await processes.killAll()
      await lab?.destroy()
      await dir?.remove()
    })

    it('each node on its own IP: B and C join A; a client reaches both; C is killed and D takes over; D withdraws on SIGTERM', async () => {
      const l = lab!
      await runScenario({
        processes,
        placement: {
          listen: name => `/ip4/${l.address(name)}/tcp/4001`,
          host: name => l.address(name),
          nodePrefix: name => l.prefix(name),
          clientPrefix: l.prefix('client'),
          diagnose: async () => await l.sockets()
        },
        dataDir: dir.path,
        cacheDir: join(dir.path, 'cache'),
        components,
        advertTtlMs: defaultAdvertTimings.advertTtlMs
      })
    }, 90_000)
  })
}
