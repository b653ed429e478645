// The node's persistent Ed25519 identity: one protobuf-marshalled private key in the data directory, created once and never silently replaced.

import { randomBytes } from 'node:crypto'
import { link, mkdir, open, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'

/** Stable codes of identity failures. Never renamed once published. */
export type IdentityErrorCode =
  | 'identity-corrupt'      // the key file exists but cannot be read or does not hold an Ed25519 key
  | 'identity-permissions'  // the key file is readable by group or others
  | 'identity-io'           // the data directory or a new key file cannot be written

export class IdentityError extends Error {
  override readonly name: string = 'IdentityError'
  readonly code: IdentityErrorCode
  /** The key file concerned. */
  readonly file: string

  constructor (code: IdentityErrorCode, file: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.file = file
  }
}

/** The key file's name inside the data directory. */
export const IDENTITY_FILE = 'identity.key'

/** The largest key file read: an Ed25519 protobuf is 68 bytes, so anything near this is not a key. */
const maxKeyFileBytes = 64 * 1024

/** Permission checks follow POSIX modes; Windows has none worth checking this way. */
const checkModes = process.platform !== 'win32'

/** The errno name (`ENOENT`, ...) of a failed file-system call. */
export function errnoOf (err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

function messageOf (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * The node's private key from `<dataDir>/identity.key`, created (mode 0600, directory 0700) on
 * first start. A file that cannot be read or decoded is an `identity-corrupt` error and is left
 * alone: replacing it would silently give the node a new peer id. A file readable by group or
 * others is refused with `identity-permissions`, as ssh refuses such keys.
 */
export async function loadOrCreateIdentity (dataDir: string): Promise<PrivateKey> {
  const file = join(dataDir, IDENTITY_FILE)
  const existing = await readKeyFile(file)
  if (existing != null) return existing
  return await createKeyFile(dataDir, file)
}

/** The key in `file`, or null when there is no such file. */
async function readKeyFile (file: string): Promise<PrivateKey | null> {
  let bytes: Uint8Array
  try {
    // stat the opened handle, not the path, so the mode checked is the mode of the bytes read
    const handle = await open(file, 'r')
    try {
      const st = await handle.stat()
      if (!st.isFile()) {
        throw new IdentityError('identity-corrupt', file, `${file} is not a regular file; move it away (a new identity is then created) or restore the node's key file`)
      }
      if (checkModes && (st.mode & 0o077) !== 0) {
        throw new IdentityError('identity-permissions', file, `${file} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); run \`chmod 600 ${file}\``)
      }
      if (st.size > maxKeyFileBytes) {
        throw new IdentityError('identity-corrupt', file, `${file} is ${st.size} bytes, too large to be a key; restore the node's key file or move it away to create a new identity`)
      }
      bytes = await handle.readFile()
    } finally {
      await handle.close()
    }
  } catch (err) {
    if (err instanceof IdentityError) throw err
    if (errnoOf(err) === 'ENOENT') return null
    throw new IdentityError('identity-corrupt', file, `cannot read ${file}: ${messageOf(err)}; fix its ownership or restore it (it is never replaced automatically)`, { cause: err })
  }
  let key: PrivateKey
  try {
    key = privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new IdentityError('identity-corrupt', file, `${file} does not hold a libp2p private key (${messageOf(err)}); restore it from a backup, or move it away to start with a new peer id`, { cause: err })
  }
  if (key.type !== 'Ed25519') {
    throw new IdentityError('identity-corrupt', file, `${file} holds a ${key.type} key; wasmesh identities are Ed25519: move it away to create one`)
  }
  return key
}

/** Writes a new key via a temporary file and an exclusive link, so a crash or a concurrent start never leaves a half-written or swapped key. */
async function createKeyFile (dataDir: string, file: string): Promise<PrivateKey> {
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw new IdentityError('identity-io', file, `cannot create the data directory ${dataDir}: ${messageOf(err)}`, { cause: err })
  }
  const key = await generateKeyPair('Ed25519')
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  try {
    const handle = await open(tmp, 'wx', 0o600)
    try {
      await handle.writeFile(privateKeyToProtobuf(key))
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw new IdentityError('identity-io', file, `cannot write a new identity in ${dataDir}: ${messageOf(err)}`, { cause: err })
  }
  try {
    // link fails when the name exists: a node started at the same moment keeps its key and we load it
    await link(tmp, file)
  } catch (err) {
    const errno = errnoOf(err)
    if (errno === 'EEXIST') {
      await unlink(tmp).catch(() => {})
      const winner = await readKeyFile(file)
      if (winner != null) return winner
    }
    if (errno !== 'EPERM' && errno !== 'ENOTSUP' && errno !== 'ENOSYS' && errno !== 'EXDEV') {
      await unlink(tmp).catch(() => {})
      throw new IdentityError('identity-io', file, `cannot create ${file}: ${messageOf(err)}`, { cause: err })
    }
    // file systems without hard links: rename is still atomic
    try {
      await rename(tmp, file)
    } catch (err2) {
      await unlink(tmp).catch(() => {})
      throw new IdentityError('identity-io', file, `cannot create ${file}: ${messageOf(err2)}`, { cause: err2 })
    }
    return key
  }
  await unlink(tmp).catch(() => {})
  return key
}
