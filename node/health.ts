// The operations listener of a node: /metrics for Prometheus, /healthz (live) and /readyz (bootstrapped, components loaded) on one HTTP port.

import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createMetrics, METRICS_CONTENT_TYPE } from './metrics.ts'
import type { Metrics } from './metrics.ts'
import type { MeshNode } from './api.ts'
import type { Logger } from './logger.ts'

export interface Readiness {
  readonly ready: boolean
  /** `ready`, or why not, in a few words. */
  readonly reason: string
}

export interface ReadinessInit {
  readonly node: MeshNode
  /** The owner's own state (false while starting or once stopping); default always true. */
  readonly ready?: () => boolean
  /** Whether bootstrap peers were given: then ready needs at least one connection. */
  readonly bootstrap?: boolean
  /** How many components the node loads at start: ready once that many are loaded. */
  readonly components?: number
}

/** Whether the node should get traffic now, and if not, why. */
export function readiness (init: ReadinessInit): Readiness {
  if (init.ready !== undefined && !init.ready()) return { ready: false, reason: 'starting or stopping' }
  const loaded = init.node.components().length
  const expected = init.components ?? 0
  if (loaded < expected) return { ready: false, reason: `components loading: ${loaded} of ${expected}` }
  if (init.bootstrap === true && init.node.libp2p.getConnections().length === 0) return { ready: false, reason: 'not connected to any peer yet' }
  return { ready: true, reason: 'ready' }
}

export interface OpsServerLimits {
  /** Longer request targets get 414: nothing this server answers needs more. */
  readonly maxUrlBytes: number
  /** Header bytes per request (node:http's own limit). */
  readonly maxHeaderBytes: number
  /** A request must arrive whole within this time (slowloris). */
  readonly requestTimeoutMs: number
}

export const defaultOpsServerLimits: OpsServerLimits = Object.freeze({
  maxUrlBytes: 2048,
  maxHeaderBytes: 8192,
  requestTimeoutMs: 10_000
})

export interface OpsServerInit extends ReadinessInit {
  /** Default `127.0.0.1`: metrics tell a lot about a node; listen wider only on purpose. */
  readonly host?: string
  /** 0 picks a free port (see `url`). */
  readonly port: number
  /** The collector passed as the node's observer; without it calls are not counted, only the node's state. */
  readonly metrics?: Metrics
  readonly limits?: Partial<OpsServerLimits>
  readonly logger?: Logger
}

export interface OpsServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string
  close (): Promise<void>
}

/** Listens on `host:port`; rejects (e.g. `EADDRINUSE`) if it cannot. */
export async function startOpsServer (init: OpsServerInit): Promise<OpsServer> {
  const limits: OpsServerLimits = { ...defaultOpsServerLimits, ...init.limits }
  const metrics = init.metrics ?? createMetrics()
  const host = init.host ?? '127.0.0.1'

  const answer = (req: IncomingMessage, res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers, 'content-length': String(Buffer.byteLength(body)) })
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  const server = createServer({ maxHeaderSize: limits.maxHeaderBytes, requestTimeout: limits.requestTimeoutMs, headersTimeout: limits.requestTimeoutMs }, (req, res) => {
    try {
      const target = req.url ?? '/'
      if (Buffer.byteLength(target) > limits.maxUrlBytes) { answer(req, res, 414, 'request target too long\n'); return }
      if (req.method !== 'GET' && req.method !== 'HEAD') { answer(req, res, 405, 'only GET and HEAD\n', { allow: 'GET, HEAD' }); return }
      const path = target.split('?', 1)[0]
      if (path === '/metrics') {
        answer(req, res, 200, metrics.render(init.node), { 'content-type': METRICS_CONTENT_TYPE })
      } else if (path === '/healthz') {
        answer(req, res, 200, 'ok\n')
      } else if (path === '/readyz') {
        const r = readiness(init)
        answer(req, res, r.ready ? 200 : 503, `${r.reason}\n`)
      } else {
        answer(req, res, 404, 'not found: try /metrics, /healthz or /readyz\n')
      }
    } catch (err) {
      init.logger?.warn(`ops server: ${req.method ?? '?'} ${(req.url ?? '').slice(0, 200)} failed: ${(err as Error).message}`)
      if (!res.headersSent) answer(req, res, 500, 'internal error\n')
      else res.destroy()
    }
    // A body nobody reads must not hold the socket.
    req.resume()
  })
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
    else socket.destroy()
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  server.on('error', err => { init.logger?.warn(`ops server: ${err.message}`) })
  const { port, address } = server.address() as AddressInfo
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`

  let closed: Promise<void> | undefined
  return {
    url,
    async close () {
      closed ??= new Promise<void>(resolve => {
        server.close(() => { resolve() })
        server.closeAllConnections()
      })
      await closed
    }
  }
}
