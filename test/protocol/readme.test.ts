// Runs the example of protocol/README.md itself (its first ts block), so that a change to the README or to the library that breaks it fails here.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

const readme = fileURLToPath(new URL('../../protocol/README.md', import.meta.url))
const entry = fileURLToPath(new URL('../../protocol/index.ts', import.meta.url))

/** The first ```ts block of the README, importing the library from this checkout instead of the package. */
async function example (): Promise<string> {
  const block = /```ts\n([\s\S]*?)```/.exec(await readFile(readme, 'utf8'))?.[1]
  if (block === undefined) throw new Error('protocol/README.md has no ts block')
  expect(block).toContain("from 'wasmesh/protocol'")
  return block.replaceAll("from 'wasmesh/protocol'", `from ${JSON.stringify(entry)}`)
}

describe('the example in protocol/README.md', () => {
  let dir: ScratchDir | undefined
  afterEach(async () => {
    vi.restoreAllMocks()
    await dir?.remove()
  })

  it('runs as written and prints what its comment says', async () => {
    const code = await example()
    // `console.log(x) // "HI"`: what the README promises is printed
    const promised = [...code.matchAll(/console\.log\(.*\)\s*\/\/\s*(.+)$/gm)].map(m => m[1].trim())
    expect(promised.length).toBeGreaterThan(0)
    // Written beside the test (vitest transforms TypeScript only inside the project), removed afterwards.
    dir = await scratchDir('readme', { under: fileURLToPath(new URL('.', import.meta.url)) })
    const file = join(dir.path, 'example.ts')
    await writeFile(file, code)
    const printed: string[] = []
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => { printed.push(args.map(String).join(' ')) })
    await import(file)
    expect(printed).toEqual(promised)
  })
})
