// `npm run fuzz [-- --minutes N --seed S]`: a long fuzz run of every decoder; prints findings and exits non-zero if there are any.

import { parseArgs } from 'node:util'
import { fuzz } from './fuzz.ts'

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, seed: { type: 'string' } } })
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31)
const minutes = Number(values.minutes)
console.log(`fuzzing for ${minutes} min with seed ${seed} (replay: npm run fuzz -- --seed ${seed})`)
const startRss = process.memoryUsage().rss
let lastPrint = Date.now()
const report = fuzz({
  seed,
  until: Date.now() + minutes * 60_000,
  onProgress: r => {
    if (Date.now() - lastPrint < 10_000) return
    lastPrint = Date.now()
    console.log(`${r.cases} cases, ${r.findings.length} findings, rss +${Math.round((process.memoryUsage().rss - startRss) / 2 ** 20)} MiB`)
  }
})
console.log(`${report.cases} cases (${Object.entries(report.byTarget).map(([k, v]) => `${k} ${v}`).join(', ')}), ${report.findings.length} findings`)
for (const f of report.findings.slice(0, 20)) console.log(`- ${f.target}: ${f.error}\n  input: ${f.input}`)
process.exitCode = report.findings.length === 0 ? 0 : 1
