import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureExamples } from '../../../examples/build.ts'
import type { MeshNode } from '../../../node/index.ts'
import { messagingTopic } from '../../../node/messaging/index.ts'
import { nodeInternals } from '../../../node/node.ts'
import { bootstrapOf, createMesh, demoHost, eventually } from '../../support/mesh.ts'
import type { Mesh } from '../../support/mesh.ts'

const MESSENGER = 'wasmesh:examples/messenger'

describe('the messaging example components on two nodes', () => {
  let mesh: Mesh
  let pub: MeshNode
  const logged: string[] = []

  beforeAll(async () => {
    const paths = await ensureExamples({ names: ['msg-pub', 'msg-sub'] })
    mesh = await createMesh()
    pub = await mesh.add({ messaging: {}, components: [{ source: paths['msg-pub'], name: 'pub' }] })
    const sub = await mesh.add({ bootstrap: bootstrapOf(pub), messaging: { subscriptions: [{ component: 'sub', subject: 'greetings.>' }] }, components: [{ source: paths['msg-sub'], name: 'sub' }] })
    sub.serve(demoHost(logged))
    const meshOf = nodeInternals(pub).libp2p.services.pubsub as unknown as { getMeshPeers: (topic: string) => string[] }
    await eventually('the gossip mesh between the two', () => meshOf.getMeshPeers(messagingTopic(pub.lattice)).includes(sub.peerId))
    await eventually('pub to know the subscriber node', () => pub.servers('wasmesh:messaging/requests@0.1.0').some(s => !s.local))
  }, 300_000)

  afterAll(async () => { await mesh?.stop() })

  it('a publish of one component reaches the subscribed component on the other node', async () => {
    const [r] = await pub.call(MESSENGER, 'send', ['greetings.hello', 'hi there'])
    expect(r).toEqual({ tag: 'ok', val: undefined })
    await eventually('the subscriber to log the message', () => logged.includes('greetings.hello: hi there'))
    // not subscribed: never handed over
    await pub.call(MESSENGER, 'send', ['other.subject', 'nobody'])
    await pub.call(MESSENGER, 'send', ['greetings.last', 'last'])
    await eventually('the later message', () => logged.includes('greetings.last: last'))
    expect(logged.some(l => l.includes('nobody'))).toBe(false)
  })

  it('a request is answered by the subscriber through the reply-to inbox', async () => {
    const [r] = await pub.call(MESSENGER, 'ask', ['greetings.ask', 'ping', 5000])
    expect(r).toEqual({ tag: 'ok', val: 'PING' })
    const [none] = await pub.call(MESSENGER, 'ask', ['nobody.listens', 'x', 2000]) as [{ tag: string, val: string }]
    expect(none.tag).toBe('err')
    expect(none.val).toContain('no subscriber')
  })
})
