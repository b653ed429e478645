import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createProvider } from '../../../node/providers/sdk.ts'
import { ATOMICS, BATCH, STORE, createKeyvalueModule } from '../../../node/providers/keyvalue/index.ts'
import { scratchDir } from '../../support/scratch.ts'
import type { ScratchDir } from '../../support/scratch.ts'

const writer = fileURLToPath(new URL('./support/kv-writer.ts', import.meta.url))

/** Key i's value as the writer makes it. */
function valueOf (i: number): string {
  return `${i};`.repeat(Math.ceil(1024 / (String(i).length + 1))).slice(0, 1024)
}

/** Runs the writer until it acknowledged `acks` sets, then kills it with SIGKILL mid-load; everything it acknowledged before it died. */
async function writeThenKill (path: string, acks: number): Promise<{ sets: number[], maxCount: bigint }> {
  const child = spawn(process.execPath, [writer, path], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const sets: number[] = []
  let maxCount = 0n
  const lines = createInterface({ input: child.stdout })
  // Acknowledgements printed after the one that triggers the kill (same chunk, or before the signal lands) count too.
  const drained = new Promise<void>(resolve => { lines.once('close', () => { resolve() }) })
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code, signal) => { reject(new Error(`the writer exited (${signal ?? code}) early: ${stderr}`)) })
      lines.on('line', line => {
        const [what, n] = line.split(' ')
        if (what === 'set') sets.push(Number(n))
        if (what === 'count' && BigInt(n) > maxCount) maxCount = BigInt(n)
        if (sets.length === acks) {
          child.kill('SIGKILL')
          resolve()
        }
      })
    })
    await exited
    await drained
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  return { sets, maxCount }
}

describe('key-value provider durability', () => {
  let dir: ScratchDir
  beforeAll(async () => { dir = await scratchDir('kv-crash') })
  afterAll(async () => { await dir?.remove() })

  it('loses no acknowledged write when the process is killed with SIGKILL during a write load', async () => {
    const path = join(dir.path, 'crash.sqlite')
    const { sets, maxCount } = await writeThenKill(path, 400)
    expect(sets.length).toBeGreaterThanOrEqual(400)

    const provider = await createProvider(createKeyvalueModule(), { config: { path } })
    await provider.start()
    try {
      const caller = 'checker'
      const [opened] = await provider.service.call(STORE, 'open', ['crash'], { caller }) as [{ val: Uint8Array }]
      const [many] = await provider.service.call(BATCH, 'get-many', [opened.val, sets.map(i => `k${i}`)], { caller }) as [{ tag: string, val: Array<[string, Uint8Array] | undefined> }]
      expect(many.tag).toBe('ok')
      const missing = sets.filter((_, j) => many.val[j] === undefined)
      expect(missing).toEqual([])
      const wrong = sets.filter((i, j) => new TextDecoder().decode(many.val[j]![1]) !== valueOf(i))
      expect(wrong).toEqual([])
      // the counter holds at least every increment that was acknowledged
      const [count] = await provider.service.call(ATOMICS, 'increment', [opened.val, 'count', 0n], { caller }) as [{ val: bigint }]
      expect(count.val >= maxCount).toBe(true)
    } finally {
      await provider.stop()
    }
  }, 60_000)
})
