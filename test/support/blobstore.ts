// A blobstore provider served by one node of a memory mesh and a client node that knows it: the set-up the blobstore tests share.
import { join } from 'node:path'
import type { MeshNode, NodeInit } from '../../node/index.ts'
import { createProvider } from '../../node/providers/sdk.ts'
import type { Provider } from '../../node/providers/sdk.ts'
import { BLOBSTORE, createBlobstoreModule } from '../../node/providers/blobstore/index.ts'
import { bootstrapOf, createMesh, eventually } from './mesh.ts'
import { scratchDir } from './scratch.ts'

export interface BlobstoreMesh {
  /** The provider's root (under a scratch directory). */
  readonly root: string
  readonly dir: string
  readonly client: MeshNode
  readonly provider: Provider
  stop (): Promise<void>
}

export async function blobstoreMesh (opts: { config?: Record<string, string>, node?: NodeInit } = {}): Promise<BlobstoreMesh> {
  const dir = await scratchDir('blobstore')
  const root = join(dir.path, 'blobs')
  const mesh = await createMesh(opts.node)
  const provider = await createProvider(createBlobstoreModule(), { config: { root, ...opts.config } })
  await provider.start()
  const server = await mesh.add()
  server.serve(provider.service)
  const client = await mesh.add({ bootstrap: bootstrapOf(server) })
  await eventually('the client to know the blobstore', () => client.servers(BLOBSTORE).some(s => !s.local))
  return {
    root,
    dir: dir.path,
    client,
    provider,
    async stop () {
      await mesh.stop()
      await provider.stop()
      await dir.remove()
    }
  }
}
