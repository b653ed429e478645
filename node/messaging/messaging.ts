// Publishes components' messages on the lattice's messaging topic and hands every message that arrives to the local components subscribed to its subject.

import { readFileSync } from 'node:fs'
import type { GossipSub } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'
import { decodeValue, encodeValue } from '../../protocol/value.ts'
import { parseWit } from '../../protocol/wit/index.ts'
import type { Type } from '../../protocol/wit/model.ts'
import type { LocalService } from '../api.ts'
import type { LocalHandler } from './handlers.ts'
import type { Logger } from '../logger.ts'
import { createRateLimiter } from '../rate-limit.ts'
import { NodeError } from '../errors.ts'
import { ProviderError } from '../providers/errors.ts'
import { createProvider } from '../providers/sdk.ts'
import type { Provider, ProviderModule } from '../providers/sdk.ts'
import { defaultMessagingLimits } from './index.ts'
import type { Messaging, MessagingInit, MessagingLimits, MessagingStats, Subscription } from './index.ts'
import { publishSubjectProblem, subjectMatches, subscriptionProblem } from './subjects.ts'

export const CONSUMER = 'wasmcloud:messaging/consumer@0.2.0'
export const HANDLER = 'wasmcloud:messaging/handler@0.2.0'

/** The gossipsub topic of a lattice's messages. */
export function messagingTopic (lattice: string): string {
  return `/wasmesh/${lattice}/messaging/1`
}

interface BrokerMessage { subject: string, body: Uint8Array, replyTo?: string }
interface Published { seq: bigint, subject: string, body: Uint8Array, replyTo?: string }

export interface MessagingParts {
  readonly libp2p: Libp2p<{ pubsub: GossipSub }>
  readonly lattice: string
  /** This node's peer id. */
  readonly self: string
  readonly log: Logger
  /** The local exporters of the handler interface now (subscribers are found among them by name at each delivery). */
  readonly handlers: () => LocalHandler[]
  readonly serve: (service: LocalService) => void
  readonly unserve: (digest: string) => void
}

function witSources (): Record<string, string> {
  return {
    'messaging.wit': readFileSync(new URL('./messaging.wit', import.meta.url), 'utf8'),
    'deps/wasmcloud-messaging.wit': readFileSync(new URL('../../wit/deps/wasmcloud-messaging-0.2.0/package.wit', import.meta.url), 'utf8')
  }
}

const wit = parseWit(witSources())
const publishedType = wit.findInterface('wasmesh:messaging/gossip@0.1.0')!.types.get('published') as Type

type Result = { tag: 'ok', val?: undefined } | { tag: 'err', val: string }

/** One gossip message's bytes (`wasmesh:messaging/gossip.published`). */
export function encodePublished (record: { seq: bigint, subject: string, body: Uint8Array, replyTo?: string }): Uint8Array {
  return encodeValue(publishedType, record)
}

export function createMessaging (parts: MessagingParts, init: MessagingInit = {}): Messaging {
  const limits: MessagingLimits = { ...defaultMessagingLimits, ...init.limits }
  for (const [k, v] of Object.entries(limits)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new NodeError('invalid-config', `messaging limit ${k} must be a positive integer, got ${String(v)}`)
  }
  const subscriptions: Subscription[] = [...(init.subscriptions ?? [])]
  for (const s of subscriptions) {
    const why = subscriptionProblem(s.subject, limits.maxSubjectBytes)
    if (why !== undefined) throw new NodeError('invalid-config', `subscription of ${s.component}: ${why}`)
  }
  const { libp2p, log, self } = parts
  const pubsub = libp2p.services.pubsub
  const topic = messagingTopic(parts.lattice)
  const rate = createRateLimiter({ perMinute: limits.maxMessagesPerPeerPerMinute, maxKeys: limits.maxPublishersTracked })
  /** Last sequence number taken from each publisher, least recently heard first. */
  const lastSeq = new Map<string, bigint>()
  /** Per subscriber (by digest): its deliveries run one after another, in arrival order. */
  const queues = new Map<string, { tail: Promise<void>, length: number }>()
  const counts = { published: 0, delivered: 0 }
  const dropped: Record<string, number> = {}
  // a restarted publisher continues above what it sent before (microseconds since the epoch)
  let seq = BigInt(Date.now()) * 1000n
  let provider: Provider | undefined
  let running = false

  function drop (reason: string, from: string, why: string): void {
    dropped[reason] = (dropped[reason] ?? 0) + 1
    // the first of each reason is worth a line; a peer that repeats it cannot flood the log
    if (dropped[reason] === 1) log.warn(`message from ${from} dropped (${reason}): ${why}`)
    else log.debug(`message from ${from} dropped (${reason}): ${why}`)
  }

  /** Hands a message to every local subscriber whose pattern matches, each in its own queue. */
  function deliver (msg: BrokerMessage, from: string): void {
    const names = new Set(subscriptions.filter(s => subjectMatches(s.subject, msg.subject)).map(s => s.component))
    if (names.size === 0) return
    for (const handler of parts.handlers()) {
      if (!names.has(handler.name)) continue
      const q = queues.get(handler.key) ?? { tail: Promise.resolve(), length: 0 }
      if (q.length >= limits.maxQueuedPerSubscriber) {
        drop('queue-full', from, `${handler.name} has ${q.length} messages waiting (maxQueuedPerSubscriber)`)
        continue
      }
      q.length++
      q.tail = q.tail.then(async () => {
        try {
          const [r] = await withTimeout(handler.handle(msg, from), limits.handlerTimeoutMs)
          if ((r as Result | undefined)?.tag === 'err') log.debug(`${handler.name} answered ${msg.subject} with err: ${String((r as { val: unknown }).val)}`)
          counts.delivered++
        } catch (err) {
          drop('handler-failed', from, `${handler.name}: ${(err as Error).message}`)
        } finally {
          q.length--
          if (q.length === 0 && queues.get(handler.key) === q) queues.delete(handler.key)
        }
      })
      queues.set(handler.key, q)
    }
  }

  async function publish (msg: BrokerMessage): Promise<Result> {
    if (!running) return { tag: 'err', val: 'messaging is stopped on this node' }
    if (typeof msg?.subject !== 'string' || !(msg.body instanceof Uint8Array)) return { tag: 'err', val: 'a message needs a subject and a body' }
    const why = publishSubjectProblem(msg.subject, limits.maxSubjectBytes)
    if (why !== undefined) return { tag: 'err', val: why }
    if (msg.replyTo !== undefined && msg.replyTo !== null) {
      const bad = publishSubjectProblem(msg.replyTo, limits.maxSubjectBytes)
      if (bad !== undefined) return { tag: 'err', val: `reply-to: ${bad}` }
    }
    const record: Published = { seq: ++seq, subject: msg.subject, body: msg.body, ...(msg.replyTo != null ? { replyTo: msg.replyTo } : {}) }
    const data = encodePublished(record)
    if (data.byteLength > limits.maxMessageBytes) return { tag: 'err', val: `message is ${data.byteLength} bytes, the most is ${limits.maxMessageBytes} (maxMessageBytes)` }
    counts.published++
    // gossipsub does not hand a node its own messages: this node's subscribers get it here
    deliver({ subject: record.subject, body: record.body, ...(record.replyTo !== undefined ? { replyTo: record.replyTo } : {}) }, self)
    try {
      await pubsub.publish(topic, data)
    } catch (err) {
      return { tag: 'err', val: `publish failed: ${(err as Error).message}` }
    }
    return { tag: 'ok' }
  }

  /** Checks one gossip message: signed, small enough, within its publisher's rate, decodable, newer than the last one from it. */
  function intake (from: string, data: Uint8Array): TopicValidatorResult {
    if (data.byteLength > limits.maxMessageBytes) {
      drop('too-large', from, `${data.byteLength} bytes, the most is ${limits.maxMessageBytes}`)
      return TopicValidatorResult.Reject
    }
    if (!rate.take(from)) {
      drop('rate-limited', from, `over ${limits.maxMessagesPerPeerPerMinute} messages per minute`)
      return TopicValidatorResult.Ignore
    }
    let record: Published
    try {
      record = decodeValue(publishedType, data, { limits: { maxValueBytes: limits.maxMessageBytes, maxListLength: limits.maxMessageBytes, maxDepth: 8 } }) as Published
    } catch (err) {
      drop('garbage', from, (err as Error).message)
      return TopicValidatorResult.Reject
    }
    const bad = publishSubjectProblem(record.subject, limits.maxSubjectBytes) ??
      (record.replyTo !== undefined ? publishSubjectProblem(record.replyTo, limits.maxSubjectBytes) : undefined)
    if (bad !== undefined) {
      drop('garbage', from, bad)
      return TopicValidatorResult.Reject
    }
    const last = lastSeq.get(from)
    if (last !== undefined && record.seq <= last) {
      // a replay, or an older message overtaken by a newer one: at most once, never out of order
      drop('replayed', from, `sequence ${record.seq} is not after ${last}`)
      return TopicValidatorResult.Ignore
    }
    lastSeq.delete(from)
    lastSeq.set(from, record.seq)
    if (lastSeq.size > limits.maxPublishersTracked) lastSeq.delete(lastSeq.keys().next().value as string)
    deliver({ subject: record.subject, body: record.body, ...(record.replyTo !== undefined ? { replyTo: record.replyTo } : {}) }, from)
    return TopicValidatorResult.Accept
  }

  const consumerModule: ProviderModule = {
    name: 'messaging',
    wit: witSources(),
    world: 'wasmesh:messaging/consumer@0.1.0',
    exports: {
      [CONSUMER]: {
        publish: async (msg: BrokerMessage) => await publish(msg),
        // request-reply is not built yet: the contract's error, never a trap
        request: (_subject: string, _body: Uint8Array, _timeoutMs: number): Result => ({ tag: 'err', val: 'request-reply is not supported by wasmesh yet: publish with a reply-to subject the requester subscribes to' })
      }
    }
  }

  return {
    async start () {
      if (running) return
      running = true
      pubsub.topicValidators.set(topic, async (peer, msg) => {
        if (msg.type !== 'signed') {
          drop('unsigned', peer.toString(), 'messages must be signed by their publisher')
          return TopicValidatorResult.Reject
        }
        // StrictSign: `from` is the key that signed the message, whoever forwarded it
        return intake(msg.from.toString(), msg.data)
      })
      pubsub.subscribe(topic)
      const p = await createProvider(consumerModule, { log })
      await p.start()
      const inner = p.service
      // this node publishes for its own components only: a peer calling in would publish under this node's signature
      const service: LocalService = {
        ...inner,
        call: async (iface, func, params, ctx) => {
          if (ctx.caller !== self) throw new ProviderError('refused', `${CONSUMER} serves this node's own components; peers publish on their own node`)
          return await inner.call(iface, func, params, ctx)
        }
      }
      parts.serve(service)
      provider = p
    },

    async stop () {
      if (!running) return
      running = false
      if (provider !== undefined) {
        parts.unserve(provider.service.digest)
        await provider.stop()
        provider = undefined
      }
      pubsub.unsubscribe(topic)
      pubsub.topicValidators.delete(topic)
      // deliveries in flight finish on their own (bounded by handlerTimeoutMs); nothing new is queued
      await Promise.allSettled([...queues.values()].map(async q => { await q.tail }))
      queues.clear()
    },

    stats (): MessagingStats {
      return { published: counts.published, delivered: counts.delivered, dropped: { ...dropped } }
    }
  }
}

async function withTimeout<T> (p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new ProviderError('timeout', `no answer within ${ms} ms`)) }, ms)
    })])
  } finally {
    clearTimeout(timer)
  }
}
