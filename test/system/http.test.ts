// The HTTP gateway with real processes: a gateway node and component nodes, a killed server under a request loop, 1 GiB each way in bounded memory.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { eventually } from '../support/eventually.ts'
import { scratchDir, type ScratchDir } from '../support/scratch.ts'
import { httpUrlOf, Processes, rssBytes } from './processes.ts'

const MiB = 1024 * 1024

describe('the HTTP gateway between processes', () => {
  const processes = new Processes()
  let dir: ScratchDir
  let paths: Record<string, string>

  beforeAll(async () => {
    paths = await ensureExamples({ names: ['http-hello', 'http-echo'] })
    dir = await scratchDir('http-system')
  }, 300_000)

  afterAll(async () => {
    await processes.killAll()
    await dir?.remove()
  })

  const common = (name: string): string[] => ['--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(dir.path, name), '--cache-dir', join(dir.path, 'cache'), '--no-demo-host']

  it('loses no request that had not started its response when a server is killed under a request loop', async () => {
    const a = await processes.node('gw', [...common('gw'), '--http', '127.0.0.1:0'])
    const url = await eventually('the gateway address', () => httpUrlOf(a))
    const b = await processes.node('b', [...common('b'), '--bootstrap', a.addresses[0], '--component', paths['http-hello']])
    const c = await processes.node('c', [...common('c'), '--bootstrap', a.addresses[0], '--component', paths['http-hello']])
    // Both servers answer before the loop starts (the router spreads requests over them).
    await eventually('both servers answering', async () => (await fetch(`${url}/warm`)).status === 200 && (await fetch(`${url}/warm`)).status === 200, { timeoutMs: 30_000, intervalMs: 200 })
    const statuses = new Map<number, number>()
    let truncated = 0
    let lost = 0
    let killed = false
    for (let i = 0; i < 300; i++) {
      if (i === 100) { b.kill('SIGKILL'); killed = true }
      let response: Response
      try {
        response = await fetch(`${url}/r${i}`)
      } catch {
        lost++
        continue
      }
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
      try {
        expect(await response.text()).toBe(`Hello from wasmesh! You asked for /r${i}\n`)
      } catch {
        truncated++
      }
    }
    expect(killed).toBe(true)
    expect(lost).toBe(0)
    // Every request got its answer, from C after B went: failover happened before the first response byte.
    expect(Object.fromEntries(statuses)).toEqual({ 200: 300 })
    expect(truncated).toBe(0)
    c.kill('SIGTERM')
    a.kill('SIGTERM')
    await Promise.all([a.exited, b.exited, c.exited])
  }, 180_000)

  it('streams 1 GiB up and 1 GiB back through a gateway and a remote echo in bounded memory', async () => {
    const a = await processes.node('gw2', [...common('gw2'), '--http', '127.0.0.1:0'])
    const url = await eventually('the gateway address', () => httpUrlOf(a))
    // The echo's one call lasts as long as the transfer: its deadline is raised from 30 s. It runs --inline: in a
    // worker the chunks copied across the thread hand-off are garbage V8 collects lazily, up to the worker's
    // instanceHeapMb (measured: ~300 MiB more for this transfer), which would measure the GC, not the streaming.
    const b = await processes.node('echo', [...common('echo'), '--bootstrap', a.addresses[0], '--component', `echo=${paths['http-echo']}`, '--inline', 'echo', '--limit', 'callTimeoutMs=10m'])
    await eventually('the echo answering', async () => (await fetch(`${url}/`, { method: 'POST', body: 'ping' })).status === 200, { timeoutMs: 30_000, intervalMs: 200 })
    // A few requests first (each on a fresh instance: StarlingMonkey's fetch event serves one per instance), so the
    // pool has replaced instances a few times before the baseline is read.
    for (let i = 0; i < 4; i++) expect(await (await fetch(`${url}/`, { method: 'POST', body: `ping ${i}` })).text()).toBe(`ping ${i}`)
    const baseline = { gateway: rssBytes(a.pid), server: rssBytes(b.pid) }
    const peak = { ...baseline }
    const sample = setInterval(() => {
      peak.gateway = Math.max(peak.gateway, rssBytes(a.pid))
      peak.server = Math.max(peak.server, rssBytes(b.pid))
    }, 250)
    const total = 1024 * MiB
    const chunk = new Uint8Array(256 * 1024).fill(7)
    let sent = 0
    const upload = new ReadableStream<Uint8Array>({
      pull (controller) {
        if (sent >= total) { controller.close(); return }
        controller.enqueue(chunk)
        sent += chunk.byteLength
      }
    })
    let received = 0
    let wrong = 0
    try {
      const response = await fetch(`${url}/big`, { method: 'POST', body: upload, duplex: 'half', headers: { 'content-type': 'application/octet-stream' } } as RequestInit)
      expect(response.status).toBe(200)
      for await (const part of response.body as unknown as AsyncIterable<Uint8Array>) {
        received += part.byteLength
        if (part[0] !== 7 || part[part.byteLength - 1] !== 7) wrong++
      }
    } finally {
      clearInterval(sample)
    }
    expect(received).toBe(total)
    expect(wrong).toBe(0)
    // Growth over the idle process, a bound far below the 1 GiB that passed through each way.
    const growth = { gateway: (peak.gateway - baseline.gateway) / MiB, server: (peak.server - baseline.server) / MiB }
    console.log(`1 GiB each way: RSS baseline gateway ${(baseline.gateway / MiB).toFixed(0)} MiB, server ${(baseline.server / MiB).toFixed(0)} MiB; growth gateway ${growth.gateway.toFixed(0)} MiB, server ${growth.server.toFixed(0)} MiB`)
    expect(growth.gateway).toBeLessThan(300)
    // the server's figure is mostly StarlingMonkey's own linear memory (it grows in steps and never shrinks) plus
    // copies the GC collects late on a loaded machine: 260-310 MiB measured; half the 1 GiB is the bound that still
    // says the body was never held whole
    expect(growth.server).toBeLessThan(512)
    a.kill('SIGTERM')
    b.kill('SIGTERM')
    await Promise.all([a.exited, b.exited])
  }, 400_000)
})
