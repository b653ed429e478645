// Two mesh nodes on TCP loopback, one serving a native service and one calling it: the mesh hop the provider benchmarks price.

import { join } from 'node:path'
import { silentLogger } from '../../../node/logger.ts'
import { createNode } from '../../../node/index.ts'
import type { LocalService, MeshNode } from '../../../node/index.ts'
import { eventually } from '../../support/mesh.ts'

/** Starts a server serving `service` and a client bootstrapped to it, waits until the client knows `iface`; `nodes` gets both, for the caller to stop. */
export async function servedPair (service: LocalService, iface: string, dir: string, nodes: MeshNode[]): Promise<{ server: MeshNode, client: MeshNode }> {
  const options = { transport: 'tcp' as const, listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, cacheDir: join(dir, 'cache') }
  const server = await createNode(options)
  nodes.push(server)
  await server.start()
  server.serve(service)
  const client = await createNode({ ...options, bootstrap: server.addresses() })
  nodes.push(client)
  await client.start()
  await eventually(`the client to see ${iface}`, () => client.servers(iface).length > 0, 20_000)
  return { server, client }
}
