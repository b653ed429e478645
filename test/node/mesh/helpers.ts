// Shared set-up of the mesh tests: nodes that are always stopped, a demo host service, and polling with a deadline.

import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseWit, printInterface, printWit } from '../../../protocol/wit/index.ts'
import { createNode } from '../../../node/node.ts'
import type { LocalService, MeshNode, NodeInit } from '../../../node/node.ts'
import { silentLogger } from '../../../node/logger.ts'

/** Timings short enough for tests: heartbeats every 200 ms, forgotten after 1 s. */
export const fast = { advertIntervalMs: 200, advertTtlMs: 1_000, advertDebounceMs: 10, syncTimeoutMs: 2_000 }

export interface Mesh {
  readonly nodes: MeshNode[]
  readonly cacheDir: string
  add (init?: NodeInit): Promise<MeshNode>
  stop (): Promise<void>
}

/** Nodes started by `add` share a transpile cache and are all stopped by `stop`. */
export async function createMesh (defaults: NodeInit = {}): Promise<Mesh> {
  const cacheDir = await mkdtemp(join(tmpdir(), 'wasmesh-mesh-test-'))
  const nodes: MeshNode[] = []
  return {
    nodes,
    cacheDir,
    async add (init = {}) {
      const node = await createNode({ transport: 'memory', timings: fast, cacheDir, logger: silentLogger, ...defaults, ...init })
      nodes.push(node)
      await node.start()
      return node
    },
    async stop () {
      await Promise.allSettled(nodes.map(async n => { await n.stop() }))
      await rm(cacheDir, { recursive: true, force: true })
    }
  }
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T> (what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const v = await check()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      last = err
    }
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`timed out waiting for ${what}${last !== undefined ? `: ${String(last)}` : ''}`)
}

const demoWit = readFileSync(new URL('../../../wit/examples/local-demo.wit', import.meta.url), 'utf8')

/** `local:demo/host` as native code: what the upper example imports to log. */
export function demoHost (logged: string[]): LocalService {
  const iface = parseWit({ 'local-demo.wit': demoWit }).findInterface('local:demo/host')!
  const wit = `package local:demo;\n\n${printInterface(iface)}\n`
  return {
    digest: createHash('sha256').update(wit).digest('hex'),
    name: 'demo-host',
    interfaces: [iface],
    wit,
    capacity: 64,
    call: async (_iface, func, params) => {
      if (func !== 'log') throw Object.assign(new Error(`no ${func}`), { code: 'no-such-function' })
      logged.push(String(params[0]))
      return []
    }
  }
}

/** `/memory/...` or `/ip4/...` address of a node with its peer id, for bootstrap. */
export function bootstrapOf (node: MeshNode): string[] {
  return node.addresses()
}

/** A native service exporting `<pkg>/<name>@<version>` with `whoami: func() -> string` answering `answer`, counting its calls. */
export function whoamiService (pkg: string, name: string, version: string | undefined, answer: string): LocalService & { calls: number } {
  const at = version === undefined ? '' : `@${version}`
  const wit = `package ${pkg}${at};\n\ninterface ${name} {\n  whoami: func() -> string;\n}\n`
  const iface = parseWit({ 'svc.wit': wit }).findInterface(`${pkg}/${name}${at}`)!
  const service = {
    digest: createHash('sha256').update(wit + answer).digest('hex'),
    name: answer,
    interfaces: [iface],
    wit,
    capacity: 8,
    calls: 0,
    call: async () => { service.calls++; return [answer] }
  }
  return service
}

/** An in-memory `wasi:keyvalue@0.2.0-draft` store + atomics as native code, counting the bucket handles it gives out and gets back. */
export function keyvalueService (): LocalService & { open: number, dropped: number, data: Map<string, bigint> } {
  const dir = new URL('../../../wit/deps/wasi-keyvalue-0.2.0-draft/', import.meta.url)
  const files = Object.fromEntries(['store.wit', 'atomic.wit', 'batch.wit', 'watch.wit', 'world.wit'].map(f => [f, readFileSync(new URL(f, dir), 'utf8')]))
  const wit = parseWit(files)
  const store = wit.findInterface('wasi:keyvalue/store@0.2.0-draft')!
  const atomics = wit.findInterface('wasi:keyvalue/atomics@0.2.0-draft')!
  const text = printWit(wit)
  const buckets = new Map<string, string>()
  const hex = (h: unknown): string => Buffer.from(h as Uint8Array).toString('hex')
  const service = {
    digest: createHash('sha256').update(text).digest('hex'),
    name: 'keyvalue',
    interfaces: [store, atomics],
    wit: text,
    capacity: 64,
    open: 0,
    dropped: 0,
    data: new Map<string, bigint>(),
    call: async (iface: string, func: string, params: unknown[]): Promise<unknown[]> => {
      if (func === 'open') {
        const handle = crypto.getRandomValues(new Uint8Array(16))
        buckets.set(hex(handle), params[0] as string)
        service.open++
        return [{ tag: 'ok', val: handle }]
      }
      if (func === '[resource-drop]bucket') {
        buckets.delete(hex(params[0]))
        service.dropped++
        return []
      }
      if (iface.startsWith('wasi:keyvalue/atomics') && func === 'increment') {
        const [bucket, key, delta] = params as [Uint8Array, string, bigint]
        const name = buckets.get(hex(bucket))
        if (name === undefined) return [{ tag: 'err', val: { tag: 'no-such-store' } }]
        const next = (service.data.get(`${name}/${key}`) ?? 0n) + BigInt(delta)
        service.data.set(`${name}/${key}`, next)
        return [{ tag: 'ok', val: next }]
      }
      throw Object.assign(new Error(`${iface}#${func} is not implemented by this test store`), { code: 'no-such-function' })
    }
  }
  return service
}
