// A connection-encrypter wrapper that hands each encrypted message to the transport as one buffer (one socket write instead of one per piece) and reads them without an exception object per chunk.

import type { ConnectionEncrypter, MessageStream, SecureConnectionOptions, SecuredConnection } from '@libp2p/interface'

type Chunk = Parameters<MessageStream['send']>[0]

export interface WholeMessagesOptions {
  /** Lists up to this many bytes are joined (one copy); larger ones go out piece by piece. Default 64 KiB + a noise header and tag. */
  readonly joinBelowBytes?: number
}

const defaultJoinBelowBytes = 65_536 + 18

/**
 * js-libp2p's noise writes each message as a list of its 2-byte length and its ciphertext, and
 * `@libp2p/tcp` writes each piece of a list with its own `socket.write` (a syscall each). This
 * wraps the insecure connection an encrypter writes to so that a small list is joined first.
 */
function joinWrites (connection: MessageStream, joinBelowBytes: number): MessageStream {
  const send = connection.send.bind(connection)
  connection.send = (data: Chunk): boolean => {
    if (data instanceof Uint8Array || data.byteLength > joinBelowBytes) return send(data)
    return send(data.subarray())
  }
  return connection
}

/** Thrown whenever fewer than 2 bytes are buffered: made once, so that no stack is captured per message. */
const lengthNotYet = new RangeError('Could not decode int16BE')

/** noise's 2-byte message length, as `@libp2p/noise`'s `uint16BEDecode` reads it. */
function uint16BE (data: { readonly byteLength: number, getUint16?: (at: number) => number } & ArrayLike<number>): number {
  if (data.byteLength < 2) throw lengthNotYet
  return data instanceof Uint8Array ? (data[0] << 8) | data[1] : (data.getUint16 as (at: number) => number)(0)
}

/**
 * noise's length-prefixed decoder learns that a chunk is used up from its length decoder throwing a
 * RangeError, which `@libp2p/noise` creates anew each time: a stack trace captured for every chunk
 * received, 10-15 µs per call in the profile. The decoder stays; its length decoder throws one
 * RangeError made in advance.
 */
function cheapLengthDecoding (secured: SecuredConnection): SecuredConnection {
  const decoder = (secured.connection as { decoder?: { lengthDecoder?: unknown } }).decoder
  if (decoder !== undefined && typeof decoder.lengthDecoder === 'function') decoder.lengthDecoder = uint16BE
  return secured
}

/** `inner` (noise) with every encrypted message written whole, and read without an exception object per chunk. */
export function wholeMessages<C> (inner: (components: C) => ConnectionEncrypter, opts: WholeMessagesOptions = {}): (components: C) => ConnectionEncrypter {
  const joinBelowBytes = opts.joinBelowBytes ?? defaultJoinBelowBytes
  return (components) => {
    const encrypter = inner(components)
    return {
      protocol: encrypter.protocol,
      async secureOutbound (connection: MessageStream, options?: SecureConnectionOptions): Promise<SecuredConnection> {
        return cheapLengthDecoding(await encrypter.secureOutbound(joinWrites(connection, joinBelowBytes), options))
      },
      async secureInbound (connection: MessageStream, options?: SecureConnectionOptions): Promise<SecuredConnection> {
        return cheapLengthDecoding(await encrypter.secureInbound(joinWrites(connection, joinBelowBytes), options))
      }
    }
  }
}
