// App records between real nodes in one process: gossip to every node, sync to a joiner, kept across a restart, and the policy deciding who may deploy.
import { afterEach, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { parsePolicy } from '../../../node/security/index.ts'
import { bootstrapOf, createMesh, eventually } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'
import { scratchDir } from '../../support/scratch.ts'
import type { ScratchDir } from '../../support/scratch.ts'

/** A manifest whose image does not exist: records replicate whatever their components do. */
const manifest = (name: string, version: string): string => `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: ${name}
  annotations: { version: ${version} }
spec:
  components:
    - name: c
      type: component
      properties: { image: file:///nonexistent/c.wasm }
      traits: [{ type: spreadscaler, properties: { instances: 1 } }]
`

describe('app records between nodes', () => {
  let mesh: Mesh | undefined
  let dir: ScratchDir | undefined
  afterEach(async () => {
    await mesh?.stop()
    await dir?.remove()
    mesh = undefined
    dir = undefined
  })

  it('reach every node (push and gossip), a joiner by sync, and survive a restart from the data directory', async () => {
    dir = await scratchDir('apps-replication')
    mesh = await createMesh()
    const a = await mesh.add()
    const b = await mesh.add({ bootstrap: bootstrapOf(a) })
    const c = await mesh.add({ bootstrap: bootstrapOf(a) })
    await eventually('the mesh', () => a.peers().length === 3 && b.peers().length === 3 && c.peers().length === 3)
    await b.apps.deploy(manifest('shop', 'v1'))
    await eventually('every node to hold shop v1', () => [a, b, c].every(n => n.apps.list()[0]?.version === 'v1'))
    await c.apps.deploy(manifest('shop', 'v2'))
    await eventually('every node to hold shop v2', () => [a, b, c].every(n => n.apps.list()[0]?.version === 'v2'))
    expect(a.apps.history('shop').map(v => v.version)).toEqual(['v1', 'v2'])

    const joiner = await mesh.add({ bootstrap: bootstrapOf(a), dataDir: dir.path })
    await eventually('the joiner to sync', () => joiner.apps.list()[0]?.version === 'v2')
    await joiner.stop()
    // alone now (no bootstrap): what it holds came from its data directory, verified again
    const again = await mesh.add({ dataDir: dir.path })
    expect(again.apps.list().map(v => [v.app, v.version])).toEqual([['shop', 'v2']])
    expect(again.apps.history('shop')).toHaveLength(2)
    await again.stop()

    await a.apps.undeploy('shop')
    await eventually('the tombstone everywhere', () => [a, b, c].every(n => n.apps.list()[0]?.kind === 'undeploy'))
    await expect(b.apps.undeploy('shop')).rejects.toMatchObject({ code: 'no-such-app' })
  }, 60_000)

  it('takes deploys only from whom the policy allows, and says so to the deployer', async () => {
    const deployerKey = await generateKeyPair('Ed25519')
    const deployer = peerIdFromPrivateKey(deployerKey).toString()
    const policy = parsePolicy(`
rules:
  - name: ops deploy
    allow: call
    peers: [${deployer}]
    interfaces: ["wasmesh:lattice/apps#*"]
`)
    mesh = await createMesh()
    const host = await mesh.add({ policy })
    const ops = await mesh.add({ privateKey: deployerKey, bootstrap: bootstrapOf(host) })
    const stranger = await mesh.add({ bootstrap: bootstrapOf(host) })
    await eventually('the mesh', () => host.peers().length === 3 && ops.peers().length === 3 && stranger.peers().length === 3)
    const refused = await stranger.apps.deploy(manifest('shop', 'v1'))
    expect(refused.refused.find(r => r.peer === host.peerId)).toMatchObject({ code: 'not-allowed' })
    expect(host.apps.list()).toEqual([])
    const taken = await ops.apps.deploy(manifest('shop', 'v2'))
    expect(taken.accepted).toContain(host.peerId)
    expect(host.apps.list()[0]).toMatchObject({ version: 'v2', deployer })
    // the stranger's undeploy is not taken either, by push or by gossip
    const undeploy = await stranger.apps.undeploy('shop')
    expect(undeploy.refused.find(r => r.peer === host.peerId)).toMatchObject({ code: 'not-allowed' })
    expect(host.apps.list()[0].kind).toBe('deploy')
  }, 60_000)
})
