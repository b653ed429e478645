// An app deployed in a simulation: every replica placed after the deploy, and placed again after its node crashes.
import { describe, expect, it } from 'vitest'
import { runSimulation, validateScenario } from '../../simulations/index.ts'

const scenario = validateScenario({
  name: 'apps-small',
  description: 'Ten nodes; node 0 deploys an app of 6 keyvalue replicas at 1 s; two nodes crash at 6 s and restart at 14 s.',
  seed: 5,
  durationS: 20,
  nodes: 10,
  topology: { kind: 'seed' },
  network: { latencyMs: 5 },
  encryption: 'plaintext',
  timings: { advertIntervalMs: 1000, advertTtlMs: 3500 },
  settleS: 15,
  services: [{ provider: 'echo', iface: 'echo', on: [1] }],
  workload: [{ callsPerS: 5, from: 'random', iface: 'echo', payloadBytes: 16 }],
  events: [{ at: 6, kind: 'crash', node: 3 }, { at: 6, kind: 'crash', node: 7 }, { at: 14, kind: 'restart', node: 3 }, { at: 14, kind: 'restart', node: 7 }],
  apps: [{
    at: 1,
    manifest: {
      apiVersion: 'core.oam.dev/v1beta1',
      kind: 'Application',
      metadata: { name: 'store' },
      spec: { components: [{ name: 'kv', type: 'capability', properties: { image: 'ghcr.io/wasmcloud/keyvalue-nats:0.1.0', config: [{ name: 'm', properties: { backend: 'memory' } }] }, traits: [{ type: 'spreadscaler', properties: { instances: 6 } }] }] }
    }
  }]
})

describe('apps in a simulation', () => {
  it('places every replica, counts them over time, and runs them all at the end after two crashes', async () => {
    const report = await runSimulation(scenario)
    expect(report.apps).toHaveLength(1)
    const app = report.apps[0]
    expect(app.error).toBeUndefined()
    expect(app.desired).toBe(6)
    expect(app.fullMs).not.toBeNull()
    // by the end every replica runs again
    expect(report.appReplicas.at(-1)?.[1]).toBe(6)
    expect(report.appReplicas.length).toBeGreaterThan(10)
  }, 120_000)

  it('refuses a scenario whose manifest wasmesh cannot deploy, naming the key', () => {
    let problems: readonly string[] = []
    try {
      validateScenario({ name: 'x', description: 'd', durationS: 5, nodes: 2, services: [{ provider: 'echo', iface: 'echo', on: [1] }], apps: [{ at: 1, manifest: { apiVersion: 'v0', kind: 'Application' } }] })
    } catch (err) {
      problems = (err as { problems?: readonly string[] }).problems ?? []
    }
    expect(problems.some(p => p.startsWith('apps[0].manifest: ') && p.includes('apiVersion'))).toBe(true)
  })
})
