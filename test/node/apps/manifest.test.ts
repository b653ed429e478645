// wadm's OAM manifests as wadm's own repository writes them: what wasmesh takes, what it refuses by name, and hostile YAML.
import { readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { AppError, capabilityOf, parseManifest } from '../../../node/apps/index.ts'

const wadm = (name: string): string => readFileSync(fileURLToPath(new URL(`./wadm/${name}`, import.meta.url)), 'utf8')

function refusal (text: string, opts = {}): AppError {
  try {
    parseManifest(text, opts)
  } catch (err) {
    expect(err).toBeInstanceOf(AppError)
    return err as AppError
  }
  throw new Error('the manifest was taken')
}

describe('wadm manifests', () => {
  it('reads kvcounter: a component linked to keyvalue-redis, the http-server linked to it with its address', () => {
    const m = parseManifest(wadm('kvcounter.yaml'), { baseDir: '/apps' })
    expect(m.name).toBe('kvcounter-rust')
    const [kv, http, redis] = m.components
    expect(kv).toMatchObject({ name: 'kvcounter', type: 'component', source: '/Users/brooks/github.com/wasmcloud/wadm/kvc/build/http_hello_world_s.wasm', scaler: { kind: 'spread', instances: 1, spreads: [] } })
    expect(kv.links).toEqual([{ target: 'kvredis', namespace: 'wasi', package: 'keyvalue', interfaces: ['atomic', 'eventual'], sourceConfig: {}, targetConfig: { url: 'redis://127.0.0.1:6379' } }])
    expect(http.capability).toEqual({ kind: 'http-server' })
    expect(http.links[0]).toMatchObject({ target: 'kvcounter', package: 'http', interfaces: ['incoming-handler'], sourceConfig: { address: '127.0.0.1:8080' } })
    expect(redis).toMatchObject({ type: 'capability', source: 'builtin:keyvalue', capability: { kind: 'provider', provider: 'builtin:keyvalue' } })
  })

  it('reads hello and simple: the http-server address in either case, and spreadscaler instances', () => {
    const hello = parseManifest(wadm('hello.yaml'))
    expect(hello.components[1].links[0].sourceConfig).toEqual({ ADDRESS: '127.0.0.1:8080' })
    const simple = parseManifest(wadm('simple.yaml'))
    expect(simple.components[0].scaler.instances).toBe(4)
    expect(simple.components[0].source).toBe('ghcr.io/wasmcloud/components/http-hello-world-rust:0.1.0')
  })

  it('reads the deprecated source_config/target_config and a target given by name only', () => {
    const m = parseManifest(wadm('deprecated-source-and-target-config.yaml'))
    expect(m.version).toBe('v0.0.1')
    expect(m.components[0].links[0]).toMatchObject({ target: 'blobstore-fs', targetConfig: { root: '/tmp' } })
    expect(m.components[1].links[0]).toMatchObject({ target: 'http-blobstore', sourceConfig: { address: '0.0.0.0:8000' } })
    expect(m.components[2].capability).toEqual({ kind: 'provider', provider: 'builtin:blobstore' })
  })

  it('maps sqldb-postgres onto builtin:postgres, refuses config named but kept elsewhere, takes custom interfaces', () => {
    expect(capabilityOf('ghcr.io/wasmcloud/sqldb-postgres:0.2.0')).toEqual({ kind: 'provider', provider: 'builtin:postgres' })
    const named = refusal(wadm('sqldbpostgres.yaml'))
    expect(named.code).toBe('unsupported')
    expect(named.message).toContain('default-postgres')
    expect(parseManifest(wadm('custom-interface.wadm.yaml')).components[0].links[0]).toMatchObject({ namespace: 'my-wasi', package: 'my-keyvalue', interfaces: ['my-atomics'] })
  })

  it('refuses by name what it does not implement: policies, a made-up trait key', () => {
    const complex = refusal(wadm('complex.yaml'))
    expect(complex.code).toBe('unsupported')
    expect(complex.message).toContain('spec.policies')
    const madeUp = refusal(wadm('made-up-key.wadm.yaml'))
    expect(madeUp.code).toBe('unsupported')
    expect(madeUp.message).toContain('incorrect')
  })
})

const base = (components: string): string => `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: demo
  annotations:
    version: v1
spec:
  components:
${components}`

describe('our manifests', () => {
  it('resolves relative file:// images from the manifest folder, takes replicas (the old name), spreads and weights', () => {
    const m = parseManifest(base(`    - name: web
      type: component
      properties:
        image: file://./build/web.wasm
        config:
          - name: one
            properties: { greeting: hi, n: 3 }
      traits:
        - type: spreadscaler
          properties:
            replicas: 5
            spread:
              - name: east
                requirements: { zone: east }
                weight: 80
              - name: west
                requirements: { zone: west }
`), { baseDir: '/srv/app' })
    const web = m.components[0]
    expect(web.source).toBe('/srv/app/build/web.wasm')
    expect(web.config).toEqual({ greeting: 'hi', n: '3' })
    expect(web.scaler).toEqual({ kind: 'spread', instances: 5, spreads: [{ name: 'east', requirements: { zone: 'east' }, weight: 80 }, { name: 'west', requirements: { zone: 'west' }, weight: 100 }] })
  })

  it('refuses an unknown capability image, a trait type, a component type and secrets, each by name', () => {
    const cap = refusal(base(`    - name: x
      type: capability
      properties: { image: ghcr.io/acme/custom-provider:1.0 }
`))
    expect(cap.code).toBe('unsupported-capability')
    expect(cap.message).toContain('ghcr.io/acme/custom-provider:1.0')
    expect(refusal(base(`    - name: x
      type: component
      properties: { image: file:///x.wasm }
      traits: [{ type: autoscaler, properties: {} }]
`)).message).toContain('autoscaler')
    expect(refusal(base(`    - name: x
      type: actor
      properties: { image: file:///x.wasm }
`)).message).toContain('actor')
    expect(refusal(base(`    - name: x
      type: component
      properties: { image: file:///x.wasm, secrets: [{ name: s }] }
`)).message).toContain('secrets')
  })

  it('refuses a link to a component the app does not have, two components of one name, bad names', () => {
    expect(refusal(base(`    - name: x
      type: component
      properties: { image: file:///x.wasm }
      traits: [{ type: link, properties: { target: nothere, namespace: wasi, package: keyvalue, interfaces: [store] } }]
`)).message).toContain('nothere')
    expect(refusal(base(`    - name: x
      type: component
      properties: { image: file:///x.wasm }
    - name: x
      type: component
      properties: { image: file:///y.wasm }
`)).code).toBe('invalid-manifest')
    expect(refusal(base(`    - name: "../../etc"
      type: component
      properties: { image: file:///x.wasm }
`)).code).toBe('invalid-manifest')
  })
})

describe('hostile manifests', () => {
  it('refuses garbage, a truncated manifest, the wrong apiVersion and JSON that is no mapping', () => {
    expect(refusal('\u0000\u0001{{{[').code).toBe('invalid-manifest')
    const text = wadm('kvcounter.yaml')
    expect(refusal(text.slice(0, text.length / 2)).code).toMatch(/invalid-manifest|unsupported/)
    expect(refusal(text.replace('core.oam.dev/v1beta1', 'core.oam.dev/v1')).message).toContain('apiVersion')
    expect(refusal('[1, 2, 3]').code).toBe('invalid-manifest')
  })

  it('refuses a huge manifest unparsed, and too many replicas, components or spreads', () => {
    const huge = refusal(base('#'.repeat(300 * 1024)))
    expect(huge.code).toBe('manifest-too-large')
    expect(refusal(base(`    - name: x
      type: component
      properties: { image: file:///x.wasm }
      traits: [{ type: spreadscaler, properties: { instances: 1000000 } }]
`)).code).toBe('manifest-too-large')
    const many = Array.from({ length: 5 }, (_, i) => `    - name: c${i}\n      type: component\n      properties: { image: file:///x.wasm }\n`).join('')
    expect(refusal(base(many), { limits: { maxAppComponents: 4 } }).code).toBe('manifest-too-large')
  })

  it('refuses a YAML alias bomb without expanding it', () => {
    const bomb = `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]`
    expect(refusal(bomb).code).toBe('invalid-manifest')
  })

  it('keeps __proto__ in config a plain key', () => {
    const m = parseManifest(base(`    - name: x
      type: component
      properties:
        image: file:///x.wasm
        config: [{ name: c, properties: { __proto__: polluted } }]
`))
    expect(Object.getPrototypeOf(m.components[0].config)).toBe(Object.prototype)
    expect(Object.keys(m.components[0].config)).toEqual(['__proto__'])
  })
})

describe('the example app', () => {
  it('parses, its image resolved from its own folder to the built example', () => {
    const file = fileURLToPath(new URL('../../../examples/apps/http-counter.wadm.yaml', import.meta.url))
    const m = parseManifest(readFileSync(file, 'utf8'), { baseDir: dirname(file) })
    expect(m.components[0].source).toBe(fileURLToPath(new URL('../../../examples/build/http-counter.wasm', import.meta.url)))
    expect(m.components.map(c => c.capability?.kind ?? c.type)).toEqual(['component', 'provider', 'http-server'])
  })
})
