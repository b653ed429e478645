// A node stopping with its HTTP gateway open: no new connections, 503 `connection: close` on kept-alive ones, the requests in flight finish within drainTimeoutMs, then the sockets close.
import { createHash } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { httpHandlerInterface, httpWitText, parseRoute } from '../../../node/http/index.ts'
import type { LocalService, MeshNode } from '../../../node/index.ts'
import { createMesh, eventually, type Mesh } from '../../support/mesh.ts'

const encoder = new TextEncoder()
let mesh: Mesh | undefined
const sockets = new Set<Socket>()

afterEach(async () => {
  for (const s of sockets) s.destroy()
  sockets.clear()
  await mesh?.stop()
  mesh = undefined
})

/** An HTTP service whose response body sends one chunk, then one more each time `step` is called, and ends after `chunks`. */
function steppedService (chunks: number): LocalService & { step: () => void, sent: () => number } {
  let sent = 0
  let waiting: (() => void) | undefined
  let credit = 0
  const service = {
    digest: createHash('sha256').update('stepped').digest('hex'),
    name: 'stepped',
    interfaces: [httpHandlerInterface()],
    wit: httpWitText(),
    capacity: 16,
    step: () => { credit++; waiting?.() },
    sent: () => sent,
    call: async () => {
      async function * body (): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < chunks; i++) {
          if (i > 0) {
            while (credit === 0) await new Promise<void>(resolve => { waiting = resolve })
            credit--
          }
          sent++
          yield encoder.encode(`chunk ${i}\n`)
        }
      }
      return [{ tag: 'ok', val: { status: 200, headers: [['content-type', [encoder.encode('text/plain')]]], body: body(), trailers: Promise.resolve(undefined) } }]
    }
  }
  return service
}

/** A raw keep-alive connection: what it has received so far, and whether the gateway closed it. */
async function rawClient (url: string): Promise<{ socket: Socket, text: () => string, closed: Promise<void> }> {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  sockets.add(socket)
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  let received = ''
  socket.on('data', (d: Buffer) => { received += d.toString('latin1') })
  const closed = new Promise<void>(resolve => { socket.once('close', () => { resolve() }) })
  socket.on('error', () => {})
  return { socket, text: () => received, closed }
}

async function gatewayWith (service: LocalService): Promise<{ node: MeshNode, url: string }> {
  mesh = await createMesh()
  const node = await mesh.add({ peering: false, http: { listen: '127.0.0.1:0', routes: ['default=component=stepped'].map(parseRoute) } })
  node.serve(service)
  return { node, url: node.httpUrl() as string }
}

async function refusedNow (url: string): Promise<boolean> {
  try {
    await fetch(`${url}/new`, { signal: AbortSignal.timeout(5_000) })
    return false
  } catch (err) {
    return (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED'
  }
}

describe('stopping a node with its gateway open', () => {
  it('lets a slow streaming response finish, refuses new connections, and answers a request on the kept-alive connection 503 connection: close', async () => {
    const service = steppedService(4)
    const { node, url } = await gatewayWith(service)
    const client = await rawClient(url)
    client.socket.write('GET /slow HTTP/1.1\r\nhost: x\r\n\r\n')
    await eventually('the first chunk', () => client.text().includes('chunk 0'))

    let stopped = false
    const stopping = node.stop({ drainTimeoutMs: 60_000 }).then(() => { stopped = true })
    await eventually('new connections refused', async () => await refusedNow(url))
    // A second request on the open connection, pipelined behind the one in flight.
    client.socket.write('GET /after HTTP/1.1\r\nhost: x\r\n\r\n')
    service.step()
    await eventually('the second chunk', () => client.text().includes('chunk 1'))
    expect(stopped).toBe(false)
    service.step()
    service.step()
    await client.closed
    await stopping
    const text = client.text()
    // The first response whole (chunked, terminated), then the refusal, then the connection closed.
    const [first, second] = text.split(/(?=HTTP\/1\.1 )/)
    expect(first).toMatch(/^HTTP\/1\.1 200 /)
    for (let i = 0; i < 4; i++) expect(first).toContain(`chunk ${i}\n`)
    expect(first.endsWith('0\r\n\r\n')).toBe(true)
    expect(second).toMatch(/^HTTP\/1\.1 503 /)
    expect(second.toLowerCase()).toContain('connection: close')
    expect(second).toContain('the node is stopping')
    expect(service.sent()).toBe(4)
  })

  it('cuts a response still unfinished at drainTimeoutMs: the stop ends, the client sees the connection close mid-body', async () => {
    const service = steppedService(1_000)
    const { node, url } = await gatewayWith(service)
    const client = await rawClient(url)
    client.socket.write('GET /endless HTTP/1.1\r\nhost: x\r\n\r\n')
    await eventually('the first chunk', () => client.text().includes('chunk 0'))
    await node.stop({ drainTimeoutMs: 200 })
    await client.closed
    expect(client.text()).toMatch(/^HTTP\/1\.1 200 /)
    expect(client.text().endsWith('0\r\n\r\n')).toBe(false)
    expect(await refusedNow(url)).toBe(true)
  })

  it('closes idle kept-alive connections at once and stops without waiting when nothing is in flight', async () => {
    const service = steppedService(1)
    const { node, url } = await gatewayWith(service)
    const client = await rawClient(url)
    client.socket.write('GET /one HTTP/1.1\r\nhost: x\r\n\r\n')
    await eventually('the response', () => client.text().includes('0\r\n\r\n'))
    await node.stop({ drainTimeoutMs: 600_000 })
    await client.closed
    expect(client.text().match(/HTTP\/1\.1 /g)).toHaveLength(1)
  })
})
