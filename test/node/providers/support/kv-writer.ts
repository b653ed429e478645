// A child process for the crash test: writes through the key-value provider as fast as it can and prints each write once its call returned.

import { createProvider } from '../../../../node/providers/sdk.ts'
import { ATOMICS, STORE, createKeyvalueModule } from '../../../../node/providers/keyvalue/index.ts'

const [path, synchronous = 'full'] = process.argv.slice(2)
const provider = await createProvider(createKeyvalueModule(), { config: { path, synchronous } })
await provider.start()
const caller = 'writer'
const [opened] = await provider.service.call(STORE, 'open', ['crash'], { caller }) as [{ tag: string, val: Uint8Array }]
const bucket = opened.val
const CONCURRENCY = 8
let next = 0

/** The value of key i: its number repeated to 1 KiB, so that a torn write would show. */
export function valueOf (i: number): Uint8Array {
  return new TextEncoder().encode(`${i};`.repeat(Math.ceil(1024 / (String(i).length + 1))).slice(0, 1024))
}

async function loop (): Promise<void> {
  while (true) {
    const i = next++
    const [r] = await provider.service.call(STORE, '[method]bucket.set', [bucket, `k${i}`, valueOf(i)], { caller }) as [{ tag: string }]
    if (r.tag !== 'ok') throw new Error(`set k${i} failed: ${JSON.stringify(r)}`)
    process.stdout.write(`set ${i}\n`)
    const [c] = await provider.service.call(ATOMICS, 'increment', [bucket, 'count', 1n], { caller }) as [{ tag: string, val: bigint }]
    if (c.tag !== 'ok') throw new Error(`increment failed: ${JSON.stringify(c)}`)
    process.stdout.write(`count ${c.val}\n`)
  }
}

process.stdout.write('ready\n')
await Promise.all(Array.from({ length: CONCURRENCY }, loop))
