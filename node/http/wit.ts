// The wrpc:http@0.1.0 WIT (wit/http/http.wit), parsed once: the interface a gateway calls and an HTTP component serves.
import { readFileSync } from 'node:fs'
import { parseWit } from '../../protocol/wit/index.ts'
import type { Interface } from '../../protocol/wit/model.ts'

/** What a gateway calls: `handle(request) -> result<response, error-code>`, bodies as `stream<u8>`. */
export const HTTP_HANDLER_IFACE = 'wrpc:http/incoming-handler@0.1.0'

let text: string | undefined
let handler: Interface | undefined

/** The WIT text (the package shipped in wit/http, beside node/ and dist/node alike). */
export function httpWitText (): string {
  const up = import.meta.url.includes('/dist/node/') ? '../../../' : '../../'
  text ??= readFileSync(new URL(`${up}wit/http/http.wit`, import.meta.url), 'utf8')
  return text
}

/** The resolved `wrpc:http/incoming-handler@0.1.0`. */
export function httpHandlerInterface (): Interface {
  if (handler === undefined) {
    const found = parseWit({ 'http.wit': httpWitText() }).findInterface(HTTP_HANDLER_IFACE)
    if (found === undefined) throw new Error(`wit/http/http.wit defines no ${HTTP_HANDLER_IFACE}`)
    handler = found
  }
  return handler
}
