import { ensureExamples } from './examples/build.ts'
import { exportedFunction, instantiateHere, prepareComponent } from './test/bench/support/main-thread.ts'
const which = process.argv[2] ?? 'arith'
const paths = await ensureExamples({ names: [which] })
const here = await instantiateHere(await prepareComponent(paths[which], '/tmp/wm-cache'))
const [iface, func, params] = which === 'arith' ? ['wasmesh:examples/arith', 'add', [40, 2]] : ['wasmesh:examples/types', 'echo-string', ['hello, mesh']]
const f = exportedFunction(here.root, iface as string, func as string)
const t0 = performance.now(); let n = 0
while (performance.now() - t0 < 4000) { await f(...(params as unknown[])); n++ }
console.log(which, (performance.now() - t0) * 1000 / n, 'µs/call')
