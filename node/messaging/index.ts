// wasmcloud:messaging over the mesh's own gossipsub: the interfaces and the factory (implementation in messaging.ts).

export { createMessaging, encodePublished, messagingTopic, CONSUMER, HANDLER, REQUESTS } from './messaging.ts'
export { publishSubjectProblem, subjectMatches, subscriptionProblem } from './subjects.ts'

/** A component (by name) subscribed to a subject pattern (`*` one token, a final `>` one or more). */
export interface Subscription {
  readonly component: string
  readonly subject: string
}

export interface MessagingLimits {
  /** The largest gossip message (subject, body, reply-to and framing); larger publishes fail, larger arrivals are dropped. */
  readonly maxMessageBytes: number
  /** The longest subject, in UTF-8 bytes. */
  readonly maxSubjectBytes: number
  /** Messages taken from one publisher per minute (and the burst a fresh one starts with); the rest are dropped. */
  readonly maxMessagesPerPeerPerMinute: number
  /** Publishers whose last sequence number is remembered (for order and replays); the least recent is forgotten. */
  readonly maxPublishersTracked: number
  /**
   * Messages first received from one forwarding peer per minute, whoever signed them: what bounds a flood of
   * messages signed by many fresh keys (sybils) and sent through one connection. Honest peers forward every
   * publisher's messages, so it is far above the per-publisher budget.
   */
  readonly maxMessagesPerForwarderPerMinute: number
  /**
   * How old (by its sequence number, microseconds since the epoch) a message from a publisher this node does not
   * remember may be. With gossipsub's seen cache (2 minutes) above it, a replay is dropped even after its publisher
   * was forgotten; publishers' clocks must be within it of this node's.
   */
  readonly maxMessageAgeMs: number
  /** Messages held for one subscriber, the one its handler is on included; past it new ones are dropped for that subscriber. */
  readonly maxQueuedPerSubscriber: number
  /** How long one handle-message call may take. */
  readonly handlerTimeoutMs: number
  /** Requests this node is answering at once (from its own components and from peers); more are answered `failed`. */
  readonly maxPendingRequests: number
  /** Nodes one consumer.request asks in turn for a subscriber before it gives up. */
  readonly maxRequestAttempts: number
}

export const defaultMessagingLimits: MessagingLimits = Object.freeze({
  maxMessageBytes: 256 * 1024,
  maxSubjectBytes: 256,
  maxMessagesPerPeerPerMinute: 6000,
  maxPublishersTracked: 10_000,
  maxMessagesPerForwarderPerMinute: 60_000,
  maxMessageAgeMs: 60_000,
  maxQueuedPerSubscriber: 1024,
  handlerTimeoutMs: 10_000,
  maxPendingRequests: 256,
  maxRequestAttempts: 8
})

/** `NodeInit.messaging`: turns messaging on for a node. */
export interface MessagingInit {
  readonly subscriptions?: readonly Subscription[]
  readonly limits?: Partial<MessagingLimits>
}

export interface MessagingStats {
  /** Messages this node published. */
  readonly published: number
  /** Messages handed to a subscriber's handler (one per subscriber). */
  readonly delivered: number
  /** Requests this node answered with a subscriber's reply. */
  readonly replied: number
  /** Messages dropped, by reason: `unsigned`, `too-large`, `garbage`, `rate-limited`, `forwarder-rate-limited`, `replayed`, `stale`, `queue-full`, `handler-failed`. */
  readonly dropped: Readonly<Record<string, number>>
  /** Publishers whose sequence number this node remembers (at most `maxPublishersTracked`). */
  readonly publishersTracked: number
}

export interface Messaging {
  start (): Promise<void>
  stop (): Promise<void>
  stats (): MessagingStats
}
