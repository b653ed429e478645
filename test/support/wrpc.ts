// Hand-made wRPC bytes the tests share: the head of a call whose `list<u8>` parameter is still to come.

import { encodeHeader } from '../../protocol/frame.ts'
import { concat } from './bytes.ts'

/** Unsigned LEB128. */
export function uleb (n: number): Uint8Array {
  const out: number[] = []
  do {
    out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0))
    n = Math.floor(n / 128)
  } while (n > 0)
  return Uint8Array.from(out)
}

/** The opening of a call of `instance#name` and its root frame's head, declaring one `list<u8>` of `length` bytes: the bytes themselves follow. */
export function byteListCallHead (instance: string, name: string, length: number): Uint8Array {
  const list = uleb(length)
  return concat(Uint8Array.of(0), encodeHeader({ instance, name }), Uint8Array.of(0), uleb(list.length + length), list)
}
