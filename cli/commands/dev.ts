// `wasmesh dev [dir]`: a node on loopback serving the project's component, rebuilt on every save and swapped in without dropping calls.
import { createHash } from 'node:crypto'
import { watch } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, relative, resolve, sep } from 'node:path'
import { parseArgs } from 'node:util'
import { createNode } from '../../node/index.ts'
import type { Provider } from '../../node/providers/sdk.ts'
import { defaultRuntimeLimits, httpExportOf, inspectComponent } from '../../node/runtime/index.ts'
import { buildDirOf, buildProject } from '../build/project-build.ts'
import { parseHostPortArg, parseMultiaddrArg } from '../config.ts'
import type { CommandContext } from '../context.ts'
import { CliError } from '../errors.ts'
import { exampleCall } from '../example-call.ts'
import { createDemoHost, demoHostInterface } from '../host.ts'
import { createHotSwap } from '../hot-swap.ts'
import { asKeyError, bootstrapOf, flag, latticeKeyEnv, latticeKeyOf, logFormatOf, logLevelOf, loggerOf, positiveMsOf, warnIfOpen } from '../options.ts'
import { formatError } from '../output.ts'
import { httpListen } from '../ports.ts'
import { readProject } from '../project.ts'
import { startProviders } from '../providers.ts'
import { stopRequests } from '../signals.ts'

/** Saves closer together than this are one rebuild (editors write a file in several steps). */
export const defaultDevDebounceMs = 200
/** How long a swap waits for the old component's calls in flight before unloading it anyway. */
export const defaultDevDrainTimeoutMs = 10_000

export const devHelp = `Usage: wasmesh dev [dir] [options]

Builds the project in dir (default: the current folder), starts a node on
loopback serving it (and the built-in local:demo/host; and builtin:keyvalue,
in memory, when the component imports wasi:keyvalue), prints the call line,
and rebuilds on every save under the project (build/ and .wasmesh/ aside).
A rebuilt component is loaded first and takes the calls; the old one is
unloaded once its calls in flight have finished, so no call is dropped. A
build error is printed and the last good component keeps serving. The
component's standard output and error go to the terminal. Ctrl-C stops.
For a component exporting wasi:http/incoming-handler (wasmesh new http-js)
it also opens an HTTP gateway on loopback and prints the curl line; the
gateway keeps serving across swaps (a request is answered by the old
component or the new one).

Options:
  --listen <multiaddr>     default /ip4/127.0.0.1/tcp/0
  --bootstrap <multiaddr>  join a mesh (repeatable; default $WASMESH_BOOTSTRAP)
  --lattice-key <file>     join a private lattice with its key (default $${latticeKeyEnv})
  --data-dir <dir>         the node's identity (default <dir>/.wasmesh)
  --http <host:port>       the HTTP gateway's address, auto or off (default for an HTTP
                           component: auto, 127.0.0.1:8080 or else a free port; else off)
  --debounce <ms>          saves this close together are one rebuild (default ${defaultDevDebounceMs})
  --drain-timeout <ms>     the longest a swap waits for calls in flight (default ${defaultDevDrainTimeoutMs})
  --log-level <level>      debug, info, warn, error or silent (default info)
  --log-format <fmt>       text or json

Examples:
  wasmesh dev
  wasmesh dev site --http 127.0.0.1:9000
  wasmesh dev service --bootstrap /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...`

export async function devCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      listen: { type: 'string', multiple: true },
      bootstrap: { type: 'string', multiple: true },
      'lattice-key': { type: 'string' },
      'data-dir': { type: 'string' },
      http: { type: 'string' },
      debounce: { type: 'string' },
      'drain-timeout': { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' }
    }
  })
  if (positionals.length > 1) throw new CliError('usage', `dev takes at most one folder\n\n${devHelp}`)
  const debounceMs = positiveMsOf('debounce', values.debounce, defaultDevDebounceMs)
  const drainMs = positiveMsOf('drain-timeout', values['drain-timeout'], defaultDevDrainTimeoutMs)
  const listen = (values.listen ?? ['/ip4/127.0.0.1/tcp/0']).map(a => flag('listen', () => parseMultiaddrArg(a)))
  const bootstrap = bootstrapOf(values.bootstrap, ctx.env)
  const latticeKey = await latticeKeyOf(values['lattice-key'], ctx.env)
  warnIfOpen(ctx, listen, latticeKey !== undefined)
  const httpArg = values.http === undefined || values.http === 'auto' || values.http === 'off' ? values.http : flag('http', () => parseHostPortArg(values.http as string))
  const log = loggerOf(ctx, logLevelOf(values['log-level'], 'info'), logFormatOf(values['log-format']))
  const project = await readProject(resolve(positionals[0] ?? '.'))
  const first = await buildProject(project)
  log.info(`${relative(project.dir, first.path)} ${first.cached ? 'up to date' : `built in ${(first.ms / 1000).toFixed(1)} s`}`)
  // The gateway is part of the node's init, so whether the component serves HTTP is read from the build first.
  const servesHttp = httpExportOf(await inspectComponent(await readFile(first.path), { maxComponentBytes: defaultRuntimeLimits.maxComponentBytes })) !== undefined
  const http = httpArg ?? (servesHttp ? 'auto' : 'off')

  let callEnded = (): void => {}
  const node = await createNode({
    dataDir: values['data-dir'] ?? join(project.dir, '.wasmesh'),
    listen,
    bootstrap,
    latticeKey,
    logger: log,
    ...(http !== 'off' ? { http: { listen: await httpListen(http, ctx) } } : {}),
    observer: { call: () => { callEnded() } }
  }).catch((err: unknown) => { throw asKeyError(err) })
  const stop = stopRequests(ctx, () => { ctx.err('second signal: exiting at once') })
  let providers: Provider[] = []
  let watcher: ReturnType<typeof watch> | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    await node.start()
    node.serve(createDemoHost({ onLog: (message, caller) => { log.info(`log from ${caller === node.peerId ? project.name : `peer ${caller}`}: ${message}`) } }))
    const loaded = await node.load({ source: first.path, name: project.name })
    if (loaded.imports.interfaces.some(i => i.id.startsWith('wasi:keyvalue/'))) {
      providers = await startProviders(node, [{ name: 'keyvalue', module: 'builtin:keyvalue', config: { backend: 'memory' }, secrets: {} }], { log: log.child('provider'), dataDir: join(project.dir, '.wasmesh') })
    }
    const swap = createHotSwap(node, loaded, drainMs)
    callEnded = () => { swap.callEnded() }
    let digest = loaded.digest

    const address = node.addresses().find(a => a.startsWith('/ip4/127.')) ?? node.addresses()[0]
    ctx.out(`serving ${project.name} (${digest.slice(0, 12)}) on ${address}`)
    const url = node.httpUrl()
    if (url !== undefined) {
      ctx.out(`http: ${url}${loaded.http === undefined ? ' (this component exports no wasi:http/incoming-handler: requests go to the mesh\'s HTTP components)' : ''}`)
      ctx.out('try it from another terminal:')
      ctx.out(`curl ${url}/`)
    }
    // An HTTP component has nothing to call but its gateway: the demo host's call line is for the others.
    const call = exampleCall(loaded.exports.interfaces) ?? (loaded.http === undefined ? `${demoHostInterface}#log("hello")` : undefined)
    if (call !== undefined) {
      ctx.out('call it from another terminal:')
      ctx.out(`wasmesh call '${call}' --bootstrap ${address}`)
    }
    ctx.out(`watching ${project.dir} for changes; Ctrl-C to stop`)

    // One rebuild at a time; saves during a rebuild make one more after it.
    let building: Promise<void> | undefined
    let again = false
    const rebuild = async (): Promise<void> => {
      try {
        const built = await buildProject(project)
        const bytes = await readFile(built.path)
        const next = createHash('sha256').update(bytes).digest('hex')
        if (next === digest) return
        const swapped = await swap.swap({ source: bytes, name: project.name }, (component, inFlight) => {
          ctx.out(`loaded ${project.name} (${component.digest.slice(0, 12)}): new calls go to it; ${inFlight} call(s) in flight on the old one`)
        })
        digest = swapped.component.digest
        const calls = swapped.inFlight === 0 ? '' : `; ${swapped.inFlight} call(s) in flight on the old one ${swapped.drained ? 'finished' : `outlived --drain-timeout ${drainMs} ms`}`
        ctx.out(`swapped in ${project.name} (${digest.slice(0, 12)}), built in ${(built.ms / 1000).toFixed(1)} s${calls}`)
      } catch (err) {
        // The last good component keeps serving; the error is the build's own (file:line).
        ctx.err(formatError(err, ctx.verbose))
      }
    }
    const schedule = (): void => {
      if (building !== undefined) { again = true; return }
      building = (async () => {
        do { again = false; await rebuild() } while (again)
      })().finally(() => { building = undefined })
    }
    const ignored = [buildDirOf(project) + sep, join(project.dir, '.wasmesh') + sep, join(project.dir, 'node_modules') + sep]
    watcher = watch(project.dir, { recursive: true }, (_event, file) => {
      if (file == null) return
      const path = join(project.dir, file.toString())
      if (ignored.some(dir => path.startsWith(dir) || path + sep === dir)) return
      clearTimeout(timer)
      timer = setTimeout(schedule, debounceMs)
    })

    await stop.requested
    log.info('stopping')
    watcher.close()
    clearTimeout(timer)
    await building
    await node.stop({ drainTimeoutMs: drainMs })
    return 0
  } finally {
    watcher?.close()
    clearTimeout(timer)
    await node.stop().catch(() => {})
    await Promise.allSettled(providers.map(async p => { await p.stop() }))
    stop.dispose()
  }
}
