import { describe, expect, it } from 'vitest'
import { formatReference, parseReference, referenceName } from '../../../node/artifacts/index.ts'

const hex = 'ab'.repeat(32)

describe('component references', () => {
  it('reads paths, file URLs, digests and OCI references', () => {
    expect(parseReference('examples/build/upper.wasm')).toEqual({ kind: 'file', path: 'examples/build/upper.wasm' })
    expect(parseReference('./my.dir/app')).toEqual({ kind: 'file', path: './my.dir/app' })
    expect(parseReference('/abs/with space.wasm')).toEqual({ kind: 'file', path: '/abs/with space.wasm' })
    expect(parseReference('file:///tmp/a%20b.wasm')).toEqual({ kind: 'file', path: '/tmp/a b.wasm' })
    expect(parseReference(`sha256:${hex.toUpperCase()}`)).toEqual({ kind: 'digest', digest: hex })
    expect(parseReference('localhost:5000/org/app:1.2')).toEqual({ kind: 'oci', registry: 'localhost:5000', repository: 'org/app', tag: '1.2' })
    expect(parseReference(`ghcr.io/org/app@sha256:${hex}`)).toEqual({ kind: 'oci', registry: 'ghcr.io', repository: 'org/app', digest: hex })
    expect(parseReference('oci://ghcr.io/wasmcloud/components/http-hello-world-rust:0.1.0')).toEqual({ kind: 'oci', registry: 'ghcr.io', repository: 'wasmcloud/components/http-hello-world-rust', tag: '0.1.0' })
    expect(parseReference('127.0.0.1:5000/app')).toEqual({ kind: 'oci', registry: '127.0.0.1:5000', repository: 'app', tag: 'latest' })
    expect(parseReference(`[::1]:5000/a/b:v1@sha256:${hex}`)).toEqual({ kind: 'oci', registry: '[::1]:5000', repository: 'a/b', tag: 'v1', digest: hex })
  })

  it('prints them back and names components after them', () => {
    for (const text of ['localhost:5000/org/app:1.2', `ghcr.io/org/app:v1@sha256:${hex}`, `sha256:${hex}`, 'a/b.wasm']) {
      expect(formatReference(parseReference(text))).toBe(text)
    }
    expect(referenceName(parseReference('localhost:5000/org/my-app:1.2'))).toBe('my-app')
    expect(referenceName(parseReference('build/upper.wasm'))).toBe('upper')
    expect(referenceName(parseReference(`sha256:${hex}`))).toBeUndefined()
  })

  it('refuses garbage with invalid-reference, saying what a reference looks like', () => {
    const bad = [
      '', 'sha256:abc', `sha256:${hex}0`, `sha256:${'zz'.repeat(32)}`, 'oci://', 'oci://ghcr.io', 'oci://ghcr.io/Org/App:1',
      'ghcr.io/org/app:bad tag', 'ghcr.io/org//app', `ghcr.io/org/app@sha512:${hex}`, 'http://example.com/app.wasm',
      'ghcr.io/org/app:' + 'x'.repeat(200), 'a'.repeat(10_000), 'ok.wasm\0', 'oci://-bad-.io/x', 'ghcr.io/org/app@', 'file://host/not-local'
    ]
    for (const text of bad) {
      let caught: unknown
      try { parseReference(text) } catch (err) { caught = err }
      expect(caught, text).toMatchObject({ code: 'invalid-reference' })
      expect((caught as Error).message.length).toBeLessThan(600)
    }
  })
})
