import { afterEach, describe, expect, it } from 'vitest'
import { buildArith } from '../runtime/fixtures.ts'
import { bootstrapOf, createMesh, eventually } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'

const CALC = 'local:test/calc@0.1.0'

let mesh: Mesh | undefined
afterEach(async () => { await mesh?.stop(); mesh = undefined })

describe('a component served to the mesh', () => {
  it('keeps an instance for other peers while one peer\'s calls loop: inbound calls count against their peer\'s share', async () => {
    mesh = await createMesh()
    const server = await mesh.add()
    await server.load({ source: await buildArith(), name: 'arith', limits: { maxInstances: 2, callTimeoutMs: 60_000 } })
    const looper = await mesh.add({ bootstrap: bootstrapOf(server) })
    const other = await mesh.add({ bootstrap: bootstrapOf(server) })
    for (const n of [looper, other]) await eventually('the callers to know the server', () => n.servers(CALC).length === 1)
    let settled = 0
    const spins = [0, 1].map(async () => await looper.call(CALC, 'spin', [], { timeoutMs: 60_000 }).finally(() => { settled++ }))
    await eventually('one spin to hold an instance and the other to wait', () => {
      const s = server.componentStats(server.components()[0].id)
      return s.busy === 1 && s.queued === 1
    })
    expect(await other.call(CALC, 'echo', ['still served'])).toEqual(['still served'])
    expect(settled).toBe(0)
    await mesh.stop()
    mesh = undefined
    await Promise.allSettled(spins)
  })
})
