// `wasmesh provider <module>`: a native provider as a process of its own that joins the mesh; the same node, serving only that provider.

import { CliError } from '../errors.ts'
import type { CommandContext } from '../context.ts'
import { nodeCommand } from './node.ts'

export const providerHelp = `Usage: wasmesh provider [name=]<module> --bootstrap <multiaddr> [options]

Runs a native provider (native code answering a WIT contract, advertised and
called exactly like a component) as its own process: a mesh node that serves
only that provider. <module> is builtin:keyvalue, builtin:postgres,
builtin:blobstore, a module file or a package whose default export is a
provider module. Every option of
'wasmesh node' applies (see 'wasmesh node --help'), --config and the node's
limits (--limit <name>=<value>) too; the provider's settings and secrets are
given by its name:

  --provider-config <name>:<key>=<value>            a setting (repeatable)
  --provider-secret <name>:<key>=env:VAR|file:/path  where a secret is (repeatable)

Examples:
  wasmesh provider kv=builtin:keyvalue --provider-config kv:path=./kv.db \\
    --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW... --label tier=cache
  wasmesh provider pg=builtin:postgres --provider-config pg:host=db.internal \\
    --provider-secret pg:password=env:PGPASSWORD --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...
  wasmesh provider blobs=builtin:blobstore --provider-config blobs:root=/srv/blobs \
    --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...`

export async function providerCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const module = argv.find(a => !a.startsWith('-'))
  const at = module === undefined ? -1 : argv.indexOf(module)
  // The module is the first positional argument that is not an option's value.
  if (module === undefined || (at > 0 && argv[at - 1].startsWith('--') && !argv[at - 1].includes('='))) {
    throw new CliError('usage', `provider takes the provider module first: wasmesh provider [name=]<module> --bootstrap <multiaddr>\n\n${providerHelp}`)
  }
  const rest = argv.filter((_, i) => i !== at)
  return await nodeCommand(['--provider', module, '--no-demo-host', ...rest], ctx)
}
