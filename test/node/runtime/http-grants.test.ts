// Which hosts an outgoing HTTP grant covers: exact names, *.domain, ports, and what is not a grant at all.
import { describe, expect, it } from 'vitest'
import { httpGrantProblem, matchesHttpGrant } from '../../../node/runtime/index.ts'

describe('outgoing HTTP grants', () => {
  it('a host alone allows its scheme\'s default port only', () => {
    expect(matchesHttpGrant(['api.example.com'], 'https', 'api.example.com')).toBe(true)
    expect(matchesHttpGrant(['api.example.com'], 'https', 'api.example.com:443')).toBe(true)
    expect(matchesHttpGrant(['api.example.com'], 'http', 'api.example.com')).toBe(true)
    expect(matchesHttpGrant(['api.example.com'], 'http', 'api.example.com:443')).toBe(false)
    expect(matchesHttpGrant(['api.example.com'], 'https', 'api.example.com:8443')).toBe(false)
  })

  it('host:port and host:* allow that port and any port', () => {
    expect(matchesHttpGrant(['api.example.com:8443'], 'https', 'api.example.com:8443')).toBe(true)
    expect(matchesHttpGrant(['api.example.com:8443'], 'https', 'api.example.com')).toBe(false)
    expect(matchesHttpGrant(['127.0.0.1:*'], 'http', '127.0.0.1:9999')).toBe(true)
  })

  it('*.domain covers names under it, never the domain itself or a look-alike', () => {
    expect(matchesHttpGrant(['*.internal'], 'http', 'db.internal')).toBe(true)
    expect(matchesHttpGrant(['*.internal'], 'http', 'a.b.internal')).toBe(true)
    expect(matchesHttpGrant(['*.internal'], 'http', 'internal')).toBe(false)
    expect(matchesHttpGrant(['*.internal'], 'http', 'evilinternal')).toBe(false)
    expect(matchesHttpGrant(['*.internal'], 'http', 'db.internal.evil.com')).toBe(false)
  })

  it('names compare without case and a trailing dot; other schemes and odd authorities never match', () => {
    expect(matchesHttpGrant(['API.Example.com'], 'https', 'api.EXAMPLE.com.')).toBe(true)
    expect(matchesHttpGrant(['api.example.com:*'], 'ftp', 'api.example.com')).toBe(false)
    expect(matchesHttpGrant(['api.example.com:*'], 'https', 'user@api.example.com')).toBe(false)
    expect(matchesHttpGrant(['api.example.com:*'], 'https', ':443')).toBe(false)
    expect(matchesHttpGrant([], 'https', 'api.example.com')).toBe(false)
  })

  it('what is not a grant says why', () => {
    for (const bad of ['*', '', 'http://api.example.com', 'api.example.com/path', 'a..b', 'host:0', 'host:70000', 'host:x', '*.', '-a.com', 'x'.repeat(300)]) {
      expect(httpGrantProblem(bad), bad).toBeTypeOf('string')
    }
    for (const good of ['api.example.com', '*.internal', '127.0.0.1:8080', 'localhost:*']) expect(httpGrantProblem(good), good).toBeUndefined()
  })
})
