// Takes the README's screenshot of the console: four in-process nodes on loopback, a few calls, headless Chromium.
import { createNode } from '../node/index.ts'
import type { LocalService, MeshNode } from '../node/index.ts'
import { createLogger } from '../node/logger.ts'
import { createMetrics } from '../node/metrics.ts'
import { createLogTail, defaultConsoleLimits, startConsoleServer } from '../node/console/index.ts'
import { createDemoHost } from '../cli/host.ts'
import puppeteer from 'puppeteer-core'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const out = process.argv[2] ?? 'docs/console.png'
const cacheDir = await mkdtemp(join(tmpdir(), 'wasmesh-shot-'))
const tail = createLogTail()
const logger = createLogger({ level: 'info', format: 'text', write: () => {}, tap: tail.tap })
const metrics = createMetrics()
const timings = { advertIntervalMs: 500, advertTtlMs: 5_000 }
const first = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], labels: { name: 'gateway', zone: 'eu' }, cacheDir, logger, observer: metrics.observer, timings })
await first.start()
const host: LocalService = createDemoHost({ onLog: message => { logger.info(`log from a peer: ${message}`) } })
first.serve(host)
const others: MeshNode[] = []
for (const [name, zone] of [['worker-1', 'eu'], ['worker-2', 'us'], ['worker-3', 'us']]) {
  const n = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: first.addresses(), labels: { name, zone }, cacheDir, logger: createLogger({ level: 'silent' }), timings })
  await n.start()
  others.push(n)
}
const server = await startConsoleServer({ node: first, host: '127.0.0.1', port: 0, limits: defaultConsoleLimits, metrics, logTail: tail, version: '0.1.0' })
const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] })
try {
  const page = await browser.newPage()
  await page.setViewport({ width: 1280, height: 1000 })
  await page.goto(server.url, { waitUntil: 'load' })
  await page.waitForFunction(() => document.querySelectorAll('#peer-rows tr').length === 4)
  for (let i = 0; i < 40; i++) await others[i % 3].call('local:demo/host', 'log', [`call ${i}`])
  await page.waitForFunction(() => document.querySelector('#call-rows tr') !== null)
  await page.screenshot({ path: out, fullPage: true })
  console.error(`wrote ${out}`)
} finally {
  await browser.close()
  await server.close()
  for (const n of [...others, first]) await n.stop()
  await rm(cacheDir, { recursive: true, force: true })
}
