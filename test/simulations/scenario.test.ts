import { describe, expect, it } from 'vitest'
import { loadScenario, parseScenario, shippedScenarios, validateScenario } from '../../simulations/scenario.ts'
import { SimulationError } from '../../simulations/errors.ts'

const minimal = { name: 't', durationS: 10, nodes: 4, services: [{ provider: 'echo' }] }

function problems (doc: unknown): string[] {
  try {
    validateScenario(doc)
  } catch (err) {
    expect(err).toBeInstanceOf(SimulationError)
    expect((err as SimulationError).code).toBe('invalid-scenario')
    return [...(err as SimulationError).problems]
  }
  throw new Error('the scenario was accepted')
}

describe('scenario files', () => {
  it('fill in defaults for what a minimal scenario leaves out', () => {
    const s = validateScenario(minimal)
    expect(s.seed).toBe(1)
    expect(s.topology).toEqual({ kind: 'seed' })
    expect(s.encryption).toBe('plaintext')
    expect(s.network).toMatchObject({ regions: [{ name: 'local' }], latencyMs: { intra: 0, inter: 0 }, lossRate: 0, minRtoMs: 200 })
    expect(s.services[0]).toMatchObject({ provider: 'echo', iface: 'echo', on: 'all', capacity: 64 })
  })

  it('name every offending key, all at once', () => {
    const found = problems({
      name: 't',
      durationS: -1,
      nodes: 2.5,
      topology: { kind: 'star' },
      network: { lossRate: 0.9, latencyMs: { intra: 'fast' }, colour: 'blue' },
      services: [{ provider: 'echo', component: 'x.wasm' }],
      workload: [{ callsPerS: 'many', from: 'everyone' }],
      events: [{ kind: 'crash', at: 'noon' }, { kind: 'explode', at: 1 }, { kind: 'partition', at: 1, groups: [[0]] }]
    })
    const keys = found.map(p => p.split(':')[0])
    expect(keys).toEqual(expect.arrayContaining([
      'durationS', 'nodes', 'topology.kind', 'network.lossRate', 'network.latencyMs.intra', 'network.colour',
      'services[0]', 'workload[0].callsPerS', 'workload[0].from', 'events[0].at', 'events[1].kind', 'events[2].groups'
    ]))
  })

  it('refuse node indexes and times outside the scenario', () => {
    const found = problems({ ...minimal, events: [{ kind: 'crash', at: 11, node: 4 }], workload: [{ callsPerS: 1, from: [7] }] })
    expect(found).toEqual(expect.arrayContaining([
      expect.stringMatching(/^events\[0\]\.at: must be at most 10/),
      expect.stringMatching(/^events\[0\]\.node: must be at most 3/),
      expect.stringMatching(/^workload\[0\]\.from\[0\]: must be at most 3/)
    ]))
  })

  it('a TTL shorter than the heartbeat is refused with the reason', () => {
    expect(problems({ ...minimal, timings: { advertIntervalMs: 1000, advertTtlMs: 500 } })).toEqual([
      expect.stringMatching(/^timings\.advertTtlMs: must be longer than advertIntervalMs/)
    ])
  })

  it('parse YAML and JSON alike, and say when the text is neither', () => {
    const yaml = parseScenario('name: y\ndurationS: 5\nnodes: 3\nservices:\n  - { provider: echo }\n')
    const json = parseScenario(JSON.stringify({ ...minimal, name: 'y', durationS: 5, nodes: 3 }))
    expect(yaml).toEqual(json)
    expect(() => parseScenario('name: [unclosed')).toThrow(/not YAML or JSON/)
    expect(() => parseScenario('- just\n- a list\n')).toThrow(/\(scenario\): must be a mapping/)
  })

  it('overrides replace seed, nodes and duration, and are checked too', () => {
    const s = validateScenario(minimal, { seed: 9, nodes: 20, durationS: 3 })
    expect([s.seed, s.nodes, s.durationS]).toEqual([9, 20, 3])
    expect(() => validateScenario(minimal, { nodes: 0 })).toThrow(/--nodes/)
  })

  it('every shipped scenario is valid, and an unknown name says which exist', async () => {
    for (const name of shippedScenarios) expect((await loadScenario(name)).name).toBe(name)
    await expect(loadScenario('no-such-scenario')).rejects.toMatchObject({ code: 'scenario-not-found', message: expect.stringMatching(/smoke/) })
  })
})
