// The data directory's lock: one running node per directory, so that two nodes never share one identity.

import { randomBytes } from 'node:crypto'
import { unlinkSync } from 'node:fs'
import { link, mkdir, open, rename, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { NodeError } from './errors.ts'
import { errnoOf } from './identity.ts'

/** The lock file's name inside the data directory: the holder's pid and host, one line. */
export const LOCK_FILE = 'node.lock'

/** The largest lock file read: it holds a pid and a host name, so anything longer is not ours and counts as stale. */
const maxLockFileBytes = 4 * 1024

/** Takeovers of a stale lock raced by other starting nodes before giving up. */
const maxLockAttempts = 3

/** A held lock. `release` removes the file; the process's exit removes it too. */
export interface DataDirLock {
  readonly file: string
  release (): Promise<void>
}

// Locks this process holds, removed synchronously on exit (a second Ctrl-C, process.exit, an uncaught error).
const held = new Set<string>()
let exitHookInstalled = false

function onExit (): void {
  for (const file of held) {
    try { unlinkSync(file) } catch {}
  }
  held.clear()
}

interface Holder { pid: number, host: string }

function parseHolder (text: string): Holder | undefined {
  const m = /^(\d{1,10}) (\S{1,255})\n?$/.exec(text)
  if (m === null) return undefined
  const pid = Number(m[1])
  return pid > 0 ? { pid, host: m[2] } : undefined
}

async function readHolder (file: string): Promise<Holder | undefined | 'gone'> {
  try {
    const handle = await open(file, 'r')
    try {
      const { size } = await handle.stat()
      if (size > maxLockFileBytes) return undefined
      return parseHolder(await handle.readFile('utf8'))
    } finally {
      await handle.close()
    }
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return 'gone'
    throw err
  }
}

/** Whether the holder may still run: a pid of this host that exists (EPERM: another user's process), or any other host's. */
function alive (holder: Holder, file: string): boolean {
  if (holder.host !== hostname()) return true
  if (holder.pid === process.pid) return held.has(file)
  try {
    process.kill(holder.pid, 0)
    return true
  } catch (err) {
    return errnoOf(err) === 'EPERM'
  }
}

function lockedError (dataDir: string, file: string, holder: Holder): NodeError {
  const who = holder.pid === process.pid
    ? `another node in this process (pid ${holder.pid})`
    : holder.host === hostname() ? `a running wasmesh node (pid ${holder.pid})` : `a wasmesh node on host ${holder.host} (pid ${holder.pid})`
  return new NodeError('data-dir-locked', `the data directory ${dataDir} is in use by ${who}: two nodes there would share one identity (peer id). ` +
    `Give this node its own directory with --data-dir <dir>, or stop that node; if no such node runs, remove ${file}`)
}

/**
 * Takes `<dataDir>/node.lock` for this process, creating the directory (0700) if needed. The file is written
 * whole under a temporary name and linked into place, so it appears atomically with the pid in it. A lock whose
 * pid no longer runs on this host (a node killed with SIGKILL, a crash) is taken over; one held by a live
 * process is the `data-dir-locked` error naming the directory, the pid and what to do.
 */
export async function lockDataDir (dataDir: string): Promise<DataDirLock> {
  try {
    return await lock(dataDir)
  } catch (err) {
    if (err instanceof NodeError) throw err
    throw new NodeError('invalid-config', `cannot lock the data directory ${dataDir}: ${(err as Error).message}`, { cause: err })
  }
}

async function lock (dataDir: string): Promise<DataDirLock> {
  // absolute, so that two spellings of one directory in this process are one lock
  const file = join(resolve(dataDir), LOCK_FILE)
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const pidLine = `${process.pid} ${hostname()}\n`
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  const handle = await open(tmp, 'wx', 0o600)
  try {
    await handle.writeFile(pidLine)
  } finally {
    await handle.close()
  }
  try {
    for (let attempt = 0; attempt < maxLockAttempts; attempt++) {
      if (await claim(tmp, file, pidLine)) return heldLock(file)
      const holder = await readHolder(file)
      if (holder === 'gone') continue
      if (holder !== undefined && alive(holder, file)) throw lockedError(dataDir, file, holder)
      await takeOver(file, holder, dataDir)
    }
    throw new NodeError('data-dir-locked', `the data directory ${dataDir}: other nodes keep taking ${file} at the same time; give this node its own directory with --data-dir <dir>`)
  } finally {
    await unlink(tmp).catch(() => {})
  }
}

/** Links the written temporary file to the lock's name: false when the name exists. */
async function claim (tmp: string, file: string, pidLine: string): Promise<boolean> {
  try {
    await link(tmp, file)
    return true
  } catch (err) {
    const errno = errnoOf(err)
    if (errno === 'EEXIST') return false
    if (errno !== 'EPERM' && errno !== 'ENOTSUP' && errno !== 'ENOSYS' && errno !== 'EXDEV') throw err
  }
  // file systems without hard links: an exclusive create is still atomic, its content follows at once
  try {
    const handle = await open(file, 'wx', 0o600)
    try {
      await handle.writeFile(pidLine)
    } finally {
      await handle.close()
    }
    return true
  } catch (err) {
    if (errnoOf(err) === 'EEXIST') return false
    throw err
  }
}

/**
 * Moves a stale lock aside. Two nodes starting at once may both find it stale: only one rename wins, and the
 * loser, finding that what it moved is a live node's fresh lock, puts it back and reports it as held.
 */
async function takeOver (file: string, stale: Holder | undefined, dataDir: string): Promise<void> {
  const aside = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.stale`
  try {
    await rename(file, aside)
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return
    throw err
  }
  const moved = await readHolder(aside)
  if (moved !== 'gone' && moved !== undefined && (stale === undefined || moved.pid !== stale.pid || moved.host !== stale.host) && alive(moved, file)) {
    await link(aside, file).catch(() => {})
    await unlink(aside).catch(() => {})
    throw lockedError(dataDir, file, moved)
  }
  await unlink(aside).catch(() => {})
}

function heldLock (file: string): DataDirLock {
  if (!exitHookInstalled) {
    process.on('exit', onExit)
    exitHookInstalled = true
  }
  held.add(file)
  return {
    file,
    async release () {
      if (!held.delete(file)) return
      await unlink(file).catch(() => {})
    }
  }
}
