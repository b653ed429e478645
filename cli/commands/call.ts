// `wasmesh call`: through the mesh with --bootstrap, or in-process with --component <file.wasm>: calls one function and prints the result.

import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { unversioned } from '../../protocol/versions.ts'
import type { Func } from '../../protocol/wit/model.ts'
import { parseLatticeArg } from '../config.ts'
import { createRuntime, RuntimeError } from '../../node/runtime/index.ts'
import type { LoadedComponent, Runtime } from '../../node/runtime/index.ts'
import { linkLocally } from '../../node/runtime/local-linker.ts'
import { parseCallExpression } from '../call-expression.ts'
import { CliError } from '../errors.ts'
import type { CommandContext } from '../context.ts'
import { meshCall, parseArguments } from '../mesh-call.ts'
import { bootstrapOf, flag, labelsOf, latticeKeyOf, logFormatOf, logLevelOf, loggerOf, positiveMsOf } from '../options.ts'
import { clientMemberCertOf } from '../security.ts'
import { formatResult } from '../output.ts'

export const callHelp = `Usage: wasmesh call '<ns:pkg/iface@version>#<func>(<args>)' --bootstrap <multiaddr> [options]
       wasmesh call --component <file.wasm> [--component <file.wasm> ...] '<call>' [options]

Calls one function and prints the result in WAVE, the WebAssembly Value
Encoding (the syntax wasmtime and wasm-tools use). Arguments are WAVE too:
"text", 42, [1, 2], {name: "x"}, some(5), none, ok("x"), err(e), {read, write}
for flags. The interface's version may be left out when it is unambiguous.

Through the mesh (--bootstrap): joins the lattice as a short-lived client (a
fresh identity, no components, no listening port), waits until some peer
serves the interface, fetches the function's types from it, and calls it
through the router (local-first is moot: the client serves nothing).

In-process (--component): loads the components here, without a mesh. Each
component's imports are served by the other components given (so shout.wasm
can call upper.wasm), and local:demo/host#log by this command, which writes the
message to standard error. A function the world exports directly is called by
its name alone.

Options:
  --bootstrap <multiaddr>  a peer of the mesh, ending in /p2p/<peer-id> (repeatable;
                           default: $WASMESH_BOOTSTRAP, comma-separated)
  --target <peer-id>       call only this peer
  --label <k=v>            call only peers with this label (repeatable)
  --served-by <component>  call only this component (its name or digest, as 'wasmesh mesh'
                           lists it), when several serve the interface
  --lattice-key <file>     the key of a private lattice (default: $WASMESH_LATTICE_KEY_FILE)
  --data-dir <dir>         keep the client's identity (identity.key) there instead of a fresh
                           one per run: for nodes that let in only listed peers (--allow-peer,
                           --trust-file). A folder of its own, not a node's
  --member-cert <file>     the member certificate issued to that identity (wasmesh key
                           sign-member), for nodes whose policy admits peers by label
  --lattice <name>         the lattice to join (default "default")
  --component <file>       run this component in-process, without a mesh (repeatable)
  --json                   arguments and result in JSON instead of WAVE: the
                           arguments are JSON values separated by commas
                           ('ns:pkg/iface#f({"name": "x", "age": 3}, null)'),
                           none is null, variants and results {"tag", "val"}
  --timeout <ms>           give up after this long, waiting for a server included
                           (default 30000); an interface nobody serves fails as soon
                           as the mesh's view is in, and bootstrap addresses that
                           all refuse fail at once
  --log-level <level>      debug, info, warn, error or silent (default warn)
  --log-format <fmt>       text or json (default: text on a terminal, else json)
  --verbose                show an error's cause and stack

Exit status: 0 on success; 1 with 'error [<code>]: <message>' on standard error
when the call fails (codes: no-server, unreachable, bad-arguments,
unresolved-import, trap, timeout, file-not-found, ...); 2 for a usage mistake.
A function that returns nothing prints () (with --json: null).

Examples:
  wasmesh call 'local:demo/upper#to-upper("hello")' --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...
  WASMESH_BOOTSTRAP=/ip4/192.0.2.1/tcp/4001/p2p/12D3KooW... wasmesh call 'local:demo/shout#shout("hi")' --json
  wasmesh call 'local:demo/upper#to-upper("x")' --bootstrap <addr> --label zone=eu-1 --timeout 5000
  wasmesh call --component examples/build/upper.wasm 'local:demo/upper#to-upper("hello")'
  wasmesh call --component examples/build/hello.wasm 'hello-world()'
  wasmesh call --component examples/build/types.wasm --json 'wasmesh:examples/types#echo-option(null)'
  wasmesh call --component examples/build/shout.wasm --component examples/build/upper.wasm 'local:demo/shout#shout("hi")'`

export async function call (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      component: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      timeout: { type: 'string' },
      bootstrap: { type: 'string', multiple: true },
      target: { type: 'string' },
      label: { type: 'string', multiple: true },
      'served-by': { type: 'string' },
      lattice: { type: 'string' },
      'lattice-key': { type: 'string' },
      'data-dir': { type: 'string' },
      'member-cert': { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' }
    }
  })
  if (positionals.length !== 1) throw new CliError('usage', `call takes one call expression\n\n${callHelp}`)
  const expr = parseCallExpression(positionals[0])
  const timeoutMs = positiveMsOf('timeout', values.timeout, 30_000)
  if (values.component === undefined) {
    const bootstrap = bootstrapOf(values.bootstrap, ctx.env)
    if (bootstrap === undefined) {
      throw new CliError('usage', `give a peer of the mesh with --bootstrap <multiaddr> (or WASMESH_BOOTSTRAP), or run components in-process with --component <file.wasm>\n\n${callHelp}`)
    }
    return await meshCall(expr, {
      bootstrap,
      latticeKey: await latticeKeyOf(values['lattice-key'], ctx.env),
      identityDir: values['data-dir'] === undefined ? undefined : resolve(values['data-dir']),
      memberCert: await clientMemberCertOf(values['member-cert'], values['data-dir']),
      lattice: values.lattice === undefined ? undefined : flag('lattice', () => parseLatticeArg(values.lattice as string)),
      target: values.target,
      labels: labelsOf(values.label),
      component: values['served-by'],
      timeoutMs,
      json: values.json === true,
      logger: loggerOf(ctx, logLevelOf(values['log-level'], 'warn'), logFormatOf(values['log-format']))
    }, ctx)
  }
  for (const meshOnly of ['bootstrap', 'target', 'label', 'served-by', 'lattice', 'lattice-key', 'data-dir', 'member-cert'] as const) {
    if (values[meshOnly] !== undefined) throw new CliError('usage', `--${meshOnly} is for calls through the mesh; --component runs in-process`)
  }

  const runtime: Runtime = createRuntime({
    resolver: linkLocally(() => runtime, async (iface, func, params) => {
      if (iface.startsWith('local:demo/host') && func === 'log') {
        ctx.err(`log: ${String(params[0])}`)
        return []
      }
      throw new RuntimeError('unresolved-import', `no component given exports ${iface}#${func}`)
    }),
    logger: { info: line => { ctx.err(line) }, error: line => { ctx.err(line) } },
    limits: { callTimeoutMs: timeoutMs, maxInstances: 1 }
  })
  await runtime.start()
  try {
    const components: LoadedComponent[] = []
    for (const file of values.component) components.push(await runtime.load(file))
    const { component, iface, func } = findFunction(components, expr.iface, expr.func)
    const params = parseArguments(func, expr.args, values.json === true)
    const results = await runtime.call(component.id, iface, func.name, params)
    ctx.out(formatResult(func, results, values.json === true))
    return 0
  } finally {
    await runtime.stop()
  }
}

function findFunction (components: LoadedComponent[], iface: string, name: string): { component: LoadedComponent, iface: string, func: Func } {
  const exported = (): string => components.flatMap(c => [
    ...c.exports.interfaces.flatMap(i => [...i.functions.keys()].map(f => `${i.id}#${f}`)),
    ...c.exports.functions.map(f => f.name)
  ]).join(', ')
  for (const component of components) {
    if (iface === '') {
      const func = component.exports.functions.find(f => f.name === name)
      if (func !== undefined) return { component, iface, func }
      continue
    }
    const matches = component.exports.interfaces.filter(i => i.id === iface || unversioned(i.id) === iface)
    if (matches.length > 1) throw new CliError('no-such-function', `${iface} is ambiguous: give the version (${matches.map(i => i.id).join(', ')})`)
    const func = matches[0]?.functions.get(name)
    if (func !== undefined) return { component, iface: matches[0].id, func }
  }
  const wanted = iface === '' ? name : `${iface}#${name}`
  throw new CliError('no-such-function', `no component given exports ${wanted}; they export: ${exported()}`)
}
