// A connection-encrypter wrapper that hands each encrypted message to the transport as one buffer, so that a message costs one socket write instead of one per piece.

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

/** `inner` (noise) with every encrypted message written whole. */
export function wholeMessages<C> (inner: (components: C) => ConnectionEncrypter, opts: WholeMessagesOptions = {}): (components: C) => ConnectionEncrypter {
  const joinBelowBytes = opts.joinBelowBytes ?? defaultJoinBelowBytes
  return (components) => {
    const encrypter = inner(components)
    return {
      protocol: encrypter.protocol,
      async secureOutbound (connection: MessageStream, options?: SecureConnectionOptions): Promise<SecuredConnection> {
        return await encrypter.secureOutbound(joinWrites(connection, joinBelowBytes), options)
      },
      async secureInbound (connection: MessageStream, options?: SecureConnectionOptions): Promise<SecuredConnection> {
        return await encrypter.secureInbound(joinWrites(connection, joinBelowBytes), options)
      }
    }
  }
}
