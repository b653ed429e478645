import { describe, expect, it } from 'vitest'
import { checkLinks, linkOptions, linkedResolver, parseLink, printLink } from '../../node/links.ts'

const PEER = '12D3KooWGRUVh7fnvVvvGuYkbo7eMEx5gk9ZQs9CVtrwXTKzkYWn'

describe('links', () => {
  it('parses label selectors, peer ids, packages and versions', () => {
    expect(parseLink('counter:wasi:keyvalue/store=tier=cache')).toEqual({ component: 'counter', target: 'wasi:keyvalue/store', labels: { tier: 'cache' } })
    expect(parseLink('counter:wasi:keyvalue=tier=cache,zone=eu-1')).toEqual({ component: 'counter', target: 'wasi:keyvalue', labels: { tier: 'cache', zone: 'eu-1' } })
    expect(parseLink(`*:wasi:keyvalue/store@0.2.0-draft=${PEER}`)).toEqual({ component: '*', target: 'wasi:keyvalue/store@0.2.0-draft', peer: PEER })
    expect(parseLink('counter:wasi:keyvalue/store=tier=')).toEqual({ component: 'counter', target: 'wasi:keyvalue/store', labels: { tier: '' } })
    for (const text of ['counter:wasi:keyvalue=tier=cache,zone=eu-1', `x:a:b/c@1.2.3=${PEER}`]) expect(printLink(parseLink(text))).toBe(text)
  })

  it('says what is wrong with a link that does not parse', () => {
    for (const [text, why] of [
      ['wasi:keyvalue/store=tier=cache', 'is not an interface'],
      ['counter:wasi:keyvalue/store', "no '='"],
      ['counter:wasi:keyvalue/store=', 'the selector is empty'],
      ['counter:keyvalue=tier=cache', 'is not an interface (ns:pkg/iface) or a package'],
      ['counter:wasi:Key_Value/store=tier=cache', 'is not a WIT name'],
      ['counter:wasi:keyvalue/store@two=tier=cache', 'is not a semver version'],
      ['counter:wasi:keyvalue/store=not-a-peer', 'neither labels (key=value) nor a peer id'],
      ['counter:wasi:keyvalue/store=a=1,a=2', 'label a is given twice'],
      ['counter:wasi:keyvalue/store=a=1,,b=2', 'is not key=value'],
      [':wasi:keyvalue/store=a=1', 'no component name']
    ]) {
      expect(() => parseLink(text), text).toThrow(expect.objectContaining({ code: 'invalid-link', message: expect.stringContaining(why) }))
    }
  })

  it('gives router options for the most specific links of a component\'s import', () => {
    const links = [
      parseLink('*:wasi:keyvalue=tier=cache'),
      parseLink('counter:wasi:keyvalue=zone=eu'),
      parseLink('counter:wasi:keyvalue/atomics=zone=us'),
      parseLink('counter:wasi:keyvalue/atomics=disk=ssd'),
      parseLink(`counter:wasi:keyvalue/batch@0.2.0-draft=${PEER}`)
    ]
    expect(linkOptions(links, 'other', 'wasi:keyvalue/store@0.2.0-draft')).toEqual({ labels: { tier: 'cache' } })
    expect(linkOptions(links, 'counter', 'wasi:keyvalue/store@0.2.0-draft')).toEqual({ labels: { zone: 'eu' } })
    expect(linkOptions(links, 'counter', 'wasi:keyvalue/atomics@0.2.0-draft')).toEqual({ labels: { zone: 'us', disk: 'ssd' } })
    expect(linkOptions(links, 'counter', 'wasi:keyvalue/batch@0.2.0-draft')).toEqual({ target: PEER })
    // a versioned link does not cover another version
    expect(linkOptions(links, 'counter', 'wasi:keyvalue/batch@0.3.0')).toEqual({ labels: { zone: 'eu' } })
    expect(linkOptions(links, 'counter', 'local:demo/upper')).toBeUndefined()
    // by digest as well as by name
    expect(linkOptions([parseLink('abc123:wasi:keyvalue=tier=db')], { name: 'counter', id: 'abc123' }, 'wasi:keyvalue/store@0.2.0-draft')).toEqual({ labels: { tier: 'db' } })
  })

  it('refuses links that contradict each other', () => {
    const links = [parseLink('counter:wasi:keyvalue=tier=cache'), parseLink('counter:wasi:keyvalue=tier=db')]
    expect(() => linkOptions(links, 'counter', 'wasi:keyvalue/store')).toThrow(expect.objectContaining({ code: 'invalid-link' }))
    expect(() => { checkLinks(links) }).toThrow(/tier to be both cache and db/)
    expect(() => { checkLinks([parseLink('counter:wasi:keyvalue@0.2.0-draft=tier=cache')]) }).not.toThrow()
  })

  it('wraps a call so that imports carry their component\'s links', async () => {
    const seen: unknown[] = []
    const resolve = linkedResolver([parseLink('counter:wasi:keyvalue=tier=cache')], async (iface, func, params, opts) => { seen.push([iface, func, opts]); return params })
    await resolve('wasi:keyvalue/store@0.2.0-draft', 'open', ['b'], { name: 'counter', id: 'd1' })
    await resolve('local:demo/host', 'log', ['x'], { name: 'counter', id: 'd1' })
    expect(seen).toEqual([['wasi:keyvalue/store@0.2.0-draft', 'open', { labels: { tier: 'cache' } }], ['local:demo/host', 'log', {}]])
  })
})
