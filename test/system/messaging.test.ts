// The messaging example across two real `wasmesh node` processes: a publish reaches the subscribed component on the other process, and a request gets its reply.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../examples/build.ts'
import { Processes, until } from './processes.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

describe('the messaging pair in two node processes', () => {
  const processes = new Processes()
  let dir: ScratchDir
  let built: Record<string, string>

  beforeAll(async () => {
    built = await ensureExamples({ names: ['msg-pub', 'msg-sub'] })
    dir = await scratchDir('system-messaging')
  }, 300_000)

  afterAll(async () => {
    await processes.killAll()
    await dir?.remove()
  })

  it('publishes from one process to the subscriber in the other, and answers a request', async () => {
    const common = ['--listen', '/ip4/127.0.0.1/tcp/0', '--cache-dir', join(dir.path, 'cache')]
    const a = await processes.node('pub', [...common, '--data-dir', join(dir.path, 'a'), '--component', `pub=${built['msg-pub']}`, '--messaging'])
    const b = await processes.node('sub', [...common, '--data-dir', join(dir.path, 'b'), '--bootstrap', a.addresses[0], '--component', `sub=${built['msg-sub']}`, '--subscribe', 'sub=greetings.>'])
    expect(b.output()).toContain('subscribed: sub=greetings.>')
    const call = async (expr: string): Promise<string> => {
      const r = await processes.cli(['call', expr, '--bootstrap', a.addresses[0]], { timeoutMs: 30_000 })
      if (r.code !== 0) throw new Error(`wasmesh call ${expr} exited ${String(r.code)}: ${r.stderr}`)
      return r.stdout.trim()
    }
    // at most once: what is published before the two processes' gossip mesh formed is lost, so publish until one arrives
    let n = 0
    await until('a message published in A to be logged by the subscriber in B', 60_000, async () => {
      expect(await call(`wasmesh:examples/messenger#send("greetings.hello", "hi ${++n}")`)).toBe('ok')
      return /log from sub: greetings\.hello: hi \d+/.test(b.output()) ? true : undefined
    })
    expect(await call('wasmesh:examples/messenger#ask("greetings.ask", "ping", 5000)')).toBe('ok("PING")')
    expect(await call('wasmesh:examples/messenger#ask("nobody.here", "x", 2000)')).toMatch(/^err\(".*no subscriber/)
    expect(b.output()).not.toContain('"level":"error"')
  }, 180_000)
})
