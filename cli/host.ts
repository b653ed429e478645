// `local:demo/host` served as native code: the `log` function the upper example imports, written to the node's log.

import { createHash } from 'node:crypto'
import { parseWit, printInterface } from '../protocol/wit/index.ts'
import type { LocalService } from '../node/api.ts'

/** The interface id the demo host serves. */
export const demoHostInterface = 'local:demo/host'

// The interface of wit/examples/local-demo.wit, kept here so that the node needs no WIT files at run time
// (a test checks that the two agree).
const demoHostWit = `package local:demo;

interface host {
  log: func(msg: string);
}
`

export interface DemoHostInit {
  /** Told about every message a component logs, with the caller's peer id (this node's own for its own components). */
  readonly onLog: (message: string, caller: string) => void
  /** How many calls it takes at once before callers are routed elsewhere. Default 64. */
  readonly capacity?: number
}

/**
 * A tiny LocalService a node serves by default so that components importing `local:demo/host`
 * (the upper example) run without anything else in the mesh. It answers `log(msg)` and nothing more.
 */
export function createDemoHost (init: DemoHostInit): LocalService {
  const iface = parseWit({ 'local-demo.wit': demoHostWit }).findInterface(demoHostInterface)
  if (iface === undefined) throw new Error('the built-in local:demo/host WIT does not declare the interface')
  const wit = `package local:demo;\n\n${printInterface(iface)}\n`
  return {
    digest: createHash('sha256').update(wit).digest('hex'),
    name: 'demo-host',
    interfaces: [iface],
    wit,
    capacity: init.capacity ?? 64,
    call: async (_iface, func, params, ctx) => {
      if (func !== 'log') throw Object.assign(new Error(`${demoHostInterface} has no function ${func}`), { code: 'no-such-function' })
      init.onLog(String(params[0]), ctx.caller)
      return []
    }
  }
}
