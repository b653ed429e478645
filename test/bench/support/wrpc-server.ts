// Child process of the wrpc bench: `wrpc` runs a mesh node serving the native echo over TCP; `libp2p` the raw stream-per-call echo on the same libp2p stack.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createMeshLibp2p } from '../../../node/libp2p.ts'
import { silentLogger } from '../../../node/logger.ts'
import { createNode } from '../../../node/index.ts'
import { loadPolicyFile, readLatticeKey, readPublicKey } from '../../../node/security/index.ts'
import { serveUntilStdinEnds } from './child.ts'
import { echoService, handleRawEcho, rawFastPath } from './echo.ts'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']
const kind = process.argv[2]
/** `--stock`: js-libp2p's own behaviour (`fastPath: false`), the before of issue 8. */
const stock = process.argv.includes('--stock')

/** `--heap-every-ms N`: print `{heapUsed, arrayBuffers, rss, served}` every N ms, after a full GC when run with --expose-gc (the soak and attack benches). */
const heapAt = process.argv.indexOf('--heap-every-ms')
const heapEveryMs = heapAt > 0 ? Number(process.argv[heapAt + 1]) : 0
/** `--lattice-key <file>`: a private lattice (the security bench); `--allow-peer <id>`: an allow-list of that peer. */
const option = (name: string): string | undefined => { const at = process.argv.indexOf(name); return at > 0 ? process.argv[at + 1] : undefined }
const latticeKeyFile = option('--lattice-key')
const latticeKey = latticeKeyFile === undefined ? undefined : await readLatticeKey(latticeKeyFile)
const allowPeer = option('--allow-peer')

/** `--policy <file> --trust-admin <admin.pub>`: the node checks every call against that policy (the policy bench). */
const policyAt = process.argv.indexOf('--policy')
const adminAt = process.argv.indexOf('--trust-admin')
const security = policyAt > 0 && adminAt > 0
  ? { policy: await loadPolicyFile(process.argv[policyAt + 1]), trustAdmins: [await readPublicKey(process.argv[adminAt + 1])] }
  : {}

if (kind === 'wrpc') {
  const node = await createNode({ transport: 'tcp', listen: LISTEN, logger: silentLogger, fastPath: !stock, latticeKey, ...(allowPeer !== undefined ? { allowPeers: [allowPeer] } : {}), ...security })
  await node.start()
  node.serve(echoService())
  let sampler: ReturnType<typeof setInterval> | undefined
  if (heapEveryMs > 0) {
    const gc = (globalThis as { gc?: () => void }).gc
    sampler = setInterval(() => {
      gc?.()
      const { heapUsed, arrayBuffers, rss } = process.memoryUsage()
      process.stdout.write(JSON.stringify({ heapUsed, arrayBuffers, rss, served: node.stats().served }) + '\n')
    }, heapEveryMs)
  }
  serveUntilStdinEnds(node.addresses()[0], async () => {
    clearInterval(sampler)
    await node.stop()
  })
} else if (kind === 'libp2p') {
  const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), transport: 'tcp', listen: LISTEN, ...rawFastPath(!stock) })
  await handleRawEcho(libp2p)
  await libp2p.start()
  serveUntilStdinEnds(libp2p.getMultiaddrs()[0].toString(), async () => { await libp2p.stop() })
} else {
  process.stderr.write('usage: wrpc-server.ts wrpc|libp2p [--stock] [--heap-every-ms N] [--lattice-key file] [--allow-peer id] [--policy <file> --trust-admin <admin.pub>]\n')
  process.exit(2)
}
