// Publishes components' messages on the lattice's messaging topic and hands every message that arrives to the local components subscribed to its subject.

import { randomBytes } from 'node:crypto'
import type { GossipSub } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'
import { decodeValue, encodeValue } from '../../protocol/value.ts'
import { parseWit } from '../../protocol/wit/index.ts'
import type { Type } from '../../protocol/wit/model.ts'
import type { CallOptions, LocalService } from '../api.ts'
import type { Server } from '../registry.ts'
import type { LocalHandler } from './handlers.ts'
import { gossipSeenTtlMs } from '../libp2p.ts'
import type { Logger } from '../logger.ts'
import { createRateLimiter } from '../rate-limit.ts'
import { NodeError } from '../errors.ts'
import { ProviderError } from '../providers/errors.ts'
import { createProvider } from '../providers/sdk.ts'
import type { Provider, ProviderModule } from '../providers/sdk.ts'
import { defaultMessagingLimits } from './index.ts'
import type { Messaging, MessagingInit, MessagingLimits, MessagingStats, Subscription } from './index.ts'
import { publishSubjectProblem, subjectMatches, subscriptionProblem } from './subjects.ts'
import { messagingWit, wasmcloudMessagingWit } from './wit.ts'

export const CONSUMER = 'wasmcloud:messaging/consumer@0.2.0'
export const HANDLER = 'wasmcloud:messaging/handler@0.2.0'
export const REQUESTS = 'wasmesh:messaging/requests@0.1.0'

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
  /** Who serves an interface (the registry's view, this node included). */
  readonly servers: (iface: string) => Server[]
  /** A call through the mesh (the node's own `call`). */
  readonly call: (iface: string, func: string, params: unknown[], opts: CallOptions) => Promise<unknown[]>
}

type Answer = { tag: 'reply', val: BrokerMessage } | { tag: 'no-subscriber' } | { tag: 'failed', val: string }

function witSources (): Record<string, string> {
  return { 'messaging.wit': messagingWit, 'deps/wasmcloud-messaging.wit': wasmcloudMessagingWit }
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
  const forwarderRate = createRateLimiter({ perMinute: limits.maxMessagesPerForwarderPerMinute, maxKeys: limits.maxPublishersTracked })
  if (limits.maxMessageAgeMs >= gossipSeenTtlMs) throw new NodeError('invalid-config', `messaging limit maxMessageAgeMs must be below gossipsub's seen cache (${gossipSeenTtlMs} ms), got ${limits.maxMessageAgeMs}`)
  /** Last sequence number taken from each publisher, least recently heard first. */
  const lastSeq = new Map<string, bigint>()
  /** Per subscriber (by digest): its deliveries run one after another, in arrival order. */
  const queues = new Map<string, { tail: Promise<void>, length: number }>()
  const counts = { published: 0, delivered: 0, replied: 0 }
  /** Reply inboxes of requests this node is answering: a publish to one resolves its request instead of going out. */
  const inboxes = new Map<string, (msg: BrokerMessage) => void>()
  let pending = 0
  const dropped: Record<string, number> = {}
  // microseconds since the epoch, and never below the clock: a restarted publisher continues above what it sent
  // before, and a receiver can tell an old message from a publisher it no longer remembers
  let seq = 0n
  let provider: Provider | undefined
  let requestsProvider: Provider | undefined
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
    if (msg.body.byteLength + Buffer.byteLength(msg.subject) > limits.maxMessageBytes) return { tag: 'err', val: `message is over ${limits.maxMessageBytes} bytes (maxMessageBytes)` }
    const inbox = inboxes.get(msg.subject)
    if (inbox !== undefined) {
      // a subscriber's reply to a request this node is answering: it goes back as that call's result, not on gossip
      inbox({ subject: msg.subject, body: msg.body, ...(msg.replyTo != null ? { replyTo: msg.replyTo } : {}) })
      return { tag: 'ok' }
    }
    seq = bigMax(seq + 1n, BigInt(Date.now()) * 1000n)
    const record: Published = { seq, subject: msg.subject, body: msg.body, ...(msg.replyTo != null ? { replyTo: msg.replyTo } : {}) }
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

  /**
   * Checks one gossip message signed by `from` and first received from `forwarder`: small enough, within the
   * forwarder's and the publisher's rates, decodable, newer than the last one from it (or, from a publisher not
   * remembered, no older than maxMessageAgeMs).
   */
  function intake (from: string, forwarder: string, data: Uint8Array): TopicValidatorResult {
    if (!forwarderRate.take(forwarder)) {
      drop('forwarder-rate-limited', forwarder, `over ${limits.maxMessagesPerForwarderPerMinute} messages per minute forwarded (maxMessagesPerForwarderPerMinute)`)
      return TopicValidatorResult.Ignore
    }
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
    if (last === undefined && record.seq < BigInt(Date.now() - limits.maxMessageAgeMs) * 1000n) {
      // its publisher is not remembered (new, or forgotten past maxPublishersTracked): an old message may be a replay
      drop('stale', from, `sequence ${record.seq} is older than ${limits.maxMessageAgeMs} ms (maxMessageAgeMs)`)
      return TopicValidatorResult.Ignore
    }
    lastSeq.delete(from)
    lastSeq.set(from, record.seq)
    if (lastSeq.size > limits.maxPublishersTracked) lastSeq.delete(lastSeq.keys().next().value as string)
    deliver({ subject: record.subject, body: record.body, ...(record.replyTo !== undefined ? { replyTo: record.replyTo } : {}) }, from)
    return TopicValidatorResult.Accept
  }

  /**
   * Answers a request for one local subscriber: picks one whose subscription matches, hands it the
   * message with a fresh reply-to inbox, and waits for the first publish to that inbox.
   */
  async function answer (msg: BrokerMessage, timeoutMs: number, from: string): Promise<Answer> {
    if (!running) return { tag: 'failed', val: 'messaging is stopped on this node' }
    const why = typeof msg?.subject === 'string' ? publishSubjectProblem(msg.subject, limits.maxSubjectBytes) : 'a message needs a subject'
    if (why !== undefined) return { tag: 'failed', val: why }
    if (!(msg.body instanceof Uint8Array) || msg.body.byteLength > limits.maxMessageBytes) return { tag: 'failed', val: `a request body is at most ${limits.maxMessageBytes} bytes (maxMessageBytes)` }
    const names = new Set(subscriptions.filter(s => subjectMatches(s.subject, msg.subject)).map(s => s.component))
    const candidates = parts.handlers().filter(h => names.has(h.name))
    if (candidates.length === 0) return { tag: 'no-subscriber' }
    if (pending >= limits.maxPendingRequests) return { tag: 'failed', val: `${pending} requests pending on this node already (maxPendingRequests)` }
    const handler = candidates[Math.floor(Math.random() * candidates.length)]
    const inbox = `_INBOX.${randomBytes(12).toString('hex')}`
    const replied = Promise.withResolvers<BrokerMessage>()
    inboxes.set(inbox, replied.resolve)
    pending++
    const ms = Math.max(1, Math.min(timeoutMs, limits.handlerTimeoutMs))
    try {
      const handled = withTimeout(handler.handle({ subject: msg.subject, body: msg.body, replyTo: inbox }, from), ms)
        .then(([r]) => (r as Result | undefined)?.tag === 'err' ? `${handler.name} failed: ${String((r as { val: unknown }).val)}` : undefined)
      // the reply may come during the handler's call or after it returned, until the deadline
      const reply = await withTimeout(Promise.race([replied.promise, handled.then(async failure => {
        if (failure !== undefined) throw new ProviderError('failed', failure)
        return await replied.promise
      })]), ms)
      counts.replied++
      return { tag: 'reply', val: reply }
    } catch (err) {
      return { tag: 'failed', val: (err as Error).message }
    } finally {
      pending--
      inboxes.delete(inbox)
    }
  }

  /** consumer.request: asks this node first, then other nodes serving requests, until one has a subscriber. */
  async function request (subject: string, body: Uint8Array, timeoutMs: number): Promise<{ tag: 'ok', val: BrokerMessage } | { tag: 'err', val: string }> {
    if (!running) return { tag: 'err', val: 'messaging is stopped on this node' }
    const why = publishSubjectProblem(subject, limits.maxSubjectBytes)
    if (why !== undefined) return { tag: 'err', val: why }
    if (!(body instanceof Uint8Array) || body.byteLength > limits.maxMessageBytes) return { tag: 'err', val: `a request body is at most ${limits.maxMessageBytes} bytes (maxMessageBytes)` }
    const deadline = performance.now() + Math.max(1, timeoutMs)
    const servers = parts.servers(REQUESTS)
    const others = servers.filter(s => !s.local).map(s => s.peer).sort(() => Math.random() - 0.5)
    const order = [...(servers.some(s => s.local) ? [self] : []), ...others].slice(0, limits.maxRequestAttempts)
    const failures: string[] = []
    for (const peer of order) {
      const left = Math.floor(deadline - performance.now())
      if (left < 1) return { tag: 'err', val: `no reply within ${timeoutMs} ms` }
      let got: Answer
      try {
        [got] = await parts.call(REQUESTS, 'request', [{ subject, body }, left], { target: peer, timeoutMs: left }) as [Answer]
      } catch (err) {
        failures.push(`${peer}: ${(err as Error).message}`)
        continue
      }
      if (got.tag === 'reply') return { tag: 'ok', val: got.val }
      if (got.tag === 'failed') return { tag: 'err', val: got.val }
    }
    return { tag: 'err', val: `no subscriber for ${subject} on ${order.length} node${order.length === 1 ? '' : 's'} asked${failures.length > 0 ? ` (${failures.join('; ')})` : ''}` }
  }

  const requestsModule: ProviderModule = {
    name: 'messaging-requests',
    wit: witSources(),
    world: 'wasmesh:messaging/requests-server@0.1.0',
    exports: {
      [REQUESTS]: {
        request: async (msg: BrokerMessage, timeoutMs: number) => await answer(msg, timeoutMs, self)
      }
    }
  }

  const consumerModule: ProviderModule = {
    name: 'messaging',
    wit: witSources(),
    world: 'wasmesh:messaging/consumer@0.1.0',
    exports: {
      [CONSUMER]: {
        publish: async (msg: BrokerMessage) => await publish(msg),
        request: async (subject: string, body: Uint8Array, timeoutMs: number) => await request(subject, body, timeoutMs)
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
        return intake(msg.from.toString(), peer.toString(), msg.data)
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
      const r = await createProvider(requestsModule, { log })
      await r.start()
      const requests = r.service
      // a peer's request makes this node's subscribers work as a message would: it counts against the same budget
      parts.serve({
        ...requests,
        call: async (iface, func, params, ctx) => {
          if (ctx.caller !== self && !rate.take(ctx.caller)) {
            drop('rate-limited', ctx.caller, `request over ${limits.maxMessagesPerPeerPerMinute} messages per minute`)
            throw new ProviderError('overloaded', `over ${limits.maxMessagesPerPeerPerMinute} messages and requests per minute from ${ctx.caller} (maxMessagesPerPeerPerMinute)`)
          }
          return await requests.call(iface, func, params, ctx)
        }
      })
      requestsProvider = r
    },

    async stop () {
      if (!running) return
      running = false
      for (const p of [requestsProvider, provider]) {
        if (p === undefined) continue
        parts.unserve(p.service.digest)
        await p.stop()
      }
      provider = undefined
      requestsProvider = undefined
      pubsub.unsubscribe(topic)
      pubsub.topicValidators.delete(topic)
      // deliveries in flight finish on their own (bounded by handlerTimeoutMs); nothing new is queued
      await Promise.allSettled([...queues.values()].map(async q => { await q.tail }))
      queues.clear()
    },

    stats (): MessagingStats {
      return { published: counts.published, delivered: counts.delivered, replied: counts.replied, dropped: { ...dropped }, publishersTracked: lastSeq.size }
    }
  }
}

function bigMax (a: bigint, b: bigint): bigint {
  return a > b ? a : b
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
