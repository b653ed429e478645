// The lattice key: a 32-byte pre-shared key in the swarm.key format IPFS and libp2p-pnet use, which only members hold.

import { randomBytes } from 'node:crypto'
import { readPrivateFile } from './key-files.ts'
import { SecurityError } from './errors.ts'

/** The bytes of the key itself. */
export const latticeKeyBytes = 32
const header = '/key/swarm/psk/1.0.0/\n/base16/\n'

/** The text of a new lattice key file (`/key/swarm/psk/1.0.0/`, base16): the format `@libp2p/pnet` and go-ipfs read. */
export function newLatticeKeyFile (): string {
  return header + randomBytes(latticeKeyBytes).toString('hex') + '\n'
}

/**
 * Reads and checks a lattice key file: 0600, the swarm.key header, exactly 64 hex digits. Returns the
 * file's bytes in the canonical form `@libp2p/pnet` takes as its `psk` (no trailing newline).
 */
export async function readLatticeKey (path: string): Promise<Uint8Array> {
  const text = new TextDecoder().decode(await readPrivateFile(path, 'lattice key'))
  return parseLatticeKey(text, path)
}

export function parseLatticeKey (text: string, where = 'the lattice key'): Uint8Array {
  const lines = text.replace(/\r\n/g, '\n').split('\n').map(l => l.trim())
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  const [codec, encoding, key] = lines
  const remedy = "make one with 'wasmesh key new --out lattice.key' and give every member the same file"
  if (lines.length !== 3 || codec !== '/key/swarm/psk/1.0.0/' || encoding !== '/base16/') {
    throw new SecurityError('bad-key-file', `${where} is not a lattice key (expected the /key/swarm/psk/1.0.0/ /base16/ format): ${remedy}`)
  }
  if (!/^[0-9a-fA-F]+$/.test(key) || key.length !== latticeKeyBytes * 2) {
    throw new SecurityError('bad-key-file', `${where} must hold ${latticeKeyBytes * 2} hex digits (${latticeKeyBytes} bytes), not ${key.length} characters: ${remedy}`)
  }
  return new TextEncoder().encode(header + key.toLowerCase())
}
