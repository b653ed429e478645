// `wasmesh push <file.wasm> <reference>`: uploads a component to an OCI registry in the wasm artifact layout wash uses, and prints its digests.

import { parseArgs } from 'node:util'
import { createOciClient, parseReference } from '../../node/artifacts/index.ts'
import { defaultRuntimeLimits, inspectComponent, readComponentSource } from '../../node/runtime/index.ts'
import { parseRegistryHostArg } from '../config.ts'
import type { CommandContext } from '../context.ts'
import { CliError } from '../errors.ts'
import { flag } from '../options.ts'
import { ociCredentialsOf } from '../oci.ts'

export const pushHelp = `Usage: wasmesh push <component.wasm> <registry/repository:tag> [options]

Uploads a component to an OCI registry (the Distribution API) as wash push does:
an image manifest whose config is application/vnd.wasm.config.v0+json and whose
one layer, application/wasm, is the component's bytes. Prints the component's
digest (what nodes fetch from each other) and the manifest's. Nodes then load
it with --component <registry/repository:tag>.

Options:
  --oci-insecure <host[:port]>  push over plain HTTP (loopback registries always are)
  --json                        print {"reference","digest","manifest"} as JSON

Credentials: WASMESH_OCI_USER and WASMESH_OCI_PASSWORD (sent to the registry
named, or to WASMESH_OCI_REGISTRY's hosts), when the registry asks (Basic, or a
Bearer token from its token service).

Examples:
  wasmesh push examples/build/upper.wasm localhost:5000/demo/upper:0.1.0
  WASMESH_OCI_USER=me WASMESH_OCI_PASSWORD=$TOKEN wasmesh push app.wasm ghcr.io/me/app:1.0`

export async function pushCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'oci-insecure': { type: 'string', multiple: true }, json: { type: 'boolean' } }
  })
  if (positionals.length !== 2) throw new CliError('usage', `push takes a component file and a reference\n\n${pushHelp}`)
  const [file, text] = positionals
  const ref = parseReference(text)
  if (ref.kind !== 'oci') throw new CliError('usage', `push needs an OCI reference (registry/repository:tag), not ${ref.kind === 'file' ? 'a path' : 'a digest'}: ${text}`)
  const insecure = (values['oci-insecure'] ?? []).map(h => flag('oci-insecure', () => parseRegistryHostArg(h)))
  const bytes = await readComponentSource(file, defaultRuntimeLimits.maxComponentBytes)
  const info = await inspectComponent(bytes, { maxComponentBytes: defaultRuntimeLimits.maxComponentBytes })
  const credentials = ociCredentialsOf(ctx.env, ref.registry)
  const client = createOciClient({ insecure, credentials: r => credentials?.[r], maxComponentBytes: defaultRuntimeLimits.maxComponentBytes })
  const pushed = await client.push(ref, bytes, {
    component: { exports: info.exports.interfaces.map(i => i.id), imports: info.imports.interfaces.map(i => i.id) }
  })
  const reference = `${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}`
  if (values.json === true) {
    ctx.out(JSON.stringify({ reference, digest: `sha256:${pushed.layerDigest}`, manifest: `sha256:${pushed.manifestDigest}` }))
  } else {
    ctx.out(`pushed ${reference}\ncomponent sha256:${pushed.layerDigest} (${bytes.byteLength} bytes)\nmanifest  sha256:${pushed.manifestDigest}\npinned    ${ref.registry}/${ref.repository}@sha256:${pushed.manifestDigest}`)
  }
  return 0
}
