// The console: a read-only page any node can serve, showing the mesh as this node sees it, live.

export { startConsoleServer } from './server.ts'
export type { ConsoleServer, ConsoleServerInit } from './server.ts'
export { createLogTail } from './log-tail.ts'
export type { LogTail } from './log-tail.ts'
export { consoleState } from './state.ts'
export type { ConsoleState, StateLimits } from './state.ts'

/** What a viewer can make the console hold; each is enforced where the request or the feed enters. */
export interface ConsoleLimits {
  /** Viewers with the live feed open at once; one more gets 503. */
  readonly maxViewers: number
  /** Bytes of feed a viewer may leave unread in its socket before it is dropped (a tab in the background, a stalled client). */
  readonly maxFeedBufferedBytes: number
  /** Open connections to the console's listener. */
  readonly maxConnections: number
  /** Peers listed in a snapshot (the local node and connected peers first). */
  readonly maxPeers: number
  readonly maxHeaderBytes: number
  readonly maxUrlBytes: number
  /** A request's head must arrive within this (slowloris). */
  readonly requestTimeoutMs: number
  /** How often viewers get a new snapshot. */
  readonly refreshMs: number
}

export const defaultConsoleLimits: ConsoleLimits = Object.freeze({
  maxViewers: 16,
  maxFeedBufferedBytes: 1024 * 1024,
  maxConnections: 64,
  maxPeers: 500,
  maxHeaderBytes: 16 * 1024,
  maxUrlBytes: 2048,
  requestTimeoutMs: 10_000,
  refreshMs: 1_000
})
