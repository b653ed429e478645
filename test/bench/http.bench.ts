// HTTP requests/s and p50/p99 at 1 and 64 connections: the gateway with its component on one node, gateway and component on two, a bare node:http server and `jco serve` of the same component, in one run; for a StarlingMonkey (JS) component and a compiled-like (WAT) one.
import { spawn, type ChildProcess } from 'node:child_process'
import { request, Agent } from 'node:http'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { ensureExamples } from '../../examples/build.ts'
import { eventually } from '../support/eventually.ts'
import { scratchDir } from '../support/scratch.ts'

const CONNECTIONS = [1, 64] as const
/** Per figure: a warm-up, then this long of requests; the four servers take turns. */
const WARMUP_MS = 1500
const RUN_MS = 5000

/** The components benched, each with the bytes it answers `GET /bench` with (what the bare server sends too). */
const COMPONENTS = [
  { example: 'http-hello', what: 'StarlingMonkey (a JS engine in the component)', body: 'Hello from wasmesh! You asked for /bench\n' },
  { example: 'http-hello-wat', what: 'WAT (no engine: what Rust or Go compiles to)', body: 'Hello from wasmesh!\n' }
] as const
type Bench = typeof COMPONENTS[number]

const wasmeshBin = fileURLToPath(new URL('../../bin/wasmesh.js', import.meta.url))
const jcoBin = fileURLToPath(new URL('../../node_modules/@bytecodealliance/jco/dist/jco.js', import.meta.url))

interface Server { readonly name: string, readonly url: string, readonly children: ChildProcess[] }

function child (args: string[]): { proc: ChildProcess, out: () => string } {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WASMESH_BOOTSTRAP: '' } })
  let out = ''
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => { out += d })
  return { proc, out: () => out }
}

async function stopAll (children: ChildProcess[]): Promise<void> {
  await Promise.all(children.map(async c => {
    if (c.exitCode !== null || c.signalCode !== null) return
    const gone = new Promise(resolve => c.once('exit', resolve))
    c.kill('SIGKILL')
    await gone
  }))
}

/** One request; resolves with its latency in ms. */
function once (agent: Agent, url: URL, bytes: number): Promise<number> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, res => {
      let n = 0
      res.on('data', (d: Buffer) => { n += d.byteLength })
      res.on('end', () => {
        if (res.statusCode !== 200 || n !== bytes) reject(new Error(`status ${res.statusCode ?? 0}, ${n} bytes`))
        else resolve(performance.now() - started)
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

interface Figure { readonly rps: number, readonly p50: number, readonly p99: number, readonly errors: number }

/** `connections` keep-alive connections, each sending its next request when the last one is answered. */
async function load (base: string, connections: number, ms: number, bytes: number): Promise<Figure> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const url = new URL('/bench', base)
  const latencies: number[] = []
  let errors = 0
  const until = performance.now() + ms
  const started = performance.now()
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < until) {
      try {
        latencies.push(await once(agent, url, bytes))
      } catch {
        errors++
      }
    }
  }))
  const elapsed = (performance.now() - started) / 1000
  agent.destroy()
  latencies.sort((a, b) => a - b)
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN
  return { rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), errors }
}

async function httpLine (out: () => string, pattern: RegExp, what: string): Promise<string> {
  return await eventually(what, () => pattern.exec(out())?.[1], { timeoutMs: 60_000, intervalMs: 100 })
}

export async function run (): Promise<string> {
  // WASMESH_BENCH_HTTP=http-hello-wat (comma-separated) benches only those
  const only = process.env.WASMESH_BENCH_HTTP?.split(',').filter(x => x !== '')
  const chosen = COMPONENTS.filter(c => only === undefined || only.length === 0 || only.includes(c.example))
  const paths = await ensureExamples({ names: chosen.map(c => c.example) })
  const out: string[] = []
  for (const c of chosen) out.push(await suite(c, paths[c.example]))
  return out.join('\n\n')
}

async function suite (component: Bench, hello: string): Promise<string> {
  const HELLO = component.body
  const bytes = Buffer.byteLength(HELLO)
  const scratch = await scratchDir('http-bench')
  const node = (name: string, extra: string[]): { proc: ChildProcess, out: () => string } => child([wasmeshBin, 'node', '--listen', '/ip4/127.0.0.1/tcp/0',
    '--data-dir', join(scratch.path, name), '--cache-dir', join(scratch.path, 'cache'), '--no-demo-host', '--log-level', 'warn', ...extra])
  const servers: Server[] = []
  const children: ChildProcess[] = []
  try {
    const one = node('one', ['--component', hello, '--http', '127.0.0.1:0'])
    children.push(one.proc)
    servers.push({ name: '(a) gateway + component, one node', url: await httpLine(one.out, /^http: (\S+)/m, 'node one'), children: [one.proc] })

    const b = node('b', ['--component', hello])
    children.push(b.proc)
    const bAddr = await httpLine(b.out, /^(\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\S+)/m, 'node b')
    const a = node('a', ['--http', '127.0.0.1:0', '--bootstrap', bAddr])
    children.push(a.proc)
    servers.push({ name: '(b) gateway on A, component on B', url: await httpLine(a.out, /^http: (\S+)/m, 'node a'), children: [a.proc, b.proc] })

    // jco serve runs the component in its own thread, as --inline does: the like-for-like figure beside (d)
    const inline = node('inline', ['--component', hello, '--inline', component.example, '--http', '127.0.0.1:0'])
    children.push(inline.proc)
    servers.push({ name: "(a') as (a), the component --inline", url: await httpLine(inline.out, /^http: (\S+)/m, 'node inline'), children: [inline.proc] })

    const bare = child(['-e', `const body = ${JSON.stringify(HELLO)}; require('node:http').createServer((q, s) => { s.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) }); s.end(body) }).listen(0, '127.0.0.1', function () { console.log('bare http://127.0.0.1:' + this.address().port) })`])
    children.push(bare.proc)
    servers.push({ name: '(c) bare node:http', url: await httpLine(bare.out, /^bare (\S+)/m, 'the bare server'), children: [bare.proc] })

    const port = 20000 + Math.floor(Math.random() * 20000)
    const jco = child([jcoBin, 'serve', hello, '--port', String(port)])
    children.push(jco.proc)
    await httpLine(jco.out, /(listening)/, 'jco serve')
    servers.push({ name: '(d) jco serve, same component', url: `http://localhost:${port}`, children: [jco.proc] })

    for (const s of servers) await eventually(`${s.name} answering`, async () => (await load(s.url, 1, 200, bytes)).errors === 0, { timeoutMs: 60_000, intervalMs: 200 })

    const results = new Map<string, Figure>()
    for (const c of CONNECTIONS) {
      for (const s of servers) {
        await load(s.url, c, WARMUP_MS, bytes)
        results.set(`${s.name}|${c}`, await load(s.url, c, RUN_MS, bytes))
      }
    }
    const lines = [`### HTTP: ${component.example}, ${component.what}, behind four servers`, '',
      `Requests/s and latency with ${CONNECTIONS.join(' and ')} keep-alive connections (node:http client in the bench process, each server in processes of its own; ${RUN_MS / 1000} s per figure after a ${WARMUP_MS / 1000} s warm-up).`, '',
      '| server | connections | req/s | p50 ms | p99 ms | errors |', '|---|---:|---:|---:|---:|---:|']
    for (const c of CONNECTIONS) {
      for (const s of servers) {
        const f = results.get(`${s.name}|${c}`) as Figure
        lines.push(`| ${s.name} | ${c} | ${Math.round(f.rps).toLocaleString('en')} | ${f.p50.toFixed(2)} | ${f.p99.toFixed(2)} | ${f.errors} |`)
      }
    }
    const fig = (name: string, c: number): Figure => results.get(`${servers.find(s => s.name.startsWith(name))?.name ?? name}|${c}`) as Figure
    lines.push('', 'Goals:')
    for (const c of CONNECTIONS) {
      const [a, inl, b, bare, jco] = ['(a)', "(a')", '(b)', '(c)', '(d)'].map(n => fig(n, c))
      lines.push(`- ${c} connection${c === 1 ? '' : 's'}: (a)/(d) ${(a.rps / jco.rps).toFixed(2)}x, (a')/(d) ${(inl.rps / jco.rps).toFixed(2)}x (goal >= 1.5x), (a)/(c) ${(a.rps / bare.rps).toFixed(2)}x (goal >= 0.5x), (b) p50 - (a) p50 ${(b.p50 - a.p50).toFixed(2)} ms (goal < 0.5 ms)`)
    }
    return lines.join('\n')
  } finally {
    await stopAll(children)
    await scratch.remove()
  }
}
