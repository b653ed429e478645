// What the CLI tells the node's artifacts about registries: credentials from the environment, and for which registries.

import type { ArtifactsConfig, Credentials } from '../node/artifacts/index.ts'
import { parseRegistryHostArg } from './config.ts'
import type { CommandContext } from './context.ts'
import { CliError } from './errors.ts'

/**
 * `WASMESH_OCI_USER` and `WASMESH_OCI_PASSWORD`, for the registries in `WASMESH_OCI_REGISTRY` (comma-separated
 * `host[:port]`), else for `fallback` (push and pull: the registry their reference names). Credentials are never
 * sent to a registry that was not named: a reference from elsewhere (a manifest, a control call) cannot harvest them.
 */
export function ociCredentialsOf (env: CommandContext['env'], fallback?: string): ArtifactsConfig['credentials'] {
  const username = env.WASMESH_OCI_USER
  const password = env.WASMESH_OCI_PASSWORD
  if (username === undefined && password === undefined) return undefined
  if (username === undefined || password === undefined) throw new CliError('usage', 'give both WASMESH_OCI_USER and WASMESH_OCI_PASSWORD, or neither')
  const listed = env.WASMESH_OCI_REGISTRY
  let hosts: string[]
  if (listed !== undefined && listed.trim() !== '') {
    try {
      hosts = listed.split(',').map(h => parseRegistryHostArg(h.trim()))
    } catch (err) {
      throw new CliError('usage', `WASMESH_OCI_REGISTRY: ${(err as Error).message}`)
    }
  } else if (fallback !== undefined) {
    hosts = [fallback]
  } else {
    throw new CliError('usage', 'WASMESH_OCI_USER is set: say which registries get the credentials with WASMESH_OCI_REGISTRY=<host[:port]>[,...]')
  }
  const creds: Credentials = { username, password }
  return Object.fromEntries(hosts.map(h => [h, creds]))
}
