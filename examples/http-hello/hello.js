// An HTTP hello written against wasi:http itself (an explicit incoming-handler export, no fetch event), so one instance serves request after request.
import { Fields, OutgoingBody, OutgoingResponse, ResponseOutparam } from 'wasi:http/types@0.2.10'

const encoder = new TextEncoder()

export const incomingHandler = {
  handle (request, responseOut) {
    const path = (request.pathWithQuery() ?? '/').split('?')[0]
    const text = encoder.encode(`Hello from wasmesh! You asked for ${path}\n`)
    const headers = Fields.fromList([
      ['content-type', encoder.encode('text/plain; charset=utf-8')],
      ['content-length', encoder.encode(String(text.byteLength))]
    ])
    const response = new OutgoingResponse(headers)
    response.setStatusCode(200)
    const body = response.body()
    ResponseOutparam.set(responseOut, { tag: 'ok', val: response })
    const stream = body.write()
    stream.blockingWriteAndFlush(text)
    stream[Symbol.dispose]()
    OutgoingBody.finish(body, undefined)
  }
}
