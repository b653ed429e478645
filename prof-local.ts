import { ensureExamples } from './examples/build.ts'
import { silentLogger } from './node/logger.ts'
import { createNode } from './node/node.ts'
const which = process.argv[2] ?? 'arith'
const paths = await ensureExamples({ names: [which] })
const node = await createNode({ transport: 'memory', logger: silentLogger, cacheDir: '/tmp/wm-cache' })
await node.start()
await node.load({ source: paths[which], isolation: 'inline' })
const [iface, func, params] = which === 'arith' ? ['wasmesh:examples/arith', 'add', [40, 2]] : ['wasmesh:examples/types', 'echo-string', ['hello, mesh']]
const t0 = performance.now(); let n = 0
while (performance.now() - t0 < 4000) { await (process.argv[3] === 'rt' ? node.runtime.call(node.components()[0].id, iface as string, func as string, params as unknown[]) : node.call(iface as string, func as string, params as unknown[])); n++ }
console.log(which, (performance.now() - t0) * 1000 / n, 'µs/call')
await node.stop()
