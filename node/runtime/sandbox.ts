// Builds one instance's WASI imports from preview2-shim with nothing granted by default; loaded only inside instance workers.
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation'
import { _clearPreopens, _getPreopens, types as fsTypes } from '@bytecodealliance/preview2-shim/filesystem'
import { _setArgs, _setCwd, _setEnv } from '@bytecodealliance/preview2-shim/cli'
import * as sockets from '@bytecodealliance/preview2-shim/sockets'

/** What a component is explicitly granted. Everything else is denied. */
export interface SandboxGrants {
  /** Read-only directories: guest path (`/data`) -> host path. */
  readonly readOnlyDirs?: Readonly<Record<string, string>>
  /** Environment variables the guest sees: name -> value. */
  readonly env?: Readonly<Record<string, string>>
  /** Let the guest open sockets and make outgoing HTTP requests. Off unless granted. */
  readonly network?: boolean
}

type ImportObject = Record<string, unknown>

/**
 * preview2-shim's module-level defaults are permissive (the host's whole
 * environment, its argv and cwd, an open network). A worker hosts exactly one
 * instance, so those globals are locked down for the whole thread before the
 * per-instance shim is built: whatever the shim falls back to is empty.
 */
function lockDownGlobals (grants: SandboxGrants): void {
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

/** Makes every descriptor of this thread read-only: preview2-shim has no read-only preopen of its own. */
function makeFilesystemReadOnly (): void {
  const proto = (fsTypes as unknown as { Descriptor: { prototype: Record<string, unknown> } }).Descriptor.prototype
  for (const name of writeMethods) {
    proto[name] = function denied (): never { throw 'read-only' }
  }
  const openAt = proto.openAt as (this: unknown, pathFlags: unknown, path: string, openFlags: Record<string, boolean>, flags: Record<string, boolean>) => unknown
  proto.openAt = function readOnlyOpenAt (this: unknown, pathFlags: unknown, path: string, openFlags: Record<string, boolean>, flags: Record<string, boolean>): unknown {
    if (openFlags?.create === true || openFlags?.truncate === true || openFlags?.exclusive === true ||
        flags?.write === true || flags?.mutateDirectory === true) {
      throw 'read-only'
    }
    return openAt.call(this, pathFlags, path, openFlags, flags)
  }
}

/** The WASI half of an instance's import object, keyed by unversioned interface name as jco expects. */
export function createWasiImports (grants: SandboxGrants): ImportObject {
  lockDownGlobals(grants)
  makeFilesystemReadOnly()
  const shim = new WASIShim({
    sandbox: {
      preopens: { ...(grants.readOnlyDirs ?? {}) },
      env: { ...(grants.env ?? {}) },
      args: [],
      enableNetwork: grants.network === true
    }
  })
  const imports = shim.getImportObject() as ImportObject
  if (_getPreopens().length !== 0) throw new Error('sandbox: global preopens are not empty')
  // exit() would end the worker without an answer: make it a trap the pool can report.
  imports['wasi:cli/exit'] = {
    exit (status: { tag: string }): never { throw new Error(`guest called exit (${status.tag})`) },
    exitWithCode (code: number): never { throw new Error(`guest called exit(${code})`) }
  }
  const environment = imports['wasi:cli/environment'] as Record<string, unknown>
  imports['wasi:cli/environment'] = { ...environment, initialCwd: () => undefined }
  return imports
}
