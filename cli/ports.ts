// Local addresses a command listens on: whether a fixed TCP port is taken, and what `auto` means for the HTTP gateway and the console.
import { createServer } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import type { CommandContext } from './context.ts'

/** The gateway's address: `auto` is 127.0.0.1:8080, or a free port with a notice when 8080 is taken. */
export async function httpListen (http: string, ctx: Pick<CommandContext, 'err'>): Promise<string> {
  return await autoListen(http, 8080, 'the HTTP gateway', '--http', ctx)
}

/** The console's address: `auto` is 127.0.0.1:9090, or a free port with a notice when 9090 is taken. */
export async function consoleListen (console: string, ctx: Pick<CommandContext, 'err'>): Promise<string> {
  return await autoListen(console, 9090, 'the console', '--console', ctx)
}

/** `auto`: loopback on `port` when it is free, else a free port and a notice saying where to look; anything else as given. */
async function autoListen (given: string, port: number, what: string, flag: string, ctx: Pick<CommandContext, 'err'>): Promise<string> {
  if (given !== 'auto') return given
  if (!await portTaken(`/ip4/127.0.0.1/tcp/${port}`)) return `127.0.0.1:${port}`
  ctx.err(`notice: port ${port} is in use, so ${what} listens on a free port instead: use the address printed under '${flag.slice(2)}:', or choose one with ${flag} 127.0.0.1:<port>`)
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
