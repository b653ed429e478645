// An HTTP file store in the style of a wasmCloud 1.x component: PUT/GET/DELETE /files/<name> and GET /files, in a wasi:blobstore container, bodies streamed both ways.
// Written against wasi:http's own resources (no fetch event): each chunk is read from one stream and written to the other, so no body is ever held whole.
import { Fields, OutgoingBody, OutgoingResponse, ResponseOutparam } from 'wasi:http/types@0.2.10'
import { containerExists, createContainer, getContainer } from 'wasi:blobstore/blobstore@0.2.0-draft'
import { IncomingValue, OutgoingValue } from 'wasi:blobstore/types@0.2.0-draft'

const CONTAINER = 'files'
/** Bytes per read, from the request body and from the blobstore. */
const CHUNK = 64n * 1024n
const encoder = new TextEncoder()

/** A wasi:blobstore `error` (a string) or a stream error, as the import threw it. */
const why = e => String(e?.payload?.val?.toDebugString?.() ?? e?.payload ?? e?.message ?? e)
const isClosed = e => e?.payload?.tag === 'closed' || e?.tag === 'closed'

function respond (out, status, contentType) {
  const response = new OutgoingResponse(Fields.fromList([['content-type', encoder.encode(contentType)]]))
  response.setStatusCode(status)
  const body = response.body()
  ResponseOutparam.set(out, { tag: 'ok', val: response })
  return body
}

function text (out, status, message) {
  const body = respond(out, status, 'text/plain; charset=utf-8')
  const stream = body.write()
  stream.blockingWriteAndFlush(encoder.encode(`${message}\n`))
  stream[Symbol.dispose]()
  OutgoingBody.finish(body, undefined)
}

/** Copies `input` to `output` chunk by chunk; the number of bytes. */
function pump (input, output) {
  let size = 0
  for (;;) {
    let chunk
    try {
      chunk = input.blockingRead(CHUNK)
    } catch (e) {
      if (isClosed(e)) return size
      throw e
    }
    if (chunk.byteLength > 0) output.blockingWriteAndFlush(chunk)
    size += chunk.byteLength
  }
}

function container () {
  if (!containerExists(CONTAINER)) createContainer(CONTAINER)[Symbol.dispose]()
  return getContainer(CONTAINER)
}

function put (c, name, request) {
  const value = OutgoingValue.newOutgoingValue()
  const out = value.outgoingValueWriteBody()
  // write-data first: the host then streams what follows to the store
  c.writeData(name, value)
  const body = request.consume()
  const input = body.stream()
  const size = pump(input, out)
  input[Symbol.dispose]()
  out[Symbol.dispose]()
  OutgoingValue.finish(value)
  return size
}

function get (c, name, responseOut) {
  const input = IncomingValue.incomingValueConsumeAsync(c.getData(name, 0n, 18446744073709551615n))
  const body = respond(responseOut, 200, 'application/octet-stream')
  const output = body.write()
  try {
    pump(input, output)
  } finally {
    input[Symbol.dispose]()
    output[Symbol.dispose]()
  }
  OutgoingBody.finish(body, undefined)
}

function list (c) {
  const names = c.listObjects()
  const all = []
  try {
    for (;;) {
      const [some, ended] = names.readStreamObjectNames(1000n)
      all.push(...some)
      if (ended) break
    }
  } finally {
    names[Symbol.dispose]()
  }
  return all.sort()
}

function serve (request, out) {
  const path = (request.pathWithQuery() ?? '/').split('?')[0]
  const method = request.method().tag
  if (path === '/files' || path === '/files/') {
    if (method !== 'get') return text(out, 405, 'use GET /files')
    const c = container()
    try { return text(out, 200, list(c).join('\n')) } finally { c[Symbol.dispose]() }
  }
  if (!path.startsWith('/files/')) return text(out, 404, 'try /files or /files/<name>')
  let name
  try {
    name = decodeURIComponent(path.slice('/files/'.length))
  } catch {
    return text(out, 400, 'the name is not valid percent-encoding')
  }
  const c = container()
  try {
    switch (method) {
      case 'put': return text(out, 201, `stored ${name}: ${put(c, name, request)} bytes`)
      case 'get':
        if (!c.hasObject(name)) return text(out, 404, `no file ${name}`)
        return get(c, name, out)
      case 'delete':
        if (!c.hasObject(name)) return text(out, 404, `no file ${name}`)
        c.deleteObject(name)
        return text(out, 200, `deleted ${name}`)
      default: return text(out, 405, 'use PUT, GET or DELETE')
    }
  } finally {
    c[Symbol.dispose]()
  }
}

export const incomingHandler = {
  handle (request, out) {
    try {
      serve(request, out)
    } catch (e) {
      // the blobstore's own error strings (a name it refuses, a container gone, no store reachable); a response
      // already under way cannot change its status, and is cut short instead
      try { text(out, 400, why(e)) } catch {}
    }
  }
}
