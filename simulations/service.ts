// The built-in test provider: native code that answers `echo(payload) -> payload` and does no other work, so a simulation measures the mesh.

import { createHash } from 'node:crypto'
import type { LocalService } from '../node/index.ts'
import { parseWit } from '../protocol/wit/index.ts'
import { providerInterface } from './scenario.ts'

/** `wasmesh:sim/<name>@0.1.0` with `echo: func(payload: list<u8>) -> list<u8>`. */
export function echoService (name: string, capacity: number): LocalService {
  const id = providerInterface(name)
  const wit = `package wasmesh:sim@0.1.0;\n\ninterface ${name} {\n  echo: func(payload: list<u8>) -> list<u8>;\n}\n`
  const iface = parseWit({ 'sim.wit': wit }).findInterface(id)
  if (iface === undefined) throw new Error(`internal: ${id} did not resolve`)
  return {
    digest: createHash('sha256').update(wit).digest('hex'),
    name: `sim-${name}`,
    interfaces: [iface],
    wit,
    capacity,
    call: async (_iface, func, params) => {
      if (func !== 'echo') throw Object.assign(new Error(`${id} has no function ${func}`), { code: 'no-such-function' })
      return [params[0]]
    }
  }
}
