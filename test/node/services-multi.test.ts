// Several components exporting one interface on one node: untargeted calls spread (least busy, then in turn), calls that name a component reach it, here and on a peer over wRPC.

import { afterEach, describe, expect, it } from 'vitest'
import type { LocalService, MeshNode } from '../../node/index.ts'
import { dialWrpc } from '../../node/wrpc-server.ts'
import { nodeInternals } from '../../node/node.ts'
import { invoke } from '../../protocol/session.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import { createMesh, eventually, whoamiService, type Mesh } from '../support/mesh.ts'

const IFACE = 'test:multi/svc@1.0.0'

let mesh: Mesh | undefined
afterEach(async () => { await mesh?.stop(); mesh = undefined })

/** A whoami service whose calls wait until `release` is called: a busy component. */
function heldService (answer: string): LocalService & { release: () => void, started: number } {
  const base = whoamiService('test:multi', 'svc', '1.0.0', answer)
  let waiting: Array<() => void> = []
  const service = {
    ...base,
    started: 0,
    release: () => { const w = waiting; waiting = []; for (const r of w) r() },
    call: async () => {
      service.started++
      await new Promise<void>(resolve => { waiting.push(resolve) })
      return [answer]
    }
  }
  return service
}

/** A node serving two whoami services of IFACE, alpha then beta. */
async function twoOnOneNode (): Promise<{ node: MeshNode, alpha: ReturnType<typeof whoamiService>, beta: ReturnType<typeof whoamiService> }> {
  mesh = await createMesh()
  const node = await mesh.add({ peering: false })
  const alpha = whoamiService('test:multi', 'svc', '1.0.0', 'alpha')
  const beta = whoamiService('test:multi', 'svc', '1.0.0', 'beta')
  node.serve(alpha)
  node.serve(beta)
  return { node, alpha, beta }
}

async function whoami (node: MeshNode, opts: { component?: string, target?: string } = {}): Promise<string> {
  return (await node.call(IFACE, 'whoami', [], opts))[0] as string
}

describe('several components of one interface on a node', () => {
  it('spreads untargeted calls over them in turn, and sends a targeted call to the one named (name or digest)', async () => {
    const { node, alpha, beta } = await twoOnOneNode()
    for (let i = 0; i < 10; i++) await whoami(node)
    expect([alpha.calls, beta.calls]).toEqual([5, 5])
    expect(await whoami(node, { component: 'beta' })).toBe('beta')
    expect(await whoami(node, { component: alpha.digest })).toBe('alpha')
    // The advert lists the interface once per component, each with its name and digest.
    expect(node.servers(IFACE).map(s => s.digest).sort()).toEqual([alpha.digest, beta.digest].sort())
    await expect(node.call(IFACE, 'whoami', [], { component: 'gamma' })).rejects.toMatchObject({ code: 'no-server', message: expect.stringContaining('no server of it is the component gamma') })
  })

  it('sends untargeted calls to the least busy component', async () => {
    mesh = await createMesh()
    const node = await mesh.add({ peering: false })
    const busy = heldService('busy')
    const idle = whoamiService('test:multi', 'svc', '1.0.0', 'idle')
    node.serve(busy)
    node.serve(idle)
    const held: Array<Promise<string>> = []
    // Calls until one is held by the busy component; from then on it has a call in flight and the idle one none.
    while (busy.started === 0) {
      const call = whoami(node)
      held.push(call)
      await eventually('the call answered or held', async () => busy.started > 0 || idle.calls >= held.length)
    }
    const before = idle.calls
    for (let i = 0; i < 6; i++) expect(await whoami(node)).toBe('idle')
    expect(idle.calls).toBe(before + 6)
    busy.release()
    expect(await Promise.all(held)).toContain('busy')
  })

  it('keeps the others serving when one is unserved, and a hot swap (same name) replaces only that one', async () => {
    const { node, alpha, beta } = await twoOnOneNode()
    const beta2 = { ...whoamiService('test:multi', 'svc', '1.0.0', 'beta'), digest: 'b'.repeat(64), call: async () => ['beta v2'] }
    node.serve(beta2)
    expect(node.servers(IFACE).map(s => s.digest).sort()).toEqual([alpha.digest, beta2.digest].sort())
    expect(await whoami(node, { component: 'beta' })).toBe('beta v2')
    node.unserve(alpha.digest)
    for (let i = 0; i < 3; i++) expect(await whoami(node)).toBe('beta v2')
    await expect(node.call(IFACE, 'whoami', [], { component: 'alpha' })).rejects.toMatchObject({ code: 'no-server' })
  })

  it("reaches the named component on a peer over wRPC (instance '<iface>#<component>'), and a stock client can do the same", async () => {
    mesh = await createMesh()
    const server = await mesh.add()
    const caller = await mesh.add({ bootstrap: server.addresses() })
    const alpha = whoamiService('test:multi', 'svc', '1.0.0', 'alpha')
    const beta = whoamiService('test:multi', 'svc', '1.0.0', 'beta')
    server.serve(alpha)
    server.serve(beta)
    await eventually('both components advertised', () => caller.servers(IFACE).length === 2)
    for (let i = 0; i < 4; i++) {
      expect(await whoami(caller, { component: 'alpha' })).toBe('alpha')
      expect(await whoami(caller, { component: beta.digest })).toBe('beta')
    }
    expect([alpha.calls, beta.calls]).toEqual([4, 4])
    // Untargeted calls from the peer spread over both.
    for (let i = 0; i < 4; i++) await whoami(caller)
    expect(alpha.calls + beta.calls).toBe(12)
    expect(alpha.calls).toBeGreaterThan(4)
    expect(beta.calls).toBeGreaterThan(4)

    // The wire form, as any wRPC client writes it: the instance string names the component.
    const { libp2p } = nodeInternals(caller)
    const raw = async (instance: string): Promise<unknown[]> => {
      const transport = await dialWrpc(libp2p, peerIdFromString(server.peerId), AbortSignal.timeout(10_000))
      return await invoke(transport, instance, 'whoami', [], [], [{ kind: 'string' }], { signal: AbortSignal.timeout(10_000) })
    }
    expect(await raw(`${IFACE}#beta`)).toEqual(['beta'])
    expect(await raw(`${IFACE}#${alpha.digest}`)).toEqual(['alpha'])
    // Hostile or odd instance strings: an unknown component is a typed refusal, an empty one is untargeted, neither hangs.
    await expect(raw(`${IFACE}#nobody`)).rejects.toMatchObject({ code: 'no-such-component' })
    expect(['alpha', 'beta']).toContain((await raw(`${IFACE}#`))[0])
    // An instance past the session's header limit is refused before any look-up.
    await expect(raw(`${IFACE}#${'x'.repeat(10_000)}`)).rejects.toMatchObject({ code: 'limit-exceeded' })
    await expect(raw('no:such/iface@1.0.0#beta')).rejects.toMatchObject({ code: 'no-such-function' })
  })
})
