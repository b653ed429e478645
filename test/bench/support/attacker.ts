// Child process of the attack bench: a peer with a fresh key that attacks a node with garbage, resets, stalled values and zombie adverts until its stdin ends.
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { encodeAdvert, encodeAdvertList, encodeRelayedList, encodeSignedAdvert } from '../../../protocol/advert.ts'
import type { Advert } from '../../../protocol/advert.ts'
import { encodeHeader, FRAME_VERSION } from '../../../protocol/frame.ts'
import { createMeshLibp2p, WRPC_PROTOCOL } from '../../../node/libp2p.ts'
import { agedSyncProtocol, syncProtocol } from '../../../node/adverts.ts'
import { ECHO_IFACE } from './echo.ts'

/**
 * `attacker.ts <victim multiaddr> [<more multiaddrs to hand zombie adverts to>] [--stalled N] [--zombies N]`.
 * Prints `{"address": ...}` when it has started, then one JSON line of counts per second.
 */
const args = process.argv.slice(2)
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(name)
  return at >= 0 ? Number(args[at + 1]) : fallback
}
const STALLED_STREAMS = option('--stalled', 64)
const ZOMBIES = option('--zombies', 300)
const targets = args.filter((a, i) => a.startsWith('/') && !args[i - 1]?.startsWith('--'))
if (targets.length === 0) {
  process.stderr.write('usage: attacker.ts <victim multiaddr> [<multiaddr> ...] [--stalled N] [--zombies N]\n')
  process.exit(2)
}
const victim = multiaddr(targets[0])

/** A value the bench never completes: a `list<u8>` of 15 MiB declared, sent but for its last bytes, then a byte every 8 s. */
const STALLED_VALUE_BYTES = 15 * 2 ** 20
const TRICKLE_EVERY_MS = 8_000

const counts = { garbage: 0, resets: 0, stalled: 0, stalledBytes: 0, zombiesServed: 0, errors: 0 }
const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'] })

/** 300 self-signed adverts from fresh keys for the echo interface, at closed ports, with the longest TTL the wire allows. */
async function zombieEnvelopes (): Promise<Uint8Array[]> {
  const envelopes: Uint8Array[] = []
  for (let i = 0; i < ZOMBIES; i++) {
    const key = await generateKeyPair('Ed25519')
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
    const peer = peerIdFromPrivateKey(key).toString()
    const advert: Advert = {
      peer,
      seq: BigInt(Date.now()),
      lattice: 'default',
      addresses: [`/ip4/127.0.0.1/tcp/${1 + (i % 1000)}/p2p/${peer}`],
      labels: {},
      exports: [{ iface: ECHO_IFACE, digest: 'a'.repeat(64), capacity: 1_000_000, load: 0 }],
      ttlMs: 2 ** 32 - 1,
      withdrawn: false
    }
    const bytes = encodeAdvert(advert)
    envelopes.push(encodeSignedAdvert({ advert: bytes, signature: await key.sign(bytes) }))
  }
  return envelopes
}
const envelopes = await zombieEnvelopes()
// both sync versions: the old list of envelopes, and the aged one claiming every record was heard just now
const replies = new Map([
  [syncProtocol('default'), encodeAdvertList(envelopes)],
  [agedSyncProtocol('default'), encodeRelayedList(envelopes.map(envelope => ({ ageMs: 0, envelope })))]
])
for (const [protocol, reply] of replies) {
  await libp2p.handle(protocol, async (stream: Stream) => {
    counts.zombiesServed++
    stream.send(reply)
    await stream.close().catch(() => {})
  }, { maxInboundStreams: 64 })
}
await libp2p.start()
for (const t of targets) await libp2p.dial(multiaddr(t)).catch(() => { counts.errors++ })

let running = true
const stop = async (): Promise<void> => {
  running = false
  await libp2p.stop()
  process.exit(0)
}
process.stdin.on('end', () => { void stop() })
process.stdin.resume()

const opening = (() => {
  const head = encodeHeader({ instance: ECHO_IFACE, name: 'echo' })
  const out = new Uint8Array(1 + head.length)
  out[0] = FRAME_VERSION
  out.set(head, 1)
  return out
})()

async function open (): Promise<Stream | undefined> {
  try {
    return await libp2p.dialProtocol(victim, WRPC_PROTOCOL, { signal: AbortSignal.timeout(5_000), maxOutboundStreams: 4096 })
  } catch (err) {
    counts.errors++
    if (counts.errors === 1) process.stderr.write(`attacker: ${String(err)}\n`)
    // a refused dial comes back at once: yield, or the loops starve every timer
    await new Promise(resolve => setTimeout(resolve, 10))
    return undefined
  }
}

/** Garbage after a valid opening, then close: the victim answers with an error frame. */
async function garbageLoop (): Promise<void> {
  while (running) {
    const s = await open()
    if (s === undefined) continue
    s.send(opening)
    s.send(crypto.getRandomValues(new Uint8Array(64 + Math.floor(Math.random() * 4096))))
    await s.close().catch(() => {})
    counts.garbage++
  }
}

/** Streams reset in every state: at once, after the opening, after part of a frame. */
async function resetLoop (): Promise<void> {
  let n = 0
  while (running) {
    const s = await open()
    if (s === undefined) continue
    const stage = n++ % 3
    if (stage >= 1) s.send(opening)
    if (stage === 2) s.send(Uint8Array.of(0x00, 0x90, 0x80, 0x01, 1, 2, 3))
    s.abort(new Error('attacker reset'))
    counts.resets++
    await new Promise(resolve => setImmediate(resolve))
  }
}

/** Stalled values: each stream declares 15 MiB and sends all but the last bytes, then trickles. */
async function stalledStreams (): Promise<void> {
  const stalled: Stream[] = []
  const chunk = new Uint8Array(64 * 1024).fill(7)
  // the root frame: path [] (0x00), data length, then the list<u8>: its length, its bytes
  const valueHead = Uint8Array.from(leb(STALLED_VALUE_BYTES))
  const frameHead = Uint8Array.of(0x00, ...leb(valueHead.length + STALLED_VALUE_BYTES))
  while (running) {
    // keep STALLED_STREAMS open: the victim may reset some, the attacker opens others
    const open_ = stalled.filter(s => s.status === 'open')
    stalled.splice(0, stalled.length, ...open_)
    if (open_.length >= STALLED_STREAMS) { await new Promise(resolve => setTimeout(resolve, 500)); continue }
    const s = await open()
    if (s === undefined) { await new Promise(resolve => setTimeout(resolve, 100)); continue }
    stalled.push(s)
    counts.stalled++
    s.send(opening); s.send(frameHead); s.send(valueHead)
    void (async () => {
      let sent = 0
      while (running && sent + chunk.length < STALLED_VALUE_BYTES - 16 && s.status === 'open') {
        if (!s.send(chunk)) await new Promise(resolve => { s.addEventListener('drain', resolve, { once: true }); s.addEventListener('close', resolve, { once: true }) })
        sent += chunk.length
        counts.stalledBytes += chunk.length
      }
      while (running && s.status === 'open') {
        await new Promise(resolve => setTimeout(resolve, TRICKLE_EVERY_MS))
        if (s.status === 'open') s.send(Uint8Array.of(7))
      }
    })().catch(() => { counts.errors++ })
  }
}

function leb (n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return out
}

setInterval(() => { process.stdout.write(JSON.stringify(counts) + '\n') }, 1_000).unref()
process.stdout.write(JSON.stringify({ address: libp2p.getMultiaddrs()[0].toString() }) + '\n')
await Promise.all([garbageLoop(), resetLoop(), stalledStreams()].map(p => p.catch(() => { counts.errors++ })))
