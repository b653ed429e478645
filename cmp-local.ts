import { ensureExamples } from './examples/build.ts'
import { silentLogger } from './node/logger.ts'
import { createNode } from './node/node.ts'
import { exportedFunction, instantiateHere, prepareComponent } from './test/bench/support/main-thread.ts'
import { measureAsync } from './test/bench/support/timing.ts'
const which = process.argv[2] ?? 'arith'
const paths = await ensureExamples({ names: [which] })
const [iface, func, params] = (which === 'arith' ? ['wasmesh:examples/arith', 'add', [40, 2]] : ['wasmesh:examples/types', 'echo-string', ['hello, mesh']]) as [string, string, unknown[]]
const here = await instantiateHere(await prepareComponent(paths[which], '/tmp/wm-cache'))
const f = exportedFunction(here.root, iface, func)
const node = await createNode({ transport: 'memory', logger: silentLogger, cacheDir: '/tmp/wm-cache' })
await node.start()
const c = await node.load({ source: paths[which], isolation: 'inline' })
const r = await measureAsync([
  { name: 'direct', fn: async () => await f(...params) },
  { name: 'runtime', fn: async () => await node.runtime.call(c.id, iface, func, params) },
  { name: 'node.call', fn: async () => await node.call(iface, func, params) }
], { samples: 11, sampleMs: 200 })
const d = r[0].opsPerSec
for (const s of r) console.log(s.name.padEnd(10), (1e6 / s.opsPerSec).toFixed(2), 'µs', (d / s.opsPerSec).toFixed(2) + 'x', 'best', (r[0].bestOpsPerSec / s.bestOpsPerSec).toFixed(2) + 'x')
await node.stop()
