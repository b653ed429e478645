// Value codec throughput against memory copy and JSON on the same data, in the same run.

import { encodeValue, decodeValue } from '../../protocol/value.ts'
import type { Type } from '../../protocol/wit/model.ts'
import { measure, table } from './harness.ts'

const bytesType: Type = { kind: 'list', element: { kind: 'u8' } }
const recordType: Type = {
  kind: 'list',
  element: {
    kind: 'record',
    name: 'point',
    fields: [
      { name: 'id', type: { kind: 'u32' } },
      { name: 'label', type: { kind: 'string' } },
      { name: 'x', type: { kind: 'f64' } },
      { name: 'y', type: { kind: 'f64' } },
      { name: 'visible', type: { kind: 'bool' } }
    ]
  }
}
const stringType: Type = { kind: 'string' }

export async function run (): Promise<string> {
  const mib = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff)
  const mibEncoded = encodeValue(bytesType, mib)
  const mibJson = JSON.stringify(Array.from(mib))
  const copyTarget = new Uint8Array(mib.length)

  const records = Array.from({ length: 10_000 }, (_, i) => ({ id: i, label: `point-${i}`, x: i * 0.5, y: -i / 3, visible: (i & 1) === 0 }))
  const recordsEncoded = encodeValue(recordType, records)
  const recordsJson = JSON.stringify(records)

  const long = 'wasmesh ünïcode — '.repeat(60_000)
  const longEncoded = encodeValue(stringType, long)
  const longJson = JSON.stringify(long)

  // Two floors: a copy into a buffer that already exists (cache-hot), and slice(), which allocates a fresh buffer as a codec must.
  const copy = measure({ name: 'copy 1 MiB into an existing buffer', bytes: mib.length, fn: () => { copyTarget.set(mib); return copyTarget } })
  const slice = measure({ name: 'slice() 1 MiB (allocate + copy)', bytes: mib.length, fn: () => mib.slice() })
  const rows = [
    { sample: copy },
    { sample: slice },
    { sample: measure({ name: 'encode list<u8> 1 MiB', bytes: mib.length, fn: () => encodeValue(bytesType, mib) }), baseline: slice },
    { sample: measure({ name: 'decode list<u8> 1 MiB (copy)', bytes: mib.length, fn: () => decodeValue(bytesType, mibEncoded) }), baseline: slice },
    { sample: measure({ name: 'decode list<u8> 1 MiB (view, no copy)', bytes: mib.length, fn: () => decodeValue(bytesType, mibEncoded, { copy: false }) }), baseline: slice }
  ]
  const jsonBytesStringify = measure({ name: 'JSON.stringify 1 MiB as array', bytes: mib.length, fn: () => JSON.stringify(Array.from(mib)) })
  const jsonBytesParse = measure({ name: 'JSON.parse 1 MiB as array', bytes: mib.length, fn: () => JSON.parse(mibJson) })
  rows.push({ sample: jsonBytesStringify }, { sample: jsonBytesParse })

  const jsonRecStringify = measure({ name: 'JSON.stringify 10,000 records', fn: () => JSON.stringify(records) })
  const jsonRecParse = measure({ name: 'JSON.parse 10,000 records', fn: () => JSON.parse(recordsJson) })
  rows.push(
    { sample: jsonRecStringify },
    { sample: measure({ name: 'encode list<record> 10,000', fn: () => encodeValue(recordType, records) }), baseline: jsonRecStringify },
    { sample: jsonRecParse },
    { sample: measure({ name: 'decode list<record> 10,000', fn: () => decodeValue(recordType, recordsEncoded) }), baseline: jsonRecParse }
  )

  const jsonStrStringify = measure({ name: `JSON.stringify string ${(long.length / 1e6).toFixed(1)}M chars`, fn: () => JSON.stringify(long) })
  const jsonStrParse = measure({ name: 'JSON.parse same string', fn: () => JSON.parse(longJson) })
  rows.push(
    { sample: jsonStrStringify },
    { sample: measure({ name: 'encode same string', fn: () => encodeValue(stringType, long) }), baseline: jsonStrStringify },
    { sample: jsonStrParse },
    { sample: measure({ name: 'decode same string', fn: () => decodeValue(stringType, longEncoded) }), baseline: jsonStrParse }
  )
  return `### Value codec (protocol/value.ts)\n\n${table(rows)}\n\nencoded sizes: list<u8> ${mibEncoded.length} B (JSON ${mibJson.length} B); 10,000 records ${recordsEncoded.length} B (JSON ${recordsJson.length} B); string ${longEncoded.length} B (JSON ${longJson.length} B)`
}
