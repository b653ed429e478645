// `wasmesh pull <reference>`: fetches a component into a data directory's artifact cache (verified), so that a node started there has it without the registry.

import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createStore, createOciClient, parseReference, formatReference } from '../../node/artifacts/index.ts'
import { defaultArtifactLimits } from '../../node/artifacts/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { defaultRuntimeLimits } from '../../node/runtime/index.ts'
import { parseRegistryHostArg, resolvePath } from '../config.ts'
import type { CommandContext } from '../context.ts'
import { CliError } from '../errors.ts'
import { flag } from '../options.ts'
import { ociCredentialsOf } from '../oci.ts'
import { defaultDataDir } from './node.ts'

export const pullHelp = `Usage: wasmesh pull <registry/repository[:tag|@sha256:...]> [options]

Fetches a component from its OCI registry into the artifact cache of a data
directory (<data-dir>/artifacts/sha256/<hex>), verified against its digest. A
node started with that data directory loads the reference (or the digest) from
there, and serves the bytes to its peers. Prints the component's digest.

Options:
  --data-dir <dir>              the node's data directory (default as wasmesh node's)
  --oci-insecure <host[:port]>  pull over plain HTTP (loopback registries always are)
  --json                        print {"reference","digest","size","cached"} as JSON

Examples:
  wasmesh pull localhost:5000/demo/upper:0.1.0
  wasmesh node --component localhost:5000/demo/upper:0.1.0`

export async function pullCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'data-dir': { type: 'string' }, 'oci-insecure': { type: 'string', multiple: true }, json: { type: 'boolean' } }
  })
  if (positionals.length !== 1) throw new CliError('usage', `pull takes one reference\n\n${pullHelp}`)
  const ref = parseReference(positionals[0])
  if (ref.kind !== 'oci') throw new CliError('usage', `pull needs an OCI reference (registry/repository:tag): ${positionals[0]}`)
  const insecure = (values['oci-insecure'] ?? []).map(h => flag('oci-insecure', () => parseRegistryHostArg(h)))
  const dataDir = values['data-dir'] === undefined ? defaultDataDir(ctx.env) : resolvePath(values['data-dir'], process.cwd())
  const max = defaultRuntimeLimits.maxComponentBytes
  const credentials = ociCredentialsOf(ctx.env, ref.registry)
  const client = createOciClient({ insecure, credentials: r => credentials?.[r], maxComponentBytes: max })
  const store = createStore({ dir: join(dataDir, 'artifacts'), maxBytes: defaultArtifactLimits.maxArtifactCacheBytes, log: silentLogger })
  await store.open()
  const { layer } = await client.resolve(ref)
  const cached = await store.get(layer.digest) !== undefined
  if (!cached) await store.put(layer.digest, await client.blob(ref, layer))
  if (values.json === true) {
    ctx.out(JSON.stringify({ reference: formatReference(ref), digest: `sha256:${layer.digest}`, size: layer.size, cached }))
  } else {
    ctx.out(`${cached ? 'already cached' : 'pulled'} ${formatReference(ref)}\ncomponent sha256:${layer.digest} (${layer.size} bytes) in ${join(dataDir, 'artifacts')}`)
  }
  return 0
}
