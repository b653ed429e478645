// HTTP routes: the --http-route syntax, refusals with their code, and which route a request takes.
import { describe, expect, it } from 'vitest'
import { checkRoutes, matchRoute, parseRoute } from '../../../node/http/index.ts'

describe('parseRoute', () => {
  it('reads host, path and default routes with name, label and any targets', () => {
    expect(parseRoute('host=api.example.com=app=api')).toEqual({ match: 'host', host: 'api.example.com', target: { kind: 'labels', labels: { app: 'api' } } })
    expect(parseRoute('path=/api=name=hello')).toEqual({ match: 'path', prefix: '/api', target: { kind: 'component', component: 'hello' } })
    expect(parseRoute('path=/api/=zone=eu,tier=web')).toEqual({ match: 'path', prefix: '/api', target: { kind: 'labels', labels: { zone: 'eu', tier: 'web' } } })
    expect(parseRoute('default=any')).toEqual({ match: 'default', target: { kind: 'any' } })
    expect(parseRoute('host=*.Example.com=name=x')).toEqual({ match: 'host', host: '*.example.com', target: { kind: 'component', component: 'x' } })
    // component= says the same as name=
    expect(parseRoute('host=a.example=component=alpha')).toEqual({ match: 'host', host: 'a.example', target: { kind: 'component', component: 'alpha' } })
    expect(parseRoute('path=/api=component=beta')).toEqual({ match: 'path', prefix: '/api', target: { kind: 'component', component: 'beta' } })
  })

  it.each([
    'nope=x=y', 'host=api.example.com', 'path=api=name=x', 'default=', 'host=a b=name=x', 'path=/x=name=', 'path=/x=app', 'host=h=name=a,b', 'path=/x=component=', 'host=h=component=a b', 'x'.repeat(2000)
  ])('refuses %s with invalid-http-config and the syntax', spec => {
    expect(() => parseRoute(spec)).toThrow(expect.objectContaining({ code: 'invalid-http-config', message: expect.stringMatching(/a route is host=/) }))
  })

  it('refuses two routes for one host or prefix, and two defaults', () => {
    expect(() => { checkRoutes([parseRoute('path=/a=any'), parseRoute('path=/a/=name=x')]) }).toThrow(expect.objectContaining({ code: 'invalid-http-config' }))
    expect(() => { checkRoutes([parseRoute('default=any'), parseRoute('default=name=x')]) }).toThrow(expect.objectContaining({ code: 'invalid-http-config' }))
  })
})

describe('matchRoute', () => {
  const routes = ['host=api.example.com=name=api', 'host=*.example.com=name=wild', 'path=/a=name=a', 'path=/a/b=name=ab', 'path=/=name=root'].map(parseRoute)

  const target = (host: string | undefined, path: string): string | undefined => {
    const r = matchRoute(routes, host, path)
    return r?.target.kind === 'component' ? r.target.component : r === undefined ? undefined : r.target.kind
  }

  it('takes an exact Host first (port and case ignored), then a wildcard, then the longest path prefix on a segment boundary', () => {
    expect(target('API.example.com:8080', '/a')).toBe('api')
    expect(target('x.example.com', '/a')).toBe('wild')
    expect(target('example.com', '/a/b/c?q=1')).toBe('ab')
    expect(target('example.com', '/a?x')).toBe('a')
    expect(target('other', '/ab')).toBe('root')
  })

  it('matches nothing when no route applies and there is no default; everything when there are no routes', () => {
    const some = ['path=/api=name=x'].map(parseRoute)
    expect(matchRoute(some, 'h', '/apix')).toBeUndefined()
    expect(matchRoute(some, undefined, '/')).toBeUndefined()
    expect(matchRoute([], 'h', '/anything')).toEqual({ match: 'default', target: { kind: 'any' } })
  })
})
