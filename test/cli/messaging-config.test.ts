import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfigFile, parseSubscribeArg } from '../../cli/config.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

let dir: ScratchDir
beforeAll(async () => { dir = await scratchDir('messaging-config') })
afterAll(async () => { await dir?.remove() })

describe('--subscribe and the messaging config keys', () => {
  it('parse <component>=<subject> with NATS wildcards', () => {
    expect(parseSubscribeArg('orders=orders.*')).toEqual({ component: 'orders', subject: 'orders.*' })
    expect(parseSubscribeArg('all=>')).toEqual({ component: 'all', subject: '>' })
    for (const bad of ['orders', '=orders.*', 'orders=', 'orders=a..b', 'orders=a.>.b', 'orders=a b', 'bad name=x']) {
      expect(() => parseSubscribeArg(bad), bad).toThrow(/subscribe/)
    }
  })

  it('are read from a config file, and a bad subject names the file and line', async () => {
    const good = join(dir.path, 'node.yaml')
    await writeFile(good, 'messaging: true\nsubscribe: ["sub=greetings.>", "audit=>"]\n')
    expect(await loadConfigFile(good)).toMatchObject({ messaging: true, subscribe: [{ component: 'sub', subject: 'greetings.>' }, { component: 'audit', subject: '>' }] })
    const bad = join(dir.path, 'bad.yaml')
    await writeFile(bad, 'listen: [/ip4/127.0.0.1/tcp/0]\nsubscribe: ["sub=a.>.b"]\n')
    const err = await loadConfigFile(bad).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).message).toContain('bad.yaml:2')
  })
})

describe('messaging limits by name', () => {
  it('are routed to messagingLimits', async () => {
    const { limitInits } = await import('../../node/limits.ts')
    expect(limitInits({ maxMessageBytes: 65536, handlerTimeoutMs: 500 })).toEqual({ messagingLimits: { maxMessageBytes: 65536, handlerTimeoutMs: 500 } })
  })
})
