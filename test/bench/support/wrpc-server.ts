// Child process of the wrpc bench: `wrpc` runs a mesh node serving the native echo over TCP; `libp2p` the raw stream-per-call echo on the same libp2p stack.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createMeshLibp2p } from '../../../node/libp2p.ts'
import { silentLogger } from '../../../node/logger.ts'
import { createNode } from '../../../node/node.ts'
import { serveUntilStdinEnds } from './child.ts'
import { echoService, handleRawEcho } from './echo.ts'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']
const kind = process.argv[2]

if (kind === 'wrpc') {
  const node = await createNode({ transport: 'tcp', listen: LISTEN, logger: silentLogger })
  await node.start()
  node.serve(echoService())
  serveUntilStdinEnds(node.addresses()[0], async () => { await node.stop() })
} else if (kind === 'libp2p') {
  const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), transport: 'tcp', listen: LISTEN })
  await handleRawEcho(libp2p)
  await libp2p.start()
  serveUntilStdinEnds(libp2p.getMultiaddrs()[0].toString(), async () => { await libp2p.stop() })
} else {
  process.stderr.write('usage: wrpc-server.ts wrpc|libp2p\n')
  process.exit(2)
}
