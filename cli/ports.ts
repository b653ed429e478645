// Local addresses a command listens on: whether a fixed TCP port is taken, and what an HTTP gateway's `auto` means.
import { createServer } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import type { CommandContext } from './context.ts'

/** The gateway's address: `auto` is 127.0.0.1:8080, or a free port with a notice when 8080 is taken. */
export async function httpListen (http: string, ctx: Pick<CommandContext, 'err'>): Promise<string> {
  if (http !== 'auto') return http
  if (!await portTaken('/ip4/127.0.0.1/tcp/8080')) return '127.0.0.1:8080'
  ctx.err('notice: port 8080 is in use, so the HTTP gateway listens on a free port instead: use the address printed under \'http:\', or choose one with --http 127.0.0.1:<port>')
  return '127.0.0.1:0'
}

/** Whether something already listens on this TCP address (only fixed ports are checked). */
export async function portTaken (addr: string): Promise<boolean> {
  const parts = multiaddr(addr).getComponents()
  const host = parts.find(p => p.name === 'ip4' || p.name === 'ip6')?.value
  const port = Number(parts.find(p => p.name === 'tcp')?.value ?? 0)
  if (host === undefined || port === 0) return false
  return await new Promise<boolean>(resolve => {
    const server = createServer()
    server.once('error', (err: NodeJS.ErrnoException) => { resolve(err.code === 'EADDRINUSE') })
    server.listen({ host, port, exclusive: true }, () => { server.close(() => { resolve(false) }) })
  })
}
