// wasi:http/outgoing-handler for one instance: preview2-shim's requests, only to granted hosts, bounded in number, time and body size.

import { outgoingHandler as shimHandler, types as shimTypes } from '@bytecodealliance/preview2-shim/http'
import { error as ioError } from '@bytecodealliance/preview2-shim/io'
import { matchesHttpGrant } from './http-grants.ts'

export interface OutgoingHttpInit {
  /** Host patterns (http-grants.ts); `all` when the component has the whole network. Empty: every request is denied. */
  readonly hosts: readonly string[] | 'all'
  readonly maxOutgoingHttpRequests: number
  readonly maxOutgoingHttpResponseBytes: number
  readonly outgoingHttpTimeoutMs: number
}

/** The WIT's error-code, thrown as jco lowers a `result` error: a plain `{tag, val}`, never an Error (that would trap). */
type ErrorCode = { readonly tag: string, readonly val?: unknown }

interface Method { call: (self: object, ...args: unknown[]) => unknown }
type Resource = Record<string | symbol, unknown>

const RequestOptions = (shimTypes as unknown as { RequestOptions: new () => Resource }).RequestOptions
const IoError = (ioError as unknown as { Error: new (payload: unknown) => Error & { payload: unknown } }).Error

function schemeOf (scheme: unknown): string {
  // preview2-shim sends a request without a scheme over https
  if (scheme === undefined || scheme === null) return 'https'
  const s = scheme as { tag: string, val?: string }
  return s.tag === 'HTTP' ? 'http' : s.tag === 'HTTPS' ? 'https' : String(s.val ?? '').toLowerCase()
}

/** Overrides a method on this object only (jco calls resource methods as `rsc.method()`, and checks the class, so no proxies). */
function wrap (obj: Resource, name: string | symbol, fn: (original: (...args: unknown[]) => unknown, ...args: unknown[]) => unknown): void {
  const original = obj[name] as Method | undefined
  if (typeof original?.call !== 'function') return
  obj[name] = (...args: unknown[]) => fn((...a: unknown[]) => original.call(obj, ...a), ...args)
}

export function createOutgoingHandler (init: OutgoingHttpInit): { handle: (request: unknown, options: unknown) => unknown } {
  let inFlight = 0
  const timeoutNs = BigInt(init.outgoingHttpTimeoutMs) * 1_000_000n
  const limit = init.maxOutgoingHttpResponseBytes

  /** The timeouts the guest asked for, none longer than the node allows. */
  function capped (options: unknown): Resource {
    const out = new RequestOptions()
    const given = options as Resource | undefined
    for (const [get, set] of [['connectTimeout', 'setConnectTimeout'], ['firstByteTimeout', 'setFirstByteTimeout'], ['betweenBytesTimeout', 'setBetweenBytesTimeout']] as const) {
      const asked = typeof given?.[get] === 'function' ? (given[get] as () => bigint | undefined).call(given) : undefined
      ;(out[set] as (d: bigint) => void).call(out, asked !== undefined && asked > 0n && asked < timeoutNs ? asked : timeoutNs)
    }
    return out
  }

  function bodyTooLarge (): Error {
    const e = new IoError({ tag: 'HTTP-response-body-size', val: BigInt(limit) })
    e.message = `the response body is over maxOutgoingHttpResponseBytes (${limit})`
    return e
  }

  /** Counts what the guest reads of a response body; past the limit every read fails, as the WIT's body-size error. */
  function bound (stream: Resource, release: () => void): void {
    let read = 0
    const count = (bytes: unknown): unknown => {
      if (bytes instanceof Uint8Array) {
        read += bytes.byteLength
        if (read > limit) { release(); throw { tag: 'last-operation-failed', val: bodyTooLarge() } }
      }
      return bytes
    }
    const ended = (err: unknown): never => { release(); throw err }
    for (const name of ['read', 'blockingRead']) {
      wrap(stream, name, (original, len) => {
        if (read > limit) throw { tag: 'last-operation-failed', val: bodyTooLarge() }
        // never more than the rest of the allowance plus one byte, so that a huge read cannot overshoot the limit by much
        const max = typeof len === 'bigint' ? (len > BigInt(limit - read + 1) ? BigInt(limit - read + 1) : len) : len
        try { return count(original(max)) } catch (err) { return ended(err) }
      })
    }
    for (const name of ['skip', 'blockingSkip']) {
      wrap(stream, name, (original, len) => {
        try {
          const n = original(len) as bigint
          read += Number(n)
          if (read > limit) { release(); throw { tag: 'last-operation-failed', val: bodyTooLarge() } }
          return n
        } catch (err) { return ended(err) }
      })
    }
    wrap(stream, Symbol.dispose, original => { release(); return original() })
  }

  function watch (future: Resource): void {
    let released = false
    const release = (): void => { if (!released) { released = true; inFlight-- } }
    wrap(future, Symbol.dispose, original => { release(); return original() })
    wrap(future, 'get', original => {
      const ret = original() as { tag: string, val: { tag: string, val: unknown } } | undefined
      if (ret === undefined) return ret
      if (ret.tag !== 'ok' || ret.val.tag !== 'ok') { release(); return ret }
      const response = ret.val.val as Resource
      const length = (response.headers as Method).call(response) as Resource
      const declared = (length.get as Method).call(length, 'content-length') as Uint8Array[]
      const n = declared.length > 0 ? Number(new TextDecoder().decode(declared[0])) : undefined
      if (n !== undefined && n > limit) {
        release()
        ;(response[Symbol.dispose] as Method | undefined)?.call(response)
        return { tag: 'ok', val: { tag: 'err', val: { tag: 'HTTP-response-body-size', val: BigInt(n) } } }
      }
      wrap(response, Symbol.dispose, original => { release(); return original() })
      wrap(response, 'consume', original => {
        const body = original() as Resource
        wrap(body, 'stream', original => {
          const stream = original() as Resource
          bound(stream, release)
          return stream
        })
        return body
      })
      return ret
    })
  }

  return {
    handle (request, options) {
      const r = request as Resource
      const authority = (r.authority as Method).call(r) as string | undefined
      const scheme = schemeOf((r.scheme as Method).call(r))
      if (authority === undefined || authority === '') throw { tag: 'HTTP-request-URI-invalid' } satisfies ErrorCode
      if (init.hosts !== 'all' && !matchesHttpGrant(init.hosts, scheme, authority)) throw { tag: 'HTTP-request-denied' } satisfies ErrorCode
      if (scheme !== 'http' && scheme !== 'https') throw { tag: 'HTTP-protocol-error' } satisfies ErrorCode
      if (inFlight >= init.maxOutgoingHttpRequests) throw { tag: 'connection-limit-reached' } satisfies ErrorCode
      const future = (shimHandler as unknown as { handle: (req: unknown, opts: unknown) => Resource }).handle(request, capped(options))
      inFlight++
      watch(future)
      return future
    }
  }
}
