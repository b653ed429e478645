import { describe, expect, it } from 'vitest'
import { parseWit, printType, printWit } from '../../../protocol/wit/index.ts'
import { dumpWit, fixture, referenceFiles } from './helpers.ts'

describe('reference WIT (wit/deps, from shared/reference/wit)', () => {
  it('resolves wasi:keyvalue@0.2.0-draft with its real signatures', () => {
    const wit = parseWit(referenceFiles('wasi-keyvalue-0.2.0-draft'))
    expect(wit.packages.map(p => p.name)).toEqual([{ namespace: 'wasi', name: 'keyvalue', version: '0.2.0-draft' }])

    const get = wit.findFunction('wasi:keyvalue/store@0.2.0-draft', '[method]bucket.get')
    expect(get).toBeDefined()
    expect(get?.kind).toBe('method')
    expect(get?.resource).toBe('bucket')
    expect(get?.params.map(p => `${p.name}: ${printType(p.type)}`)).toEqual(['self: borrow<bucket>', 'key: string'])
    expect(get?.results.map(r => printType(r))).toEqual(['result<option<list<u8>>, error>'])
    expect(get?.docs).toMatch(/^Get the value associated with the specified `key`/)

    const store = wit.findInterface('wasi:keyvalue/store')
    expect(store?.id).toBe('wasi:keyvalue/store@0.2.0-draft')
    expect([...store?.functions.keys() ?? []]).toEqual([
      'open', '[method]bucket.get', '[method]bucket.set', '[method]bucket.delete', '[method]bucket.exists',
      '[method]bucket.list-keys'
    ])
    const error = store?.types.get('error')
    expect(error?.kind).toBe('variant')
    expect(error?.kind === 'variant' && error.cases.map(c => c.name)).toEqual(['no-such-store', 'access-denied', 'other'])

    // `use store.{bucket, error}` shares the very same definitions.
    const increment = wit.findFunction('wasi:keyvalue/atomics@0.2.0-draft', 'increment')
    expect(increment?.params.map(p => printType(p.type))).toEqual(['borrow<bucket>', 'string', 'u64'])
    const bucketParam = increment?.params[0].type
    expect(bucketParam?.kind === 'borrow' && bucketParam.resource).toBe(store?.types.get('bucket'))
    expect(printType(wit.findFunction('wasi:keyvalue/batch', 'get-many')?.results[0] ?? { kind: 'bool' }))
      .toBe('result<list<option<tuple<string, list<u8>>>>, error>')
    // A bare resource name is an owned handle.
    expect(wit.findFunction('wasi:keyvalue/watcher', 'on-set')?.params[0].type.kind).toBe('own')
    expect(printType(wit.findFunction('wasi:keyvalue/store', 'open')?.results[0] ?? { kind: 'bool' })).toBe('result<bucket, error>')

    const service = wit.findWorld('wasi:keyvalue/watch-service')
    expect([...service?.imports.keys() ?? []]).toEqual([
      'wasi:keyvalue/store@0.2.0-draft', 'wasi:keyvalue/atomics@0.2.0-draft', 'wasi:keyvalue/batch@0.2.0-draft'
    ])
    expect([...service?.exports.keys() ?? []]).toEqual(['wasi:keyvalue/watcher@0.2.0-draft'])
  })

  it('resolves wasmcloud:postgres@0.2.0-draft and the provider world of another package', () => {
    const wit = parseWit(referenceFiles('wasmcloud-postgres-0.2.0-draft'))
    expect(wit.packages.map(p => `${p.name.namespace}:${p.name.name}@${p.name.version ?? ''}`).sort())
      .toEqual(['wasmcloud:postgres@0.2.0-draft', 'wasmcloud:providers@'])

    const query = wit.findFunction('wasmcloud:postgres/query@0.2.0-draft', 'query')
    expect(query?.params.map(p => `${p.name}: ${printType(p.type)}`)).toEqual(['query: string', 'params: list<pg-value>'])
    // `result-row` is an alias, resolved away into the list of entries it stands for.
    expect(printType(query?.results[0] ?? { kind: 'bool' })).toBe('result<list<list<result-row-entry>>, query-error>')

    const pgValue = wit.findInterface('wasmcloud:postgres/types')?.types.get('pg-value')
    expect(pgValue?.kind).toBe('variant')
    if (pgValue?.kind !== 'variant') return
    expect(pgValue.cases[0]).toEqual({ name: 'null', type: null })
    // `%bool(bool)` is the case named `bool`.
    expect(pgValue.cases.find(c => c.name === 'bool')?.type).toEqual({ kind: 'bool' })
    const double = pgValue.cases.find(c => c.name === 'double')?.type
    expect(double && printType(double)).toBe('tuple<u64, s16, s8>')

    const ctor = wit.findFunction('wasmcloud:postgres/transaction', '[constructor]transaction')
    expect(ctor?.params).toEqual([])
    expect(ctor?.results.map(r => printType(r))).toEqual(['transaction'])
    expect(ctor?.results[0].kind).toBe('own')
    const commit = wit.findFunction('wasmcloud:postgres/transaction', '[static]transaction.commit')
    expect(commit?.params.map(p => `${p.name}: ${printType(p.type)}`)).toEqual(['this: transaction'])
    expect(wit.findFunction('wasmcloud:postgres/transaction', 'transaction.query')?.name).toBe('[method]transaction.query')

    const provider = wit.findWorld('wasmcloud:providers/provider-sqldb-postgres')
    expect([...provider?.exports.keys() ?? []]).toEqual([
      'wasmcloud:postgres/transaction@0.2.0-draft', 'wasmcloud:postgres/query@0.2.0-draft', 'wasmcloud:postgres/prepared@0.2.0-draft'
    ])
    // Exported interfaces `use` types, whose interface the world therefore imports.
    expect([...provider?.imports.keys() ?? []]).toEqual(['wasmcloud:postgres/types@0.2.0-draft'])
  })

  it('resolves both reference packages together when each folder has its headers', () => {
    const wit = parseWit({ ...referenceFiles('wasi-keyvalue-0.2.0-draft'), ...referenceFiles('wasmcloud-postgres-0.2.0-draft') })
    expect(wit.packages).toHaveLength(3)
    expect(wit.findInterface('wasi:keyvalue/batch')?.functions.size).toBe(3)
  })

  it('prints the reference packages as WIT that re-parses to the same model', () => {
    for (const folder of ['wasi-keyvalue-0.2.0-draft', 'wasmcloud-postgres-0.2.0-draft']) {
      const wit = parseWit(referenceFiles(folder))
      const text = printWit(wit)
      const again = parseWit({ 'printed.wit': text })
      expect(dumpWit(again)).toEqual(dumpWit(wit))
      expect(printWit(again)).toBe(text)
    }
  })
})

describe('componentWit-style text: a root world and nested package blocks', () => {
  const text = fixture('component.wit')

  it('resolves every package of the one file, including packages used before they are defined', () => {
    const wit = parseWit({ 'component.wit': text })
    expect(wit.packages.map(p => `${p.name.namespace}:${p.name.name}${p.name.version !== undefined ? `@${p.name.version}` : ''}`)).toEqual([
      'root:component', 'wasi:cli@0.2.3', 'wasi:io@0.2.3', 'wasi:random@0.2.3', 'local:demo'
    ])
    const root = wit.findWorld('root:component/root')
    expect([...root?.imports.keys() ?? []]).toEqual([
      'wasi:cli/environment@0.2.3', 'wasi:io/error@0.2.3', 'wasi:io/poll@0.2.3', 'wasi:io/streams@0.2.3',
      'wasi:cli/stdout@0.2.3', 'wasi:random/random@0.2.3', 'local:demo/host'
    ])
    expect([...root?.exports.keys() ?? []]).toEqual(['init', 'local:demo/upper'])
    const init = root?.exports.get('init')
    expect(init?.kind === 'function' && init.func.params).toEqual([])
    expect(wit.findFunction('root:component/root', 'init')?.name).toBe('init')

    expect(wit.findFunction('wasi:cli/environment', 'get-environment')?.docs).toBe('Get the POSIX-style environment variables.')
    const splice = wit.findFunction('wasi:io/streams@0.2.3', '[method]output-stream.splice')
    expect(splice?.params.map(p => `${p.name}: ${printType(p.type)}`)).toEqual(['self: borrow<output-stream>', 'src: borrow<input-stream>', 'len: u64'])
    const stdout = wit.findFunction('wasi:cli/stdout', 'get-stdout')
    const out = stdout?.results[0]
    expect(out?.kind === 'own' && out.resource.owner).toBe('wasi:io/streams@0.2.3')
    expect(printType(wit.findFunction('local:demo/host', 'fetch')?.results[0] ?? { kind: 'bool' })).toBe('result<list<entry>, string>')
    expect(wit.findFunction('local:demo/upper', 'upper')?.params.map(p => printType(p.type))).toEqual(['string'])
  })

  it('round-trips through printWit', () => {
    const wit = parseWit({ 'component.wit': text })
    const again = parseWit({ 'printed.wit': printWit(wit) })
    expect(dumpWit(again)).toEqual(dumpWit(wit))
  })
})
