// Raw yamux frames and multistream-select messages, for tests that must control exactly which bytes arrive in one chunk.

export const SYN = 1
export const ACK = 2
export const FIN = 4
export const RST = 8

/** A yamux frame: version 0, type (0 data, 1 window update), flags, stream id, length (data length, or the window delta). */
export function frame (type: 0 | 1, flags: number, streamId: number, data: Uint8Array = new Uint8Array(0), windowDelta = 0): Uint8Array {
  const out = new Uint8Array(12 + (type === 0 ? data.length : 0))
  const view = new DataView(out.buffer)
  view.setUint8(0, 0)
  view.setUint8(1, type)
  view.setUint16(2, flags)
  view.setUint32(4, streamId)
  view.setUint32(8, type === 0 ? data.length : windowDelta)
  if (type === 0) out.set(data, 12)
  return out
}

export const data = (flags: number, streamId: number, bytes: Uint8Array): Uint8Array => frame(0, flags, streamId, bytes)
export const reset = (streamId: number): Uint8Array => frame(1, RST, streamId)
export const open = (streamId: number): Uint8Array => frame(1, SYN, streamId)

/** One multistream-select message: varint length, the text and its newline. */
export function mss (text: string): Uint8Array {
  const body = new TextEncoder().encode(`${text}\n`)
  const head: number[] = []
  let n = body.length
  while (n >= 0x80) { head.push((n & 0x7f) | 0x80); n >>>= 7 }
  head.push(n)
  return join(Uint8Array.from(head), body)
}

/** The dialer's opening of a lazy negotiation: the header and one proposal. */
export const proposal = (protocol: string): Uint8Array => join(mss('/multistream/1.0.0'), mss(protocol))

export function join (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}
