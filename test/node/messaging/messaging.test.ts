import { createHash } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { LocalService, MeshNode } from '../../../node/index.ts'
import { CONSUMER, HANDLER, REQUESTS, encodePublished, messagingTopic } from '../../../node/messaging/index.ts'
import { nodeInternals } from '../../../node/node.ts'
import { parseWit } from '../../../protocol/wit/index.ts'
import { bootstrapOf, createMesh, eventually } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'

interface Got { subject: string, body: string, from: string }

const witText = readFileSync(new URL('../../../wit/deps/wasmcloud-messaging-0.2.0/package.wit', import.meta.url), 'utf8')

/** A native subscriber named `name`: exports wasmcloud:messaging/handler and records what it is handed. */
function subscriber (name: string): LocalService & { got: Got[] } {
  const iface = parseWit({ 'm.wit': witText }).findInterface(HANDLER)!
  const got: Got[] = []
  return {
    got,
    digest: createHash('sha256').update(witText + name).digest('hex'),
    name,
    interfaces: [iface],
    wit: witText,
    capacity: 64,
    call: async (_iface, _func, [msg], ctx) => {
      const m = msg as { subject: string, body: Uint8Array }
      got.push({ subject: m.subject, body: Buffer.from(m.body).toString(), from: ctx.caller })
      return [{ tag: 'ok' }]
    }
  }
}

async function publish (node: MeshNode, subject: string, body: string | Uint8Array): Promise<unknown> {
  const [r] = await node.call(CONSUMER, 'publish', [{ subject, body: typeof body === 'string' ? Buffer.from(body) : body }], { target: node.peerId })
  return r
}

describe('wasmcloud:messaging over gossip', () => {
  let mesh: Mesh
  afterEach(async () => { await mesh?.stop() })

  async function three (limits = {}): Promise<{ pub: MeshNode, a: MeshNode, b: MeshNode, subA: ReturnType<typeof subscriber>, subB: ReturnType<typeof subscriber>, subAll: ReturnType<typeof subscriber> }> {
    mesh = await createMesh()
    // the publisher takes its limits by name (what --limit sets), the others in messaging.limits
    const pub = await mesh.add({ messaging: {}, messagingLimits: limits })
    const a = await mesh.add({ bootstrap: bootstrapOf(pub), messaging: { limits, subscriptions: [{ component: 'orders', subject: 'orders.*' }, { component: 'all', subject: 'nothing.here' }] } })
    const b = await mesh.add({ bootstrap: bootstrapOf(pub), messaging: { limits, subscriptions: [{ component: 'orders', subject: 'orders.eu.>' }] } })
    // a native service per node: the services table routes an interface to one service (components are all counted)
    const c = await mesh.add({ bootstrap: bootstrapOf(pub), messaging: { limits, subscriptions: [{ component: 'all', subject: '>' }] } })
    const subA = subscriber('orders')
    const subAll = subscriber('all')
    const subB = subscriber('orders')
    a.serve(subA)
    c.serve(subAll)
    b.serve(subB)
    const topic = messagingTopic(pub.lattice)
    // gossip is at most once: what is published before the publisher's gossipsub has a stream to a peer is lost for it
    // (getMeshPeers is on the implementation, not on the GossipSub type)
    const meshOf = nodeInternals(pub).libp2p.services.pubsub as unknown as { getMeshPeers: (topic: string) => string[] }
    await eventually('the topic mesh to form', () => [a, b, c].every(n => meshOf.getMeshPeers(topic).includes(n.peerId)))
    return { pub, a: c, b, subA, subB, subAll }
  }

  it('delivers a message to every matching subscriber on other nodes, by wildcard, and to no other', async () => {
    const { pub, subA, subB, subAll } = await three()
    expect(await publish(pub, 'orders.created', 'one')).toEqual({ tag: 'ok' })
    expect(await publish(pub, 'orders.eu.paid', 'two')).toEqual({ tag: 'ok' })
    await eventually('every subscriber to get its messages', () => subA.got.length === 1 && subB.got.length === 1 && subAll.got.length === 2)
    expect(subA.got.map(g => g.body)).toEqual(['one'])
    expect(subB.got.map(g => g.body)).toEqual(['two'])
    expect(subAll.got.map(g => g.subject)).toEqual(['orders.created', 'orders.eu.paid'])
    // the publisher's peer id, as gossipsub's signature says
    expect(subA.got[0].from).toBe(pub.peerId)
  })

  it('keeps one publisher\'s order and delivers each message at most once', async () => {
    const { pub, subAll } = await three()
    for (let i = 0; i < 100; i++) await publish(pub, `seq.${i}`, String(i))
    await eventually('the last message to arrive', () => subAll.got.some(g => g.body === '99'))
    const seen = subAll.got.map(g => Number(g.body))
    expect(new Set(seen).size).toBe(seen.length)
    expect([...seen].sort((x, y) => x - y)).toEqual(seen)
  })

  it('refuses bad subjects and messages over maxMessageBytes with the contract\'s err, sending nothing', async () => {
    const { pub, subAll } = await three({ maxMessageBytes: 4096 })
    for (const subject of ['', 'a..b', 'orders.*', 'with space']) {
      expect((await publish(pub, subject, 'x') as { tag: string }).tag).toBe('err')
    }
    const big = await publish(pub, 'big', new Uint8Array(5000)) as { tag: string, val: string }
    expect(big.tag).toBe('err')
    expect(big.val).toContain('maxMessageBytes')
    await publish(pub, 'after', 'ok')
    await eventually('the good message', () => subAll.got.length === 1)
    expect(subAll.got[0].subject).toBe('after')
  })

  it('drops garbage, oversized, replayed and flooded messages from a peer, and still delivers the others\'', async () => {
    const { pub, a, subAll } = await three({ maxMessageBytes: 4096, maxMessagesPerPeerPerMinute: 20 })
    const attacker = nodeInternals(pub).libp2p.services.pubsub
    const topic = messagingTopic(pub.lattice)
    await attacker.publish(topic, new Uint8Array([0xff, 0xff, 0xff]))
    await attacker.publish(topic, new Uint8Array(8000))
    await publish(pub, 'first', 'real')
    // signed by pub, but with a sequence number at or below what pub already sent: a replay
    await attacker.publish(topic, encodePublished({ seq: 1n, subject: 'replayed', body: new Uint8Array([1]) }))
    // a flood from one publisher: at most its budget gets through
    for (let i = 0; i < 60; i++) await publish(pub, `flood.${i}`, 'f')
    const honest = await mesh.add({ bootstrap: bootstrapOf(a), messaging: {} })
    await eventually('the honest publisher to join the topic', () => nodeInternals(honest).libp2p.services.pubsub.getSubscribers(topic).length > 0)
    await eventually('an honest message to arrive', async () => {
      await publish(honest, 'honest.hello', 'hi')
      return subAll.got.some(g => g.from === honest.peerId)
    })
    const flooded = subAll.got.filter(g => g.subject.startsWith('flood.')).length
    expect(flooded).toBeLessThanOrEqual(20)
    const dropped = a.stats().messaging?.dropped ?? {}
    expect(dropped.garbage ?? 0).toBeGreaterThan(0)
    expect(dropped['too-large'] ?? 0).toBeGreaterThan(0)
    expect(dropped.replayed ?? 0).toBeGreaterThan(0)
    expect(subAll.got.some(g => g.subject === 'replayed')).toBe(false)
    expect(dropped['rate-limited'] ?? 0).toBeGreaterThan(0)
  })

  it('routes a request to one subscriber on another node and returns its reply; no subscriber and timeouts are errs', async () => {
    mesh = await createMesh()
    const requester = await mesh.add({ messaging: {} })
    const echoNodes = await Promise.all([0, 1].map(async () => await mesh.add({ bootstrap: bootstrapOf(requester), messaging: { subscriptions: [{ component: 'echo', subject: 'svc.echo' }, { component: 'mute', subject: 'svc.mute' }] } })))
    const handled: string[] = []
    for (const node of echoNodes) {
      // replies by publishing to the request's reply-to, as a wasmCloud component does
      const echo = subscriber('echo')
      const inner = echo.call
      node.serve({
        ...echo,
        call: async (iface, func, params, ctx) => {
          const m = params[0] as { subject: string, body: Uint8Array, replyTo?: string }
          handled.push(node.peerId)
          await node.call(CONSUMER, 'publish', [{ subject: m.replyTo, body: Buffer.from(Buffer.from(m.body).toString().toUpperCase()) }], { target: node.peerId })
          return await inner(iface, func, params, ctx)
        }
      })
    }
    const mute = subscriber('mute')
    await eventually('the requester to know both nodes', () => requester.servers('wasmesh:messaging/requests@0.1.0').filter(s => !s.local).length === 2)
    const [r] = await requester.call(CONSUMER, 'request', ['svc.echo', Buffer.from('ping'), 5000], { target: requester.peerId }) as [{ tag: string, val: { subject: string, body: Uint8Array } }]
    expect(r.tag).toBe('ok')
    expect(Buffer.from(r.val.body).toString()).toBe('PING')
    // one subscriber took it, not both
    expect(handled.length).toBe(1)

    const [none] = await requester.call(CONSUMER, 'request', ['svc.nobody', Buffer.from('x'), 2000], { target: requester.peerId }) as [{ tag: string, val: string }]
    expect(none.tag).toBe('err')
    expect(none.val).toContain('no subscriber')

    // a subscriber that never replies: err at the deadline, not a hang
    echoNodes[0].serve(mute)
    const [late] = await requester.call(CONSUMER, 'request', ['svc.mute', Buffer.from('x'), 300], { target: requester.peerId, timeoutMs: 5000 }) as [{ tag: string, val: string }]
    expect(late.tag).toBe('err')
  })

  it('serves consumer to its own components only: a peer calling it is refused', async () => {
    const { pub, a } = await three()
    await eventually('a to know pub\'s consumer', () => a.servers(CONSUMER).some(s => s.peer === pub.peerId))
    await expect(a.call(CONSUMER, 'publish', [{ subject: 'x', body: new Uint8Array() }], { target: pub.peerId })).rejects.toMatchObject({ code: 'refused' })
  })

  it('is undone by stop and works again after a restart', async () => {
    mesh = await createMesh()
    const node = await mesh.add({ messaging: {} })
    const topic = messagingTopic(node.lattice)
    const pubsub = nodeInternals(node).libp2p.services.pubsub
    expect(pubsub.getTopics()).toContain(topic)
    expect(node.servers(CONSUMER).some(s => s.local)).toBe(true)
    await node.stop()
    expect(pubsub.topicValidators.has(topic)).toBe(false)
    expect(node.servers(CONSUMER).some(s => s.local)).toBe(false)
    await node.start()
    expect(pubsub.getTopics()).toContain(topic)
    expect(await publish(node, 'after.restart', 'x')).toEqual({ tag: 'ok' })
    expect(node.stats().messaging?.published).toBe(1)
  })

  it('bounds a sybil flood through one forwarder, and drops a forgotten publisher\'s old message as stale', async () => {
    mesh = await createMesh()
    const node = await mesh.add({ messaging: { subscriptions: [{ component: 'all', subject: '>' }], limits: { maxPublishersTracked: 20, maxMessagesPerForwarderPerMinute: 50 } } })
    const all = subscriber('all')
    node.serve(all)
    const topic = messagingTopic(node.lattice)
    // what gossipsub hands the validator once a message's signature checked out: a sybil signs with a fresh key each time
    const validate = nodeInternals(node).libp2p.services.pubsub.topicValidators.get(topic)!
    const freshPeer = async (): Promise<PeerId> => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const nowSeq = (agoMs = 0): bigint => BigInt(Date.now() - agoMs) * 1000n
    const arrive = async (forwarder: PeerId, from: PeerId, subject: string, seq = nowSeq()): Promise<TopicValidatorResult> =>
      await validate(forwarder, { type: 'signed', from, topic, data: encodePublished({ seq, subject, body: new Uint8Array([1]) }) } as unknown as Message)

    const attacker = await freshPeer()
    const results: TopicValidatorResult[] = []
    for (let i = 0; i < 200; i++) results.push(await arrive(attacker, await freshPeer(), `sybil.${i}`))
    const taken = results.filter(r => r === TopicValidatorResult.Accept).length
    expect(taken).toBe(50)
    const stats = node.stats().messaging!
    expect(stats.dropped['forwarder-rate-limited']).toBe(150)
    expect(stats.publishersTracked).toBe(20)
    await eventually('the taken messages to be handed to the subscriber', () => all.got.length === taken)

    // another forwarder has a budget of its own
    const honestForwarder = await freshPeer()
    const publisher = await freshPeer()
    const firstSeq = nowSeq()
    expect(await arrive(honestForwarder, publisher, 'first', firstSeq)).toBe(TopicValidatorResult.Accept)
    expect(await arrive(honestForwarder, publisher, 'second', firstSeq + 1n)).toBe(TopicValidatorResult.Accept)
    // while its publisher is remembered, the first message again is a replay
    expect(await arrive(honestForwarder, publisher, 'first', firstSeq)).toBe(TopicValidatorResult.Ignore)
    expect(node.stats().messaging!.dropped.replayed).toBe(1)
    // forgotten behind 20 newer publishers and a minute later (past maxMessageAgeMs, 60 s),
    // the same message is still refused; only Date moves, the node's timers do not
    for (let i = 0; i < 20; i++) await arrive(honestForwarder, await freshPeer(), `push.${i}`)
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      vi.setSystemTime(Date.now() + 61_000)
      expect(await arrive(honestForwarder, publisher, 'first', firstSeq)).toBe(TopicValidatorResult.Ignore)
      expect(node.stats().messaging!.dropped.stale).toBe(1)
      // a fresh message from it is taken again
      expect(await arrive(honestForwarder, publisher, 'third')).toBe(TopicValidatorResult.Accept)
    } finally {
      vi.useRealTimers()
    }
    await eventually('every taken message to be handed over once', () => all.got.length === taken + 23)
    expect(all.got.filter(g => g.subject === 'first')).toHaveLength(1)
  })

  it('refuses a maxMessageAgeMs that gossipsub\'s seen cache does not cover', async () => {
    mesh = await createMesh()
    await expect(mesh.add({ messaging: { limits: { maxMessageAgeMs: 600_000 } } })).rejects.toMatchObject({ code: 'invalid-config' })
  })

  it('bounds what waits for a slow subscriber: past maxQueuedPerSubscriber new messages are dropped for it', async () => {
    mesh = await createMesh()
    const node = await mesh.add({ messaging: { subscriptions: [{ component: 'slow', subject: 'work.*' }], limits: { maxQueuedPerSubscriber: 3 } } })
    const release = Promise.withResolvers<void>()
    const slow = subscriber('slow')
    const inner = slow.call
    node.serve({ ...slow, call: async (...args) => { await release.promise; return await inner(...args) } })
    for (let i = 0; i < 10; i++) expect(await publish(node, `work.${i}`, String(i))).toEqual({ tag: 'ok' })
    expect(node.stats().messaging?.dropped['queue-full']).toBe(7)
    release.resolve()
    await eventually('the queued three to be handled', () => slow.got.length === 3)
    // in publish order
    expect(slow.got.map(g => g.body)).toEqual(['0', '1', '2'])
  })

  it('charges a peer\'s direct requests to its budget, and refuses a request body over maxMessageBytes', async () => {
    mesh = await createMesh()
    const target = await mesh.add({ messaging: { subscriptions: [{ component: 'echo', subject: 'svc.echo' }], limits: { maxMessagesPerPeerPerMinute: 3, maxMessageBytes: 1024 } } })
    const echo = subscriber('echo')
    target.serve(echo)
    const peer = await mesh.add({ bootstrap: bootstrapOf(target), messaging: {} })
    await eventually('the peer to know the target', () => peer.servers(REQUESTS).some(s => s.peer === target.peerId))
    const outcomes: string[] = []
    for (let i = 0; i < 6; i++) {
      // no reply comes (echo does not publish one): each taken request fails at its short deadline
      outcomes.push(await peer.call(REQUESTS, 'request', [{ subject: 'svc.echo', body: new Uint8Array(1) }, 50], { target: target.peerId })
        .then(([a]) => (a as { tag: string }).tag, (err: { code?: string }) => err.code ?? 'error'))
    }
    expect(outcomes.filter(o => o === 'failed').length).toBe(3)
    expect(outcomes.filter(o => o === 'overloaded').length).toBe(3)
    expect(echo.got.length).toBe(3)
    const [big] = await target.call(REQUESTS, 'request', [{ subject: 'svc.echo', body: new Uint8Array(2048) }, 50], { target: target.peerId }) as [{ tag: string, val: string }]
    expect(big.tag).toBe('failed')
    expect(big.val).toContain('maxMessageBytes')
  })
})
