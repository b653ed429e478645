import { describe, expect, it } from 'vitest'
import { toJsClassName, toJsName } from '../../protocol/jco-names.ts'

// The expected names are what jco-transpile 0.15 generates for these WIT names (see test/node/runtime/runtime.test.ts,
// which calls a transpiled component through them).
describe('jco names', () => {
  it.each([
    ['to-upper', 'toUpper'],
    ['get-HTTP-body', 'getHttpBody'],
    ['HTTP', 'http'],
    ['%type', 'type'],
    ['type', 'type'],
    ['utf8-text', 'utf8Text'],
    ['a-b2c', 'aB2c'],
    ['get-TOTAL', 'getTotal']
  ])('names the function, method, field or flag %s %s', (wit, js) => {
    expect(toJsName(wit)).toBe(js)
  })

  it.each([
    ['bucket', 'Bucket'],
    ['bucket-list', 'BucketList'],
    ['HTTP-acc', 'HttpAcc'],
    ['%stream', 'Stream']
  ])('names the resource class %s %s', (wit, js) => {
    expect(toJsClassName(wit)).toBe(js)
  })
})
