// Caps the linear memories a core module defines at an instance's memory limit, so a guest cannot grow past it while it runs.
import { ByteReader, ByteWriter } from '../../protocol/leb128.ts'
import { RuntimeError } from './errors.ts'

const MEMORY_SECTION = 5
const HAS_MAX = 0x01
const MEMORY64 = 0x04
const CUSTOM_PAGE_SIZE = 0x08
const KNOWN_FLAGS = 0x0f
const WASM_PAGE_BYTES = 65536

/**
 * Rewrites the memory section of core module `bytes` so that each memory's maximum is at most
 * `maxBytes` (in whole pages): `memory.grow` past it then returns -1 inside the guest, the way
 * wasmtime's ResourceLimiter refuses it, and the guest's allocator fails (usually a trap). A JS
 * guest engine keeps its heap in this memory, so this is the cap that bounds it. Imported memories
 * are left alone: the module that defines them is capped. Bytes with no memory section, or one
 * using flags this does not know, come back unchanged.
 */
export function capMemories (bytes: Uint8Array, maxBytes: number, name = 'core module'): Uint8Array {
  try {
    return rewrite(bytes, maxBytes, name)
  } catch (err) {
    if (err instanceof RuntimeError) throw err
    throw new RuntimeError('invalid-component', `${name} does not decode: ${(err as Error).message}`, { cause: err })
  }
}

function rewrite (bytes: Uint8Array, maxBytes: number, name: string): Uint8Array {
  // After the magic number and version.
  const r = new ByteReader(bytes, 8)
  while (r.remaining > 0) {
    const start = r.pos
    const id = r.u8()
    const size = r.u32()
    const body = r.view(size)
    if (id !== MEMORY_SECTION) continue
    const section = cappedSection(body, maxBytes, name)
    if (section === null) return bytes
    const w = new ByteWriter(bytes.length + 16)
    w.bytes(bytes.subarray(0, start))
    w.u8(MEMORY_SECTION)
    w.u32(section.length)
    w.bytes(section)
    w.bytes(bytes.subarray(r.pos))
    return w.finish()
  }
  return bytes
}

/** The memory section with every maximum capped, or null when it uses what this does not know. */
function cappedSection (body: Uint8Array, maxBytes: number, name: string): Uint8Array | null {
  const r = new ByteReader(body)
  const w = new ByteWriter(body.length + 16)
  const count = r.u32()
  w.u32(count)
  for (let i = 0; i < count; i++) {
    const flags = r.u8()
    if ((flags & ~KNOWN_FLAGS) !== 0) return null
    const wide = (flags & MEMORY64) !== 0
    const read = (): number => wide ? Number(r.u64()) : r.u32()
    const min = read()
    const max = (flags & HAS_MAX) !== 0 ? read() : Number.POSITIVE_INFINITY
    const pageLog2 = (flags & CUSTOM_PAGE_SIZE) !== 0 ? r.u32() : 16
    const pageBytes = pageLog2 === 16 ? WASM_PAGE_BYTES : 2 ** pageLog2
    const capPages = Math.floor(maxBytes / pageBytes)
    if (min > capPages) {
      throw new RuntimeError('invalid-component', `${name} starts with ${min * pageBytes} bytes of memory, over maxInstanceMemoryBytes (${maxBytes})`)
    }
    w.u8(flags | HAS_MAX)
    // Unsigned LEB128 is the same for 32- and 64-bit limits.
    w.u32(min)
    w.u32(Math.min(max, capPages))
    if ((flags & CUSTOM_PAGE_SIZE) !== 0) w.u32(pageLog2)
  }
  if (r.remaining !== 0) return null
  return w.finish()
}
