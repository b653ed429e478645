import { describe, it, expect, afterEach } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createMeshLibp2p, signedMessageKey, WRPC_PROTOCOL } from '../../../node/libp2p.ts'
import { Nodes, waitFor } from './helpers.ts'
import type { TransportKind } from './helpers.ts'

const nodes = new Nodes()
afterEach(async () => { await nodes.stopAll() })

describe('createMeshLibp2p', () => {
  it('is not started, uses the given key, and signs gossip strictly', async () => {
    const privateKey = await generateKeyPair('Ed25519')
    const node = await nodes.create('memory', { privateKey })
    expect(node.status).toBe('stopped')
    expect(node.peerId.toString()).toBe(peerIdFromPrivateKey(privateKey).toString())
    expect(node.services.pubsub.globalSignaturePolicy).toBe('StrictSign')
    expect(WRPC_PROTOCOL).toBe('/wrpc/0.0.1')
  })

  it('tells duplicates by author and seqno alone (the fast message id checked before any signature)', () => {
    const rpc = (from: number[], seqno: number[], data: number[]): Parameters<typeof signedMessageKey>[0] =>
      ({ topic: 't', from: new Uint8Array(from), seqno: new Uint8Array(seqno), data: new Uint8Array(data) })
    const key = signedMessageKey(rpc([0, 36, 8, 1], [0, 0, 0, 0, 0, 0, 0, 1], [1]))
    // another copy, whatever its data or signature, is the same message
    expect(signedMessageKey(rpc([0, 36, 8, 1], [0, 0, 0, 0, 0, 0, 0, 1], [2, 3]))).toBe(key)
    expect(signedMessageKey(rpc([0, 36, 8, 1], [0, 0, 0, 0, 0, 0, 0, 2], [1]))).not.toBe(key)
    expect(signedMessageKey(rpc([0, 36, 8, 2], [0, 0, 0, 0, 0, 0, 0, 1], [1]))).not.toBe(key)
    // bytes above 127 stay distinct (one character per byte)
    expect(signedMessageKey(rpc([200], [255], []))).not.toBe(signedMessageKey(rpc([201], [255], [])))
    expect(signedMessageKey({ topic: 't' })).toBe('')
  })

  it('refuses a stream window larger than the read buffer (a paused stream would be reset)', async () => {
    await expect(createMeshLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      transport: 'memory',
      streamLimits: { maxStreamWindowBytes: 8 * 1024 * 1024, maxReadBufferBytes: 4 * 1024 * 1024 }
    })).rejects.toThrow(RangeError)
  })

  it.each<TransportKind>(['tcp', 'memory'])('connects over %s and delivers signed gossip with the sender as author', async (kind) => {
    const a = await nodes.start(kind)
    const b = await nodes.start(kind)
    const topic = '/wasmesh/test/adverts/1'
    a.services.pubsub.subscribe(topic)
    b.services.pubsub.subscribe(topic)
    await a.dial(b.getMultiaddrs()[0])
    await waitFor('b to see a subscribed', () => b.services.pubsub.getSubscribers(topic).some(p => p.equals(a.peerId)))
    const got: Array<{ from: string, data: string }> = []
    b.services.pubsub.addEventListener('message', (evt) => {
      const msg = evt.detail
      if (msg.type === 'signed') got.push({ from: msg.from.toString(), data: new TextDecoder().decode(msg.data) })
    })
    await waitFor('a published message to arrive', async () => {
      await a.services.pubsub.publish(topic, new TextEncoder().encode('hello'))
      return got.length > 0
    }, 15_000, 200)
    expect(got[0]).toEqual({ from: a.peerId.toString(), data: 'hello' })
  })
})
