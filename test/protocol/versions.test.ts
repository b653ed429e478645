import { describe, expect, it } from 'vitest'
import { compatible, interfaceCompatible, unversioned, versionOf } from '../../protocol/versions.ts'

describe('compatible(wanted, offered): which export version may serve an import', () => {
  it.each<[string | undefined, string | undefined, boolean]>([
    ['1.2.0', '1.2.0', true],
    ['1.2.0', '1.3.1', true],
    ['1.2.0', '1.2.7', true],
    ['1.3.1', '1.2.0', false], // never an older export
    ['1.2.5', '1.2.4', false],
    ['1.2.0', '2.0.0', false], // never another major
    ['2.0.0', '1.9.9', false],
    ['0.2.0', '0.2.5', true],
    ['0.2.0', '0.3.0', false], // under 0.x the minor is the breaking part
    ['0.2.5', '0.2.1', false],
    ['0.0.1', '0.0.1', true],
    ['0.0.1', '0.0.2', false], // 0.0.x matches only itself
    ['1.2.0-rc.1', '1.2.0-rc.1', true], // pre-releases only exactly
    ['1.2.0-rc.1', '1.2.0-rc.2', false],
    ['1.2.0-rc.1', '1.2.0', false],
    ['1.2.0', '1.3.0-rc.1', false],
    ['0.2.0-draft', '0.2.0-draft', true],
    ['0.2.0-draft', '0.2.1', false],
    ['1.2.0', '1.2.0+build.7', true], // build metadata does not matter
    [undefined, '1.2.0', true], // an unversioned import takes any version
    [undefined, '0.0.1-alpha', true],
    [undefined, undefined, true],
    ['1.2.0', undefined, false], // a versioned import never takes an unversioned export
    ['1.2', '1.2.0', false],
    ['garbage', '1.0.0', false]
  ])('%s served by %s: %s', (wanted, offered, ok) => {
    expect(compatible(wanted, offered)).toBe(ok)
  })
})

describe('interfaceCompatible(wantedId, offeredId)', () => {
  it('needs the same interface and a compatible version', () => {
    expect(interfaceCompatible('a:b/c@1.2.0', 'a:b/c@1.3.1')).toBe(true)
    expect(interfaceCompatible('a:b/c@1.2.0', 'a:b/c@2.0.0')).toBe(false)
    expect(interfaceCompatible('a:b/c@1.2.0', 'a:b/d@1.2.0')).toBe(false)
    expect(interfaceCompatible('a:b/c@1.2.0', 'a:x/c@1.2.0')).toBe(false)
    expect(interfaceCompatible('a:b/c', 'a:b/c@9.9.9')).toBe(true)
    expect(interfaceCompatible('a:b/c', 'a:b/c')).toBe(true)
    expect(interfaceCompatible('a:b/c@1.0.0', 'a:b/c')).toBe(false)
  })

  it('strips versions for the index key', () => {
    expect(unversioned('a:b/c@1.2.0')).toBe('a:b/c')
    expect(unversioned('a:b/c@1.2.0-rc.1+build.5')).toBe('a:b/c')
    expect(unversioned('a:b/c')).toBe('a:b/c')
    expect(unversioned('a:b@0.2.0')).toBe('a:b')
    expect(versionOf('a:b/c@1.2.0-rc.1')).toBe('1.2.0-rc.1')
    expect(versionOf('a:b/c')).toBeUndefined()
  })
})
