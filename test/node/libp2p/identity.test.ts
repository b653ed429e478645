import { describe, it, expect, afterEach } from 'vitest'
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadOrCreateIdentity, IdentityError, IDENTITY_FILE } from '../../../node/identity.ts'
import { scratchDir } from '../../support/scratch.ts'
import type { ScratchDir } from '../../support/scratch.ts'

const posix = process.platform !== 'win32'
const dirs: ScratchDir[] = []

async function tempDir (): Promise<string> {
  const dir = await scratchDir('identity')
  dirs.push(dir)
  return dir.path
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map(async d => { await d.remove() }))
})

async function identityError (p: Promise<unknown>): Promise<IdentityError> {
  const err = await p.then(() => null, (e: unknown) => e)
  expect(err).toBeInstanceOf(IdentityError)
  return err as IdentityError
}

describe('loadOrCreateIdentity', () => {
  it('creates an Ed25519 key with mode 0600 in a 0700 directory on first start', async () => {
    const dataDir = join(await tempDir(), 'node-data')
    const key = await loadOrCreateIdentity(dataDir)
    expect(key.type).toBe('Ed25519')
    const file = join(dataDir, IDENTITY_FILE)
    if (posix) {
      expect((await stat(file)).mode & 0o777).toBe(0o600)
      expect((await stat(dataDir)).mode & 0o777).toBe(0o700)
    }
    // no temporary files left behind
    expect(await readdir(dataDir)).toEqual([IDENTITY_FILE])
  })

  it('reuses the key: the same peer id on every later start', async () => {
    const dataDir = await tempDir()
    const first = await loadOrCreateIdentity(dataDir)
    const bytes = await readFile(join(dataDir, IDENTITY_FILE))
    const second = await loadOrCreateIdentity(dataDir)
    expect(peerIdFromPrivateKey(second).toString()).toBe(peerIdFromPrivateKey(first).toString())
    expect(await readFile(join(dataDir, IDENTITY_FILE))).toEqual(bytes)
  })

  it('two nodes starting at once in one data directory end up with the same identity', async () => {
    const dataDir = await tempDir()
    const keys = await Promise.all([loadOrCreateIdentity(dataDir), loadOrCreateIdentity(dataDir), loadOrCreateIdentity(dataDir)])
    const ids = new Set(keys.map(k => peerIdFromPrivateKey(k).toString()))
    expect(ids.size).toBe(1)
    expect(await readdir(dataDir)).toEqual([IDENTITY_FILE])
  })

  it('refuses a corrupt key file with identity-corrupt and leaves it in place', async () => {
    const dataDir = await tempDir()
    const file = join(dataDir, IDENTITY_FILE)
    await writeFile(file, Uint8Array.of(0x08, 0x01, 0x12, 0x40, 1, 2, 3), { mode: 0o600 })
    const err = await identityError(loadOrCreateIdentity(dataDir))
    expect(err.code).toBe('identity-corrupt')
    expect(err.file).toBe(file)
    expect(err.message).toContain(file)
    expect(err.message).toMatch(/restore|move it away/)
    expect(await readFile(file)).toEqual(Buffer.from([0x08, 0x01, 0x12, 0x40, 1, 2, 3]))
  })

  it('refuses an empty key file as corrupt', async () => {
    const dataDir = await tempDir()
    await writeFile(join(dataDir, IDENTITY_FILE), new Uint8Array(0), { mode: 0o600 })
    expect((await identityError(loadOrCreateIdentity(dataDir))).code).toBe('identity-corrupt')
  })

  it.runIf(posix)('refuses a key file readable by group or others with identity-permissions, saying how to fix it', async () => {
    const dataDir = await tempDir()
    await loadOrCreateIdentity(dataDir)
    const file = join(dataDir, IDENTITY_FILE)
    for (const mode of [0o644, 0o640, 0o604]) {
      await chmod(file, mode)
      const err = await identityError(loadOrCreateIdentity(dataDir))
      expect(err.code).toBe('identity-permissions')
      expect(err.message).toContain(`chmod 600 ${file}`)
    }
    await chmod(file, 0o600)
    expect((await loadOrCreateIdentity(dataDir)).type).toBe('Ed25519')
  })

  it('a key path that is not a readable file is an error, never replaced', async () => {
    const dataDir = await tempDir()
    await mkdir(join(dataDir, IDENTITY_FILE))
    const err = await identityError(loadOrCreateIdentity(dataDir))
    expect(err.code).toBe('identity-corrupt')
    expect((await stat(join(dataDir, IDENTITY_FILE))).isDirectory()).toBe(true)
  })
})
