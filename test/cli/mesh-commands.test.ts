import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNode } from '../../node/index.ts'
import type { LocalService, MeshNode } from '../../node/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { parseWit } from '../../protocol/wit/index.ts'
import { eventually, whoamiService } from '../support/mesh.ts'
import { start, wasmesh } from './helpers.ts'
import { watchChange } from '../../cli/commands/mesh.ts'
import type { MeshView } from '../../cli/commands/mesh.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

/** A native `test:cli/text` with `upper(msg: string) -> string` and `fail()` that traps. */
function textService (): LocalService {
  const wit = 'package test:cli;\n\ninterface text {\n  upper: func(msg: string) -> string;\n  fail: func();\n}\n'
  const iface = parseWit({ 'text.wit': wit }).findInterface('test:cli/text')!
  return {
    digest: createHash('sha256').update(wit).digest('hex'),
    name: 'text',
    interfaces: [iface],
    wit,
    capacity: 8,
    call: async (_iface, func, params) => {
      if (func === 'upper') return [String(params[0]).toUpperCase()]
      throw Object.assign(new Error('it failed on purpose'), { code: 'trap' })
    }
  }
}

const unreachablePeer = '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWQ8efjLNtpUov2f4H1Nty9LyAydCMvhEVUZzcg1KDZY82'

let server: MeshNode
let other: MeshNode
let addr: string
let scratch: ScratchDir

beforeAll(async () => {
  scratch = await scratchDir('cli-mesh')
  server = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], labels: { zone: 'a' }, logger: silentLogger, cacheDir: scratch.path })
  await server.start()
  server.serve(textService())
  addr = server.addresses()[0]
  other = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], labels: { zone: 'b' }, bootstrap: [addr], logger: silentLogger, cacheDir: scratch.path })
  await other.start()
  other.serve(whoamiService('test:cli', 'who', undefined, 'other'))
  // both must know each other before the tests look at the mesh
  await eventually('the server to list the other node\'s test:cli/who', () => server.servers('test:cli/who').length > 0)
})

afterAll(async () => {
  await Promise.allSettled([server?.stop(), other?.stop()])
  await scratch?.remove()
})

describe('wasmesh call through the mesh', () => {
  it('calls whoever serves the interface and prints WAVE, or JSON with --json', async () => {
    expect(await wasmesh(['call', 'test:cli/text#upper("hello")', '--bootstrap', addr])).toMatchObject({ code: 0, out: '"HELLO"' })
    expect(await wasmesh(['call', 'test:cli/text#upper("hi")', '--bootstrap', addr, '--json'])).toMatchObject({ code: 0, out: '"HI"' })
    // a peer the client learns of from the bootstrap peer's sync, not the bootstrap peer itself
    expect(await wasmesh(['call', 'test:cli/who#whoami()', '--bootstrap', addr])).toMatchObject({ code: 0, out: '"other"' })
  })

  it('takes the bootstrap peers from WASMESH_BOOTSTRAP', async () => {
    const r = await wasmesh(['call', 'test:cli/text#upper("env")'], { env: { WASMESH_BOOTSTRAP: ` ${unreachablePeer}, ${addr}` } })
    expect(r).toMatchObject({ code: 0, out: '"ENV"' })
  })

  it('honours --target and --label, and names them when they exclude every server', async () => {
    expect(await wasmesh(['call', 'test:cli/who#whoami()', '--bootstrap', addr, '--target', other.peerId])).toMatchObject({ code: 0, out: '"other"' })
    expect(await wasmesh(['call', 'test:cli/who#whoami()', '--bootstrap', addr, '--label', 'zone=b'])).toMatchObject({ code: 0, out: '"other"' })
    const r = await wasmesh(['call', 'test:cli/who#whoami()', '--bootstrap', addr, '--label', 'zone=a', '--timeout', '1000'])
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^error \[no-server\]: no peer in lattice default serves test:cli\/who \(only label zone=a\)/)
  })

  it('calls the one component --served-by names when two serve the interface on one peer', async () => {
    const second = whoamiService('test:cli', 'who', undefined, 'second')
    other.serve(second)
    try {
      await eventually('the server to list both components', () => server.servers('test:cli/who').length === 2)
      expect(await wasmesh(['call', 'test:cli/who#whoami()', '--bootstrap', addr, '--served-by', 'second'])).toMatchObject({ code: 0, out: '"second"' })
      expect(await wasmesh(['call', 'test:cli/who#whoami()', '--bootstrap', addr, '--served-by', 'other'])).toMatchObject({ code: 0, out: '"other"' })
      expect(await wasmesh(['call', 'test:cli/who#whoami()', '--bootstrap', addr, '--served-by', second.digest])).toMatchObject({ code: 0, out: '"second"' })
      const r = await wasmesh(['call', 'test:cli/who#whoami()', '--bootstrap', addr, '--served-by', 'nobody', '--timeout', '1000'])
      expect(r.code).toBe(1)
      expect(r.err).toMatch(/^error \[no-server\]: no peer in lattice default serves test:cli\/who \(only component nobody\)/)
    } finally {
      other.unserve(second.digest)
    }
    await eventually('the server to list one again', () => server.servers('test:cli/who').length === 1)
  })

  it('fails with no-server at once, once the mesh is known, naming the closest interfaces', async () => {
    // A --timeout far past the test's own: the old wait for a server that never comes would fail the test.
    const r = await wasmesh(['call', 'test:cli/nothing#x()', '--bootstrap', addr, '--timeout', '600000'])
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^error \[no-server\]: no peer in lattice default serves test:cli\/nothing as the mesh is known now \(/)
    expect(r.err).not.toContain('    at ')
    const typo = await wasmesh(['call', 'test:cli/txet#upper("x")', '--bootstrap', addr, '--timeout', '600000'])
    expect(typo.code).toBe(1)
    expect(typo.err).toContain('serves test:cli/txet as the mesh is known now; did you mean test:cli/text?')
  }, 60_000)

  it('fails with unreachable at once when every bootstrap address refuses, naming each and why', async () => {
    const r = await wasmesh(['call', 'test:cli/text#upper("x")', '--bootstrap', unreachablePeer, '--timeout', '600000'])
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^error \[unreachable\]: could not reach any bootstrap peer: the address refused/)
    expect(r.err).toContain(`${unreachablePeer}: `)
    expect(r.err).toContain('ECONNREFUSED')
  }, 60_000)

  it('fails with bad-arguments on WAVE that does not fit, naming the parameters', async () => {
    const r = await wasmesh(['call', 'test:cli/text#upper(42)', '--bootstrap', addr])
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^error \[bad-arguments\]: upper\(msg\)/)
  })

  it('passes on the code and message of a remote failure', async () => {
    const r = await wasmesh(['call', 'test:cli/text#fail()', '--bootstrap', addr])
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^error \[trap\]: .*it failed on purpose/)
    const nofunc = await wasmesh(['call', 'test:cli/text#nope()', '--bootstrap', addr])
    expect(nofunc.code).toBe(1)
    expect(nofunc.err).toMatch(/^error \[no-such-function\]: test:cli\/text has no function nope/)
  })

  it('refuses usage mistakes with status 2', async () => {
    const cases = [
      ['call', 'test:cli/text#upper("x")'],
      ['call', 'test:cli/text#upper("x")', '--bootstrap', '/ip4/127.0.0.1/tcp/4001'],
      ['call', 'test:cli/text#upper("x")', '--bootstrap', addr, '--frobnicate'],
      ['call', 'test:cli/text#upper("x")', '--bootstrap', addr, '--timeout', 'soon'],
      ['call', 'test:cli/text#upper("x")', '--bootstrap', addr, '--label', 'novalue']
    ]
    for (const argv of cases) {
      const r = await wasmesh(argv)
      expect(r.code, argv.join(' ')).toBe(2)
      expect(r.err, argv.join(' ')).toMatch(/^error \[usage\]/)
    }
    const world = await wasmesh(['call', 'hello-world()', '--bootstrap', addr])
    expect(world.code).toBe(1)
    expect(world.err).toMatch(/^error \[bad-call-expression\]: the mesh serves interfaces/)
  })
})

describe('wasmesh mesh', () => {
  it('prints the peers and the interfaces they serve as a table, with the component serving each and a legend', async () => {
    const r = await wasmesh(['mesh', '--bootstrap', addr])
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/^lattice default: 2 peers, 2 interfaces\n/)
    expect(r.out).toMatch(/^PEER +CALLS +HEALTH +LABELS +ADDRESSES$/m)
    expect(r.out).toMatch(new RegExp(`${server.peerId} +0/8 +ok +zone=a +/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${server.peerId}`))
    expect(r.out).toMatch(/^INTERFACE +SERVED BY +COMPONENT +CALLS$/m)
    // name and the digest's first 12 hex digits
    expect(r.out).toMatch(new RegExp(`^test:cli/text +${server.peerId} +text ${textService().digest.slice(0, 12)} +0/8$`, 'm'))
    expect(r.out).toMatch(new RegExp(`^test:cli/who +${other.peerId} +other ${whoamiService('test:cli', 'who', undefined, 'other').digest.slice(0, 12)} +0/8$`, 'm'))
    expect(r.out).toMatch(/^CALLS: in flight\/capacity, .*calls running \/ instances that can run at once$/m)
  })

  it('counts other clients instead of listing them as peers', async () => {
    const watch = start(['mesh', '--bootstrap', addr, '--watch', '--json'])
    try {
      await watch.out.waitFor(l => l.startsWith('{'), watch.exited)
      await eventually('the bootstrap peer to hold the watching client\'s advert', () => server.peers().some(p => p.client === true))
      const r = await wasmesh(['mesh', '--bootstrap', addr])
      expect(r.out).toMatch(/^lattice default: 2 peers, 2 interfaces \(and 1 other client\)\n/)
      const json = JSON.parse((await wasmesh(['mesh', '--bootstrap', addr, '--json'])).out)
      expect(json).toMatchObject({ clients: 1 })
      expect(json.peers.map((p: { peer: string }) => p.peer).sort()).toEqual([server.peerId, other.peerId].sort())
    } finally {
      expect(await watch.stop()).toBe(0)
    }
  })

  it('prints everything as JSON with --json', async () => {
    const r = await wasmesh(['mesh', '--bootstrap', addr, '--json'])
    expect(r.code).toBe(0)
    const view = JSON.parse(r.out)
    expect(view.lattice).toBe('default')
    expect(view.interfaces).toEqual([
      { iface: 'test:cli/text', peers: [server.peerId] },
      { iface: 'test:cli/who', peers: [other.peerId] }
    ])
    const byId = Object.fromEntries(view.peers.map((p: { peer: string }) => [p.peer, p]))
    expect(Object.keys(byId).sort()).toEqual([server.peerId, other.peerId].sort())
    expect(byId[server.peerId]).toMatchObject({
      addresses: server.addresses(),
      labels: { zone: 'a' },
      exports: [{ iface: 'test:cli/text', digest: textService().digest, name: 'text', capacity: 8, load: 0 }],
      load: 0,
      capacity: 8,
      healthy: true
    })
    expect(byId[other.peerId]).toMatchObject({ labels: { zone: 'b' }, exports: [{ iface: 'test:cli/who' }] })
  })

  it('follows changes with --watch and ends cleanly when stopped', async () => {
    const watch = start(['mesh', '--bootstrap', addr, '--watch'])
    try {
      await watch.out.waitFor(l => l.startsWith('lattice default: '), watch.exited)
      other.serve(whoamiService('test:cli', 'late', undefined, 'late'))
      await watch.out.waitFor(l => / 3 interfaces$/.test(l), watch.exited)
      expect(watch.out.text).toMatch(/^--- \d{4}-/m)
      expect(watch.out.text).toMatch(new RegExp(`test:cli/late +${other.peerId}`))
    } finally {
      expect(await watch.stop()).toBe(0)
      other.unserve(whoamiService('test:cli', 'late', undefined, 'late').digest)
    }
  })

  it('does not count clients coming and going or ages as a change to reprint for with --watch', async () => {
    const view = JSON.parse((await wasmesh(['mesh', '--bootstrap', addr, '--json'])).out) as MeshView
    const older = { ...view, clients: view.clients + 3, peers: view.peers.map(p => ({ ...p, ageMs: (p.ageMs ?? 0) + 5_000, expiresInMs: 1 })) }
    expect(watchChange(older)).toBe(watchChange(view))
    expect(watchChange({ ...view, peers: view.peers.slice(1) })).not.toBe(watchChange(view))
    expect(watchChange({ ...view, peers: view.peers.map(p => ({ ...p, load: p.load + 1 })) })).not.toBe(watchChange(view))
  })

  it('fails with unreachable when no bootstrap peer answers, and with usage without one', async () => {
    const r = await wasmesh(['mesh', '--bootstrap', unreachablePeer, '--timeout', '1000'])
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^error \[unreachable\]/)
    const none = await wasmesh(['mesh'])
    expect(none.code).toBe(2)
    expect(none.err).toContain('--bootstrap')
  })
})
