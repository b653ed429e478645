// Runs every benchmark suite in test/bench/ (or the ones named on the command line) and prints Markdown for BENCHMARKS.md.

import { readdirSync } from 'node:fs'
import { machine } from './harness.ts'

const dir = import.meta.dirname
const wanted = process.argv.slice(2)
const suites = readdirSync(dir)
  .filter(f => f.endsWith('.bench.ts'))
  .filter(f => wanted.length === 0 || wanted.some(w => f.includes(w)))
  .sort()

console.log(`Machine: ${machine()}\n`)
for (const file of suites) {
  const suite = await import(`./${file}`) as { run: () => Promise<string> }
  console.log(await suite.run())
  console.log()
}
