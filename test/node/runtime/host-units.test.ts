// The host interfaces' pieces on their own: wasmcloud:bus 2.x answers, log bounds and redaction, the outgoing-request budget.
import { describe, expect, it } from 'vitest'
import { types } from '@bytecodealliance/preview2-shim/http'
import { createInstanceBus } from '../../../node/runtime/host/bus.ts'
import { createLogging } from '../../../node/runtime/host/logging.ts'
import { createOutgoingHandler } from '../../../node/runtime/host/outgoing-http.ts'

describe('wasmcloud:bus/lattice', () => {
  it('2.x answers result<_, string>: ok for a name, err for what is not one, and 1.0.0 answers nothing', () => {
    const bus = createInstanceBus(4)
    const [kv] = bus.construct('wasi', 'keyvalue', 'store') as [Uint8Array]
    expect(bus.setLinkName('2.0.0', 'cache', [kv])).toEqual([{ tag: 'ok', val: undefined }])
    expect(bus.linkName('wasi:keyvalue/store@0.2.0-draft')).toBe('cache')
    // the handle was given up (own): using it again is an error, not a silent success
    expect(bus.setLinkName('2.0.1', 'other', [kv])).toEqual([{ tag: 'err', val: 'unknown call-target-interface' }])
    const [again] = bus.construct('wasi', 'keyvalue', 'store') as [Uint8Array]
    expect(bus.setLinkName('2.0.0', 'bad name', [again])[0]).toMatchObject({ tag: 'err' })
    const [back] = bus.construct('wasi', 'keyvalue', 'store') as [Uint8Array]
    expect(bus.setLinkName('1.0.0', 'default', [back])).toEqual([])
    expect(bus.linkName('wasi:keyvalue/store')).toBeUndefined()
  })

  it('bounds the handles and interfaces one instance may hold', () => {
    const bus = createInstanceBus(2)
    bus.construct('a', 'b', 'c')
    bus.construct('a', 'b', 'd')
    expect(() => bus.construct('a', 'b', 'e')).toThrow(/maxLinkNameTargets/)
    expect(() => bus.construct('A', 'b', 'c')).toThrow(/not a WIT name/)
  })
})

describe('wasi:logging bounds', () => {
  const lines: string[] = []
  const logger = { debug: (m: string) => lines.push(m), info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) }

  it('redacts a secret that crosses the size bound whole, and says how much was cut', () => {
    lines.length = 0
    const logging = createLogging({ name: 'c', logger, maxLogMessageBytes: 20, maxLogLinesPerSecond: 100, redacted: () => ['SECRETVALUE'] })
    logging.log('info', '', '0123456789012345SECRETVALUE and more')
    expect(lines).toHaveLength(1)
    expect(lines[0]).not.toContain('SECRET')
    expect(lines[0]).toMatch(/^\[c\] 0123456789012345\[red\.\.\. \(\d+ more bytes cut, maxLogMessageBytes 20\)$/)
  })

  it('never splits a UTF-8 character, and ignores values outside the WIT types', () => {
    lines.length = 0
    const logging = createLogging({ name: 'c', logger, maxLogMessageBytes: 5, maxLogLinesPerSecond: 100, redacted: () => [] })
    logging.log('info', '', 'aaaa€€')
    expect(lines[0]).toMatch(/^\[c\] aaaa\.\.\. \(6 more bytes cut/)
    logging.log(7, '', 'x')
    logging.log('info', null, 'x')
    expect(lines).toHaveLength(1)
  })
})

describe('outgoing HTTP budget', () => {
  const request = (authority: string | undefined): unknown => {
    const Fields = (types as unknown as { Fields: new () => object }).Fields
    const OutgoingRequest = (types as unknown as { OutgoingRequest: new (h: object) => Record<string, (...a: unknown[]) => unknown> }).OutgoingRequest
    const r = new OutgoingRequest(new Fields())
    r.setScheme({ tag: 'HTTP' })
    if (authority !== undefined) r.setAuthority(authority)
    r.setPathWithQuery('/')
    return r
  }

  it('refuses ungranted hosts, requests without a host and requests past maxOutgoingHttpRequests with the WIT\'s error codes', () => {
    const denied = createOutgoingHandler({ hosts: [], maxOutgoingHttpRequests: 2, maxOutgoingHttpResponseBytes: 1024, outgoingHttpTimeoutMs: 1000 })
    expect(() => denied.handle(request('127.0.0.1:9'), undefined)).toThrow(expect.objectContaining({ tag: 'HTTP-request-denied' }))
    const handler = createOutgoingHandler({ hosts: ['127.0.0.1:*'], maxOutgoingHttpRequests: 2, maxOutgoingHttpResponseBytes: 1024, outgoingHttpTimeoutMs: 1000 })
    expect(() => handler.handle(request(undefined), undefined)).toThrow(expect.objectContaining({ tag: 'HTTP-request-URI-invalid' }))
    // port 9 (discard) on loopback: nothing listens, so nothing is ever sent; the futures are never read
    const a = handler.handle(request('127.0.0.1:9'), undefined) as Record<symbol, () => void>
    const b = handler.handle(request('127.0.0.1:9'), undefined) as Record<symbol, () => void>
    expect(() => handler.handle(request('127.0.0.1:9'), undefined)).toThrow(expect.objectContaining({ tag: 'connection-limit-reached' }))
    // a request the guest drops gives its place back
    a[Symbol.dispose]()
    const c = handler.handle(request('127.0.0.1:9'), undefined) as Record<symbol, () => void>
    b[Symbol.dispose]()
    c[Symbol.dispose]()
  })
})
