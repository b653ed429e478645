import { silentLogger } from './node/logger.ts'
import { createNode } from './node/node.ts'
import { parseWit } from './protocol/wit/index.ts'
import { measureAsync } from './test/bench/support/timing.ts'
const wit = 'package local:t;\ninterface e { echo: func(x: u32) -> u32; }\n'
const iface = parseWit({ 'e.wit': wit }).findInterface('local:t/e')!
const service = { digest: 'x'.repeat(64), name: 'e', interfaces: [iface], wit, capacity: 64, call: async (_i: string, _f: string, p: unknown[]) => [p[0]] }
const node = await createNode({ transport: 'memory', logger: silentLogger })
await node.start()
node.serve(service)
const ctx = { caller: node.peerId }
const r = await measureAsync([
  { name: 'direct', fn: async () => await service.call('local:t/e', 'echo', [1], ctx) },
  { name: 'node.call', fn: async () => await node.call('local:t/e', 'echo', [1]) }
], { samples: 11, sampleMs: 200 })
for (const s of r) console.log(s.name.padEnd(10), (1e6 / s.opsPerSec).toFixed(3), 'µs')
await node.stop()
