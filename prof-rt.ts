import { ensureExamples } from './examples/build.ts'
import { createRuntime } from './node/runtime/index.ts'
const paths = await ensureExamples({ names: ['arith'] })
const rt = createRuntime({ cacheDir: '/tmp/wm-cache' })
await rt.start()
const c = await rt.load(paths.arith, { isolation: 'inline' })
const t0 = performance.now(); let n = 0
while (performance.now() - t0 < 4000) { await rt.call(c.id, 'wasmesh:examples/arith', 'add', [40, 2]); n++ }
console.log('runtime.call inline', (performance.now() - t0) * 1000 / n, 'µs/call')
await rt.stop()
