// Shared set-up of tests with nodes: meshes whose nodes are always stopped, native test services, the key-value provider.

import { createHash } from 'node:crypto'
import { parseWit } from '../../protocol/wit/index.ts'
import { createNode } from '../../node/index.ts'
import type { LocalService, MeshNode, NodeInit } from '../../node/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { createProvider } from '../../node/providers/sdk.ts'
import type { Provider } from '../../node/providers/sdk.ts'
import { createKeyvalueModule } from '../../node/providers/keyvalue/index.ts'
import { createDemoHost } from '../../cli/host.ts'
import { scratchDir } from './scratch.ts'

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
  const scratch = await scratchDir('mesh-test')
  const cacheDir = scratch.path
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
      await scratch.remove()
    }
  }
}

// The mesh tests wait with the one polling helper.
export { eventually } from './eventually.ts'

/** `local:demo/host` as native code: what the upper example imports to log. */
export function demoHost (logged: string[]): LocalService {
  return createDemoHost({ onLog: message => { logged.push(message) } })
}

/** `/memory/...` or `/ip4/...` address of a node with its peer id, for bootstrap. */
export function bootstrapOf (node: MeshNode): string[] {
  return node.addresses()
}

/** The interface `putService` exports. */
export const PUT_IFACE = 'test:blob/store@1.0.0'

/** `test:blob/store@1.0.0`'s `put: func(data: list<u8>) -> u32`, answering the length: a call whose parameter can be left unfinished. */
export function putService (): LocalService {
  const wit = 'package test:blob@1.0.0;\n\ninterface store {\n  put: func(data: list<u8>) -> u32;\n}\n'
  return {
    digest: createHash('sha256').update(wit).digest('hex'),
    name: 'blob',
    interfaces: [parseWit({ 'blob.wit': wit }).findInterface(PUT_IFACE)!],
    wit,
    capacity: 64,
    call: async (_iface, _func, [data]) => [(data as Uint8Array).length]
  }
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

/** The built-in key-value provider on its memory backend, started: `node.serve(p.service)`, and `p.stop()` when done. */
export async function keyvalueProvider (config: Record<string, string> = { backend: 'memory' }): Promise<Provider> {
  const provider = await createProvider(createKeyvalueModule(), { config })
  await provider.start()
  return provider
}
