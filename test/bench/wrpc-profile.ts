// Profiles one case of the wrpc bench (default: 64 B echo, 64 calls in flight) with --cpu-prof in both processes: `npx node --cpu-prof --cpu-prof-dir=DIR test/bench/wrpc-profile.ts [seconds] [concurrency] [payload bytes] [--raw] [--stock]`.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createMeshLibp2p } from '../../node/libp2p.ts'
import { startServer } from './support/child.ts'
import { ECHO_CALL_IFACE, echoClient, handleRawEcho, rawEcho, rawFastPath } from './support/echo.ts'

const args = process.argv.slice(2).filter(a => !a.startsWith('--'))
const raw = process.argv.includes('--raw')
/** Stock js-libp2p behaviour on both ends (`fastPath: false`): the before of issue 8. */
const stock = process.argv.includes('--stock')
const seconds = Number(args[0] ?? 10)
const concurrency = Number(args[1] ?? 64)
// the child writes its profile where this process writes its own
const profDir = process.execArgv.find(a => a.startsWith('--cpu-prof-dir='))
const nodeArgs = [...(profDir === undefined ? [] : ['--cpu-prof', profDir]), ...(process.env.WASMESH_CHILD_IMPORT !== undefined ? ['--import', process.env.WASMESH_CHILD_IMPORT] : [])]

const server = await startServer(new URL('./support/wrpc-server.ts', import.meta.url), [raw ? 'libp2p' : 'wrpc', ...(stock ? ['--stock'] : [])], { nodeArgs })
const payload = new Uint8Array(Number(args[2] ?? 64)).fill(7)
let call: () => Promise<unknown>
let stop: () => Promise<void>
if (raw) {
  const client = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], ...rawFastPath(!stock) })
  await handleRawEcho(client)
  await client.start()
  const addr = multiaddr(server.address)
  const peer = peerIdFromString(addr.getComponents().findLast(c => c.name === 'p2p')?.value ?? '')
  await client.dial(addr)
  call = async () => await rawEcho(client, peer, payload)
  stop = async () => { await client.stop() }
} else {
  const client = await echoClient(server.address, { fastPath: !stock })
  call = async () => await client.call(ECHO_CALL_IFACE, 'echo', [payload])
  stop = async () => { await client.stop() }
}
// warm-up, then the profiled run
for (let i = 0; i < 500; i++) await call()
let calls = 0
const until = performance.now() + seconds * 1000
const began = performance.now()
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (performance.now() < until) {
    await call()
    calls++
  }
}))
const elapsed = (performance.now() - began) / 1000
console.log(`${raw ? 'raw libp2p' : 'wRPC'}${stock ? ' (stock libp2p)' : ''}, ${payload.byteLength} B: ${calls} calls in ${elapsed.toFixed(1)} s = ${Math.round(calls / elapsed)} calls/s at ${concurrency} in flight`)
await stop()
await server.stop()
process.exit(0)
