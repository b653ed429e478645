// The private lattice's connection protector: `@libp2p/pnet` (XSalsa20 under the lattice key, before noise), with refusals told apart, counted and ended at once.

import { preSharedKey } from '@libp2p/pnet'
import type { AbortOptions, ConnectionProtector, MessageStream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { SecurityError } from './errors.ts'
import type { Refusals } from './refusals.ts'

/**
 * The first bytes every libp2p peer sends on a fresh connection, dialer and listener alike:
 * multistream-select's header (`/multistream/1.0.0\n`, length-prefixed). Under pnet they come
 * right after the 24-byte nonce, encrypted; a peer without a key sends them in the clear instead
 * of a nonce.
 */
const multistreamHeader = new TextEncoder().encode('\u0013/multistream/1.0.0\n')
const nonceBytes = 24

type Chunk = Uint8Array | Uint8ArrayList

interface Watched extends MessageStream {
  readonly remoteAddr?: { toString(): string }
  /** What AbstractMessageStream holds for a reader not attached yet. */
  readonly readBuffer?: Uint8ArrayList
  onData?(data: Chunk): void
}

/** The host part of a remote address (`/ip4/192.0.2.1/tcp/5123` -> `/ip4/192.0.2.1`): one attacker, one log budget, whatever its ports. */
function hostOf (addr: string): string {
  return /^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+/.exec(addr)?.[0] ?? addr
}

/**
 * `preSharedKey({ psk })` with what pnet leaves out: which refusal a failed handshake was. pnet
 * itself never notices a wrong key (XOR with the wrong stream gives garbage that noise's
 * multistream-select then waits on until a timeout), so this
 * - watches the remote's first 24 bytes, pnet's nonce: if they are a plain multistream header,
 *   the remote has no lattice key (`no-lattice-key`) and the connection is closed at once;
 * - checks the first decrypted bytes before the upgrader sees them: anything but the multistream
 *   header means another key (`lattice-key`), and the connection is closed at once;
 * - counts an inbound connection that ends before either as `handshake`.
 * Each refusal is counted and logged through `refusals`. The psk is the swarm.key file's bytes.
 */
export function latticeProtector (init: { psk: Uint8Array, refusals: Refusals }): () => ConnectionProtector {
  const inner = preSharedKey({ psk: init.psk })()
  return () => ({
    async protect (connection: MessageStream, options?: AbortOptions): Promise<MessageStream> {
      const conn = connection as Watched
      const remote = conn.remoteAddr?.toString() ?? 'an unknown address'
      const who = `${conn.direction === 'outbound' ? 'dialled' : 'connection from'} ${remote}`
      let settled = false
      const refuse = (reason: 'no-lattice-key' | 'lattice-key' | 'handshake', why: string): void => {
        if (settled) return
        settled = true
        init.refusals.refused(reason, hostOf(remote), `${who}: ${why}`)
      }
      // Only inbound: an outbound dial that ends early (aborted, timed out, the other address won) fails
      // in the caller's hands already, and is no peer knocking on this node's door.
      const onClose = (): void => { refuse('handshake', 'closed before proving it holds the lattice key') }
      if (conn.direction === 'inbound') conn.addEventListener('close', onClose, { once: true })

      // The nonce as it arrives: pnet's own reader was attached synchronously by the call below
      // (byteStream), so this second listener only observes, it takes nothing away from it.
      const protecting = inner.protect(connection, options)
      let seen = 0
      const head = new Uint8Array(nonceBytes)
      const onRawMessage = (evt: Event): void => {
        const data = (evt as unknown as { data: Chunk }).data
        const bytes = data instanceof Uint8Array ? data : data.subarray()
        const take = Math.min(bytes.byteLength, nonceBytes - seen)
        head.set(bytes.subarray(0, take), seen)
        seen += take
        if (seen < multistreamHeader.byteLength && take === bytes.byteLength) return
        conn.removeEventListener('message', onRawMessage)
        if (seen >= multistreamHeader.byteLength && startsWith(head, multistreamHeader)) {
          refuse('no-lattice-key', 'spoke plain libp2p to a private lattice: it has no lattice key')
          conn.abort(new SecurityError('lattice-key-missing', `${remote} has no lattice key`))
        }
      }
      conn.addEventListener('message', onRawMessage)

      let box: Watched
      try {
        box = await protecting as Watched
      } catch (err) {
        if (conn.direction === 'inbound') refuse('handshake', `no nonce exchanged (${(err as Error).message})`)
        throw err
      } finally {
        conn.removeEventListener('message', onRawMessage)
      }
      // Hold the first decrypted bytes until they are the multistream header: the upgrader
      // never reads a byte from a peer with another key. Bytes that came with the nonce are
      // already in the box's read buffer (pnet handed them back to the connection, and the box
      // decrypted them before this line ran): they are checked where they are.
      let checked = 0
      const check = (bytes: Uint8Array): 'more' | 'proven' | 'wrong' => {
        const n = Math.min(bytes.byteLength, multistreamHeader.byteLength - checked)
        for (let i = 0; i < n; i++) if (bytes[i] !== multistreamHeader[checked + i]) return 'wrong'
        checked += n
        return checked < multistreamHeader.byteLength ? 'more' : 'proven'
      }
      const wrongKey = (): void => {
        refuse('lattice-key', 'its bytes are not under this lattice\'s key (a member of another private lattice, or not a libp2p peer)')
        box.abort(new SecurityError('lattice-key-mismatch', `${remote} does not hold this lattice's key`))
      }
      const proven = (): void => {
        settled = true
        conn.removeEventListener('close', onClose)
      }
      const early = box.readBuffer?.subarray() ?? new Uint8Array(0)
      const first = early.byteLength === 0 ? 'more' : check(early)
      if (first === 'wrong') { wrongKey(); return box }
      if (first === 'proven') { proven(); return box }
      const deliver = box.onData?.bind(box)
      if (deliver === undefined) return box
      const held: Uint8Array[] = []
      box.onData = (data: Chunk): void => {
        const bytes = data instanceof Uint8Array ? data : data.subarray()
        const verdict = check(bytes)
        if (verdict === 'wrong') {
          delete box.onData
          wrongKey()
          return
        }
        held.push(bytes)
        if (verdict === 'more') return
        // proven: from here on the stream is pnet's own
        delete box.onData
        proven()
        for (const b of held) deliver(b)
      }
      return box
    }
  })
}

function startsWith (bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.byteLength < prefix.byteLength) return false
  for (let i = 0; i < prefix.byteLength; i++) if (bytes[i] !== prefix[i]) return false
  return true
}
