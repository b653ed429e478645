// HTTP header fields in their three forms: the wire's grouped `fields`, wasi:http's `[name, value]` entries, and Node's raw header lists.

/** `list<tuple<string, list<list<u8>>>>`: each name once, with all its values. */
export type WireFields = Array<[string, Uint8Array[]]>
/** `[name, value]` pairs in order, as wasi:http's `fields.entries()` lists them. */
export type FieldEntries = Array<[string, Uint8Array]>

const encoder = new TextEncoder()

/** Hop-by-hop headers (RFC 9110 7.6.1) and `host` (the request's authority carries it): never passed across the gateway. */
export const hopByHop: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'http2-settings', 'host'
])

export function entriesOf (fields: WireFields): FieldEntries {
  const out: FieldEntries = []
  for (const [name, values] of fields) for (const v of values) out.push([name, v])
  return out
}

export function wireOf (entries: FieldEntries): WireFields {
  const byName = new Map<string, Uint8Array[]>()
  for (const [name, value] of entries) {
    const key = name.toLowerCase()
    let values = byName.get(key)
    if (values === undefined) byName.set(key, values = [])
    values.push(value)
  }
  return [...byName]
}

/** Node's `rawHeaders` (`[name, value, name, value, ...]`) as wire fields, hop-by-hop ones left out. */
export function wireOfRaw (raw: readonly string[]): WireFields {
  const entries: FieldEntries = []
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!hopByHop.has(raw[i].toLowerCase())) entries.push([raw[i], encoder.encode(raw[i + 1])])
  }
  return wireOf(entries)
}

/** Wire fields as Node's flat header list for `writeHead` (latin1, as HTTP/1.1 carries them), hop-by-hop ones left out. */
export function rawOfWire (fields: WireFields): string[] {
  const out: string[] = []
  for (const [name, values] of fields) {
    if (hopByHop.has(name.toLowerCase())) continue
    for (const v of values) out.push(name, Buffer.from(v).toString('latin1'))
  }
  return out
}
