// Counts what gossipsub does on one node through its own metrics hook (RPCs, messages, bytes, duplicates), without a metrics server.

import type { GossipsubOpts } from '@libp2p/gossipsub'

type MetricsRegister = NonNullable<GossipsubOpts['metricsRegister']>

/** The gossipsub counters a simulation reports, summed over labels. */
export interface GossipCounters {
  rpcSent: number
  rpcSentBytes: number
  rpcRecv: number
  rpcRecvBytes: number
  /** Messages carried in sent RPCs (own publishes and forwards). */
  messagesSent: number
  messagesRecv: number
  /** Messages received for the first time (valid before the topic validator). */
  firstDeliveries: number
  /** Messages received again from another peer. */
  duplicates: number
  published: number
}

const counterOf: Record<string, keyof GossipCounters> = {
  gossipsub_rpc_sent_count_total: 'rpcSent',
  gossipsub_rpc_sent_bytes_total: 'rpcSentBytes',
  gossipsub_rpc_recv_count_total: 'rpcRecv',
  gossipsub_rpc_recv_bytes_total: 'rpcRecvBytes',
  gossipsub_rpc_sent_message_total: 'messagesSent',
  gossipsub_rpc_recv_message_total: 'messagesRecv',
  gossipsub_pre_validation_valid_total: 'firstDeliveries',
  gossipsub_pre_validation_duplicate_total: 'duplicates',
  gossipsub_msg_publish_count_total: 'published'
}

export function emptyCounters (): GossipCounters {
  return { rpcSent: 0, rpcSentBytes: 0, rpcRecv: 0, rpcRecvBytes: 0, messagesSent: 0, messagesRecv: 0, firstDeliveries: 0, duplicates: 0, published: 0 }
}

/** The gossipsub options that route its metrics into `counters` (every other metric is ignored). */
export function gossipMetrics (counters: GossipCounters): Pick<GossipsubOpts, 'metricsRegister' | 'metricsTopicStrToLabel'> {
  const noop = (): void => {}
  const gauge = (name: string): { inc: (a?: unknown, b?: number) => void, set: () => void, addCollect: () => void } => {
    const key = counterOf[name]
    return {
      // gauges without labels take (value), with labels (labels, value); value defaults to 1
      inc: key === undefined
        ? noop
        : (a?: unknown, b?: number) => { counters[key] += typeof a === 'number' ? a : (b ?? 1) },
      set: noop,
      addCollect: noop
    }
  }
  const register = {
    gauge: (config: { name: string }) => gauge(config.name),
    histogram: () => ({ startTimer: () => noop, observe: noop, reset: noop }),
    avgMinMax: () => ({ set: noop })
  } as unknown as MetricsRegister
  return { metricsRegister: register, metricsTopicStrToLabel: new Map() }
}
