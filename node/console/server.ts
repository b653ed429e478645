// The console's HTTP listener: the page, a JSON snapshot, and a server-sent event feed of snapshots, adverts and log lines.

import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import type { MeshNode } from '../api.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { LogTail } from './log-tail.ts'
import { consoleState } from './state.ts'
import type { ConsoleLimits } from './index.ts'

export interface ConsoleServerInit {
  readonly node: MeshNode
  readonly host: string
  readonly port: number
  readonly limits: ConsoleLimits
  readonly metrics?: Metrics
  readonly logTail?: LogTail
  readonly version?: string
  readonly logger?: Logger
}

export interface ConsoleServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string
  /** Viewers with the live feed open now. */
  viewers (): number
  close (): Promise<void>
}

/** The page's files, read once: served from memory by name, so no request path ever reaches the filesystem. */
const PAGE: ReadonlyMap<string, { type: string, body: Buffer }> = new Map([
  ['/', { type: 'text/html; charset=utf-8', body: readFileSync(new URL('./page/index.html', import.meta.url)) }],
  ['/console.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(new URL('./page/console.js', import.meta.url)) }],
  ['/console.css', { type: 'text/css; charset=utf-8', body: readFileSync(new URL('./page/console.css', import.meta.url)) }],
  ['/favicon.svg', { type: 'image/svg+xml', body: readFileSync(new URL('./page/favicon.svg', import.meta.url)) }]
])

// The page loads nothing from elsewhere, and nothing may frame it.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store'
}

export async function startConsoleServer (init: ConsoleServerInit): Promise<ConsoleServer> {
  const { node, limits } = init
  const startedAt = Date.now()
  const feeds = new Set<ServerResponse>()
  const snapshot = (): string => JSON.stringify(consoleState(node, { metrics: init.metrics, version: init.version, startedAt, limits }), (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v)

  const answer = (req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...headers, 'content-length': String(Buffer.byteLength(body)) })
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  /** One event to every viewer; a viewer that does not keep up (its socket holds more than maxFeedBufferedBytes) is dropped. */
  const send = (event: string, data: string): void => {
    const frame = `event: ${event}\ndata: ${data}\n\n`
    for (const res of feeds) {
      if (res.writableLength > limits.maxFeedBufferedBytes) {
        init.logger?.debug(`console: a viewer is ${res.writableLength} bytes behind; dropped`)
        feeds.delete(res)
        res.destroy()
        continue
      }
      res.write(frame)
    }
  }

  const openFeed = (req: IncomingMessage, res: ServerResponse): void => {
    if (feeds.size >= limits.maxViewers) {
      answer(req, res, 503, 'text/plain; charset=utf-8', `console: ${limits.maxViewers} viewers already (maxViewers)\n`, { 'retry-after': '5' })
      return
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' })
    // the viewer's first paint needs no wait for the next tick: the state and the tail now
    res.write(`retry: 2000\n\nevent: state\ndata: ${snapshot()}\n\n`)
    for (const line of init.logTail?.lines() ?? []) res.write(`event: log\ndata: ${JSON.stringify(line)}\n\n`)
    feeds.add(res)
    const drop = (): void => { feeds.delete(res) }
    res.on('close', drop)
    res.on('error', drop)
  }

  // Node checks those timeouts every connectionsCheckingInterval (30 s by default): often enough that a slow head is cut near its bound
  const checkEveryMs = Math.max(50, Math.min(1_000, Math.floor(limits.requestTimeoutMs / 2)))
  const server = createServer({ maxHeaderSize: limits.maxHeaderBytes, requestTimeout: limits.requestTimeoutMs, headersTimeout: limits.requestTimeoutMs, connectionsCheckingInterval: checkEveryMs }, (req, res) => {
    try {
      const target = req.url ?? '/'
      if (Buffer.byteLength(target) > limits.maxUrlBytes) { answer(req, res, 414, 'text/plain; charset=utf-8', 'request target too long\n'); return }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        // read-only: nothing on the console changes the mesh
        answer(req, res, 405, 'text/plain; charset=utf-8', 'the console is read-only: only GET and HEAD\n', { allow: 'GET, HEAD' })
        return
      }
      const path = target.split('?', 1)[0]
      const file = PAGE.get(path === '/index.html' ? '/' : path)
      if (file !== undefined) answer(req, res, 200, file.type, file.body)
      else if (path === '/api/state') answer(req, res, 200, 'application/json', snapshot())
      else if (path === '/api/feed') openFeed(req, res)
      else answer(req, res, 404, 'text/plain; charset=utf-8', 'not found: the console is at /, its data at /api/state and /api/feed\n')
    } catch (err) {
      init.logger?.warn(`console: ${req.method ?? '?'} ${(req.url ?? '').slice(0, 200)} failed: ${(err as Error).message}`)
      if (!res.headersSent) answer(req, res, 500, 'text/plain; charset=utf-8', 'internal error\n')
      else res.destroy()
    }
    // A body nobody reads must not hold the socket.
    req.resume()
  })
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request'
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`)
    else socket.destroy()
  })
  server.maxConnections = limits.maxConnections

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port, init.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  server.on('error', err => { init.logger?.warn(`console: ${err.message}`) })

  // adverts as they arrive, and the log, go out at once; the snapshot every tick, only while someone watches
  const offChange = node.on('change', change => {
    if (feeds.size > 0) send('advert', JSON.stringify({ at: Date.now(), ...change }))
  })
  const offConnection = node.on('connection', connection => {
    if (feeds.size > 0) send('connection', JSON.stringify({ at: Date.now(), peer: connection.peer, direction: connection.direction }))
  })
  const offLog = init.logTail?.onLine(line => { if (feeds.size > 0) send('log', JSON.stringify(line)) })
  const tick = setInterval(() => { if (feeds.size > 0) send('state', snapshot()) }, limits.refreshMs)
  tick.unref()

  const { port, address } = server.address() as AddressInfo
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`
  let closed: Promise<void> | undefined
  return {
    url,
    viewers: () => feeds.size,
    async close () {
      closed ??= new Promise<void>(resolve => {
        clearInterval(tick)
        offChange()
        offConnection()
        offLog?.()
        for (const res of feeds) res.destroy()
        feeds.clear()
        server.close(() => { resolve() })
        server.closeAllConnections()
      })
      await closed
    }
  }
}
