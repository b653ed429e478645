// Serving a second component for an interface: a new version of the same component (a hot swap) takes over quietly, another component serves beside it.

import { afterEach, describe, expect, it } from 'vitest'
import { createNode } from '../../node/index.ts'
import type { MeshNode } from '../../node/index.ts'
import { createLogger } from '../../node/logger.ts'
import { whoamiService } from '../support/mesh.ts'

let node: MeshNode | undefined
afterEach(async () => { await node?.stop(); node = undefined })

async function nodeLogging (lines: string[]): Promise<MeshNode> {
  node = await createNode({ transport: 'memory', listen: [], peering: false, logger: createLogger({ level: 'warn', format: 'text', write: l => { lines.push(l) } }) })
  await node.start()
  return node
}

describe('serving one interface twice on a node', () => {
  it('says nothing at warn when a new version of the same component takes over (a hot swap), and calls reach the new one', async () => {
    const lines: string[] = []
    const n = await nodeLogging(lines)
    const v1 = whoamiService('test:swap', 'svc', '1.0.0', 'site')
    const v2 = { ...whoamiService('test:swap', 'svc', '1.0.0', 'site'), digest: 'f'.repeat(64), call: async () => ['site v2'] }
    n.serve(v1)
    n.serve(v2)
    expect(await n.call('test:swap/svc', 'whoami', [])).toEqual(['site v2'])
    expect(lines.filter(l => l.includes('exported by both'))).toEqual([])
  })

  it('keeps both when another component exports the same interface, with no warning: calls go to either', async () => {
    const lines: string[] = []
    const n = await nodeLogging(lines)
    n.serve(whoamiService('test:swap', 'svc', '1.0.0', 'first'))
    n.serve(whoamiService('test:swap', 'svc', '1.0.0', 'second'))
    const answers = new Set<unknown>()
    for (let i = 0; i < 4; i++) answers.add((await n.call('test:swap/svc', 'whoami', []))[0])
    expect([...answers].sort()).toEqual(['first', 'second'])
    expect(lines).toEqual([])
  })
})
