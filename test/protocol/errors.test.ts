import { describe, it, expect } from 'vitest'
import { ProtocolError } from '../../protocol/errors.ts'

describe('ProtocolError', () => {
  it('carries a stable code and the path in its message', () => {
    const err = new ProtocolError('value-range', 'u8 out of range: 300', 'params[0]')
    expect(err.code).toBe('value-range')
    expect(err.path).toBe('params[0]')
    expect(err.message).toBe('u8 out of range: 300 at params[0]')
    expect(err).toBeInstanceOf(Error)
  })
})
