import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LOCK_FILE } from '../../node/data-dir-lock.ts'
import { createNode } from '../../node/index.ts'
import type { MeshNode } from '../../node/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

const dirs: ScratchDir[] = []
const nodes: MeshNode[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  await Promise.all(dirs.splice(0).map(async d => { await d.remove() }))
})

async function dataDir (): Promise<string> {
  const dir = await scratchDir('lock')
  dirs.push(dir)
  return join(dir.path, 'data')
}

async function node (dir: string): Promise<MeshNode> {
  const n = await createNode({ dataDir: dir, logger: silentLogger })
  nodes.push(n)
  return n
}

/** The pid of a process that has exited. */
async function deadPid (): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise(resolve => child.once('exit', resolve))
  return child.pid!
}

const holder = async (dir: string): Promise<string> => await readFile(join(dir, LOCK_FILE), 'utf8')

describe('the data directory lock', () => {
  it('refuses a second node on the same directory until the first stops, then lets the first take it back on restart only when free', async () => {
    const dir = await dataDir()
    const first = await node(dir)
    expect(await holder(dir)).toBe(`${process.pid} ${hostname()}\n`)
    await expect(createNode({ dataDir: dir, logger: silentLogger })).rejects.toMatchObject({
      code: 'data-dir-locked',
      message: expect.stringContaining(`the data directory ${dir} is in use by another node in this process (pid ${process.pid})`)
    })
    await first.start()
    await first.stop()
    const second = await node(dir)
    expect(second.peerId).toBe(first.peerId)
    await expect(first.start()).rejects.toMatchObject({ code: 'data-dir-locked' })
    await second.stop()
    await first.start()
    expect(await holder(dir)).toBe(`${process.pid} ${hostname()}\n`)
  })

  it('takes over a lock whose pid no longer runs, or that holds no pid', async () => {
    const dir = await dataDir()
    await (await node(dir)).stop()
    await writeFile(join(dir, LOCK_FILE), `${await deadPid()} ${hostname()}\n`)
    await (await node(dir)).stop()
    await writeFile(join(dir, LOCK_FILE), 'not a lock')
    await node(dir)
    expect(await holder(dir)).toBe(`${process.pid} ${hostname()}\n`)
  })

  it('leaves alone a lock of another host, whose pid it cannot check', async () => {
    const dir = await dataDir()
    await (await node(dir)).stop()
    await writeFile(join(dir, LOCK_FILE), `4242 elsewhere.example\n`)
    await expect(createNode({ dataDir: dir, logger: silentLogger })).rejects.toMatchObject({
      code: 'data-dir-locked',
      message: expect.stringContaining('in use by a wasmesh node on host elsewhere.example (pid 4242)')
    })
  })
})
