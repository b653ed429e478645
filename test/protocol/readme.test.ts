import { describe, expect, it } from 'vitest'
import { createTransportPair, invoke, parseWit, printWave, serve } from '../../protocol/index.ts'

describe('the example in protocol/README.md', () => {
  it('parses WIT, serves a function and invokes it over an in-memory transport', async () => {
    const wit = parseWit({ 'upper.wit': `
      package local:demo;
      interface upper { to-upper: func(msg: string) -> string; }
    ` })
    const fn = wit.findFunction('local:demo/upper', 'to-upper')!
    const [client, server] = createTransportPair()
    const served = serve(server, {
      lookup: (instance, name) => instance === 'local:demo/upper' && name === 'to-upper'
        ? { params: fn.params.map(p => p.type), results: fn.results, call: async ([msg]) => [String(msg).toUpperCase()] }
        : undefined
    })
    const [shout] = await invoke(client, 'local:demo/upper', 'to-upper', fn.params.map(p => p.type), ['hi'], fn.results)
    expect(printWave(fn.results[0], shout)).toBe('"HI"')
    await served
  })
})
