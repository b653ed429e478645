// Builds one instance's WASI imports from preview2-shim with nothing granted by default, in a worker of its own or on the node's thread.
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation'
import { _clearPreopens, _getPreopens } from '@bytecodealliance/preview2-shim/filesystem'
import { _setArgs, _setCwd, _setEnv } from '@bytecodealliance/preview2-shim/cli'
import { streams } from '@bytecodealliance/preview2-shim/io'
import { monotonicClock } from '@bytecodealliance/preview2-shim/clocks'
import * as sockets from '@bytecodealliance/preview2-shim/sockets'
import { createOutgoingHandler } from './host/outgoing-http.ts'
import { defaultHostLimits, type HostLimits } from './host/limits.ts'
import { createTokenBucket } from './rate.ts'

/** What a component is explicitly granted. Everything else is denied. */
export interface SandboxGrants {
  /** Read-only directories: guest path (`/data`) -> host path. */
  readonly readOnlyDirs?: Readonly<Record<string, string>>
  /** Environment variables the guest sees: name -> value. */
  readonly env?: Readonly<Record<string, string>>
  /** Let the guest open sockets and make outgoing HTTP requests to any host. Off unless granted. */
  readonly network?: boolean
  /**
   * Hosts the guest's `wasi:http/outgoing-handler` may reach (no sockets): `api.example.com` (its scheme's
   * default port), `api.example.com:8443`, `api.example.com:*`, `*.internal` (names under it). Others get
   * `HTTP-request-denied`.
   */
  readonly http?: readonly string[]
}

/** The bounds of a guest's outgoing HTTP requests. */
export type OutgoingHttpLimits = Pick<HostLimits, 'maxOutgoingHttpRequests' | 'maxOutgoingHttpResponseBytes' | 'outgoingHttpTimeoutMs'>

export interface WasiOptions {
  /**
   * `dedicated`: the thread hosts this instance only (a worker), so preview2-shim's module-level
   * defaults are locked down for the whole thread too. `shared`: a thread other instances use too
   * (the node's own, or a shared worker, which locks itself down once), where nothing global is
   * touched and every capability is the instance's own.
   */
  readonly thread: 'dedicated' | 'shared'
  /** Where guest stdout/stderr lines go, in whole lines (dropped if unset). */
  readonly output?: (stream: 'stdout' | 'stderr', line: string) => void
  /** Lines the guest may write per second to stdout and stderr together (a burst of as many); the rest are dropped and counted. Unset: no bound. */
  readonly maxOutputLinesPerSecond?: number
  /** Bounds of outgoing HTTP (defaults: `defaultHostLimits`). */
  readonly outgoingHttp?: OutgoingHttpLimits
}

type ImportObject = Record<string, unknown>

/**
 * preview2-shim's module-level defaults are permissive (the host's whole
 * environment, its argv and cwd, an open network). In a thread that hosts
 * exactly one instance they are emptied, so that whatever the per-instance
 * shim falls back to is empty as well.
 */
export function lockDownThread (grants: SandboxGrants): void {
  _clearPreopens()
  _setEnv({})
  _setArgs([])
  _setCwd('/')
  if (grants.network !== true) {
    // Exported by the shim but missing from its typings.
    const deny = sockets as unknown as Record<'_denyDnsLookup' | '_denyTcp' | '_denyUdp', () => void>
    deny._denyDnsLookup()
    deny._denyTcp()
    deny._denyUdp()
  }
}

const writeMethods = [
  'writeViaStream', 'appendViaStream', 'setSize', 'setTimes', 'write', 'createDirectoryAt',
  'setTimesAt', 'linkAt', 'removeDirectoryAt', 'renameAt', 'symlinkAt', 'unlinkFileAt', 'syncData', 'sync'
] as const

function denied (): never { throw 'read-only' }

/**
 * Makes a descriptor, and every descriptor opened through it, read-only (preview2-shim has no
 * read-only preopen of its own). Own properties, so that other instances' descriptors are untouched:
 * jco calls resource methods as `rsc.method(...)`.
 */
function readOnly<T extends object> (descriptor: T): T {
  const d = descriptor as Record<string, unknown>
  for (const name of writeMethods) d[name] = denied
  const openAt = d.openAt as (pathFlags: unknown, path: string, openFlags: Record<string, boolean>, flags: Record<string, boolean>) => object
  d.openAt = (pathFlags: unknown, path: string, openFlags: Record<string, boolean>, flags: Record<string, boolean>): object => {
    if (openFlags?.create === true || openFlags?.truncate === true || openFlags?.exclusive === true ||
        flags?.write === true || flags?.mutateDirectory === true) {
      throw 'read-only'
    }
    return readOnly(openAt.call(descriptor, pathFlags, path, openFlags, flags))
  }
  return descriptor
}

/**
 * A `wasi:io/streams` output-stream whose bytes become log lines. It is an OutputStream to jco's
 * resource checks; its methods are its own, since the shim's streams all write to the process's fds.
 */
function lineStream (emit: (line: string) => void): object {
  const decoder = new TextDecoder()
  let partial = ''
  const push = (bytes: Uint8Array): void => {
    const text = partial + decoder.decode(bytes, { stream: true })
    const lines = text.split('\n')
    partial = lines.pop() ?? ''
    // A guest that never ends its line still cannot grow this without bound.
    if (partial.length > 64 * 1024) { lines.push(partial); partial = '' }
    for (const line of lines) emit(line.endsWith('\r') ? line.slice(0, -1) : line)
  }
  const stream = Object.create((streams.OutputStream as { prototype: object }).prototype) as Record<string | symbol, unknown>
  Object.assign(stream, {
    checkWrite: () => 65536n,
    write: push,
    blockingWriteAndFlush: push,
    flush: () => {},
    blockingFlush: () => {},
    writeZeroes: (n: bigint) => { push(new Uint8Array(Number(n))) },
    blockingWriteZeroesAndFlush: (n: bigint) => { push(new Uint8Array(Number(n))) },
    subscribe: () => monotonicClock.subscribeDuration(0n),
    splice: () => { throw { tag: 'closed' } },
    blockingSplice: () => { throw { tag: 'closed' } }
  })
  return ownDispose(stream)
}

/** `output`, at most `perSecond` lines a second (a burst of as many); a line after dropped ones is preceded by their count. */
function boundedOutput (output: (stream: 'stdout' | 'stderr', line: string) => void, perSecond: number): (stream: 'stdout' | 'stderr', line: string) => void {
  if (!Number.isFinite(perSecond)) return output
  const bucket = createTokenBucket(perSecond)
  let dropped = 0
  return (stream, line) => {
    if (!bucket.take()) { dropped++; return }
    if (dropped > 0) {
      output('stderr', `${dropped} lines of output dropped (maxLogLinesPerSecond ${perSecond})`)
      dropped = 0
      if (!bucket.take()) { dropped++; return }
    }
    output(stream, line)
  }
}

/** An input-stream at its end: the guest must not read the node's own stdin. */
function closedInput (): object {
  const closed = (): never => { throw { tag: 'closed' } }
  const stream = Object.create((streams.InputStream as { prototype: object }).prototype) as Record<string | symbol, unknown>
  Object.assign(stream, {
    read: closed,
    blockingRead: closed,
    skip: closed,
    blockingSkip: closed,
    subscribe: () => monotonicClock.subscribeDuration(0n)
  })
  return ownDispose(stream)
}

/** The shim's dispose reads private fields these objects do not have. */
function ownDispose (stream: Record<string | symbol, unknown>): object {
  stream[Symbol.dispose] = () => {}
  return stream
}

/** The WASI half of an instance's import object, keyed by unversioned interface name as jco expects. */
export function createWasiImports (grants: SandboxGrants, opts: WasiOptions): ImportObject {
  if (opts.thread === 'dedicated') lockDownThread(grants)
  const shim = new WASIShim({
    sandbox: {
      preopens: { ...(grants.readOnlyDirs ?? {}) },
      env: { ...(grants.env ?? {}) },
      args: [],
      enableNetwork: grants.network === true
    }
  })
  const imports = shim.getImportObject() as ImportObject
  if (opts.thread === 'dedicated' && _getPreopens().length !== 0) throw new Error('sandbox: global preopens are not empty')
  const preopens = imports['wasi:filesystem/preopens'] as { getDirectories: () => Array<[object, string]> }
  const dirs = preopens.getDirectories().map(([d, path]): [object, string] => [readOnly(d), path])
  imports['wasi:filesystem/preopens'] = { getDirectories: () => [...dirs] }
  // Outgoing HTTP only to granted hosts, bounded; without a grant every request is `HTTP-request-denied` (the shim's own
  // refusal is a bare string, which jco cannot lower as an error-code: a trap).
  const httpLimits = opts.outgoingHttp ?? defaultHostLimits
  imports['wasi:http/outgoing-handler'] = createOutgoingHandler({
    hosts: grants.network === true ? 'all' : grants.http ?? [],
    maxOutgoingHttpRequests: httpLimits.maxOutgoingHttpRequests,
    maxOutgoingHttpResponseBytes: httpLimits.maxOutgoingHttpResponseBytes,
    outgoingHttpTimeoutMs: httpLimits.outgoingHttpTimeoutMs
  })
  // exit() would end the thread without an answer: make it a trap the pool can report.
  imports['wasi:cli/exit'] = {
    exit (status: { tag: string }): never { throw new Error(`guest called exit (${status.tag})`) },
    exitWithCode (code: number): never { throw new Error(`guest called exit(${code})`) }
  }
  const environment = imports['wasi:cli/environment'] as Record<string, unknown>
  imports['wasi:cli/environment'] = { ...environment, initialCwd: () => undefined }
  // Whole lines, bounded in rate where the guest writes them: a guest printing in a loop floods nothing.
  const output = boundedOutput(opts.output ?? (() => {}), opts.maxOutputLinesPerSecond ?? Infinity)
  const stdout = lineStream(line => { output('stdout', line) })
  const stderr = lineStream(line => { output('stderr', line) })
  const stdin = closedInput()
  imports['wasi:cli/stdout'] = { getStdout: () => stdout }
  imports['wasi:cli/stderr'] = { getStderr: () => stderr }
  imports['wasi:cli/stdin'] = { getStdin: () => stdin }
  return imports
}
