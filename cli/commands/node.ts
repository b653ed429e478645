// `wasmesh node`: runs a mesh node until Ctrl-C / SIGTERM, printing how other machines join it and call it.

import type { KeyObject } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, isAbsolute } from 'node:path'
import { parseArgs } from 'node:util'
import type { Interface } from '../../protocol/wit/model.ts'
import {
  formatLimit, grantsByComponent, loadConfigFile, parseComponentArg, parseGrantArg, parseRegistryHostArg, parseComponentLimitArg, parseComponentSetting, parseInlineArg, parseLatticeArg, parseLinkArg, parseHostPortArg,
  parseMsArg, parseMultiaddrArg, parseProviderArg, parseSubscribeArg, resolvePath, parseAllowPeerArg, parseHttpRouteArg
} from '../config.ts'
import type { Provider } from '../../node/providers/sdk.ts'
import { startProviders, withSettings } from '../providers.ts'
import type { NodeSettings, SubscribeArg } from '../config.ts'
import { startOpsServer } from '../../node/health.ts'
import type { OpsServer } from '../../node/health.ts'
import { createDemoHost, demoHostInterface } from '../host.ts'
import type { Logger } from '../../node/logger.ts'
import { createMetrics } from '../../node/metrics.ts'
import { createNode } from '../../node/index.ts'
import type { ComponentSpec, MeshNode } from '../../node/index.ts'
import type { CommandContext } from '../context.ts'
import { CliError } from '../errors.ts'
import { exampleCall } from '../example-call.ts'
import { commandLine, packageVersion } from '../install.ts'
import { listensPublicly, loopbackOnly } from '../../node/reachability.ts'
import { asKeyError, bootstrapOf, isLoopbackAddress, warnIfOpen, flag, labelsOf, latticeKeyEnv, latticeKeyFileOf, latticeKeyOf, limitFlagsOf, logFormatOf, logLevelOf, loggerOf, trustKeysOf } from '../options.ts'
import { limitCatalog, limitInits } from '../../node/limits.ts'
import { HTTP_HANDLER_IFACE } from '../../node/http/index.ts'
import { createLogTail, defaultConsoleLimits, startConsoleServer } from '../../node/console/index.ts'
import type { ConsoleServer } from '../../node/console/index.ts'
import { consoleListen, httpListen, portTaken } from '../ports.ts'
import { stopRequests } from '../signals.ts'
import { reloadPolicyOnHangUp, securityInit } from '../security.ts'
import { ociCredentialsOf } from '../oci.ts'

/** Where a node listens when told nothing: loopback only, unless a lattice key keeps outsiders out (then `defaultPrivateListen`). */
export const defaultListen = '/ip4/127.0.0.1/tcp/4001'
/** Where a node of a private lattice listens when told nothing: every interface (the lattice key keeps outsiders out). */
export const defaultPrivateListen = '/ip4/0.0.0.0/tcp/4001'
export const defaultDrainTimeoutMs = 10_000

export const nodeHelp = `Usage: wasmesh node [options]

Starts a mesh node: it serves the components given, advertises their
interfaces to the lattice over gossipsub, and calls whichever peer serves what
they import. It runs until Ctrl-C or SIGTERM: then it withdraws its adverts at
once, lets calls in flight finish (up to --drain-timeout), and exits 0; a
second Ctrl-C exits at once (status 130).

On start it prints to standard output (logs go to standard error):

  peer id: <peer-id>
  lattice: <name>                (private: lattice key required) with --lattice-key
  listening on:
  <multiaddr>/p2p/<peer-id>      one per line: give one to other nodes as --bootstrap
  ...                            (other machines' addresses first, loopback last)

  loopback only: ...             without --listen and --lattice-key: how to open it up

  serving:
    <ns:pkg/iface@version>  <component>
  call it from another terminal:
  wasmesh call '<iface>#<func>(<args>)' --bootstrap <multiaddr>
  (wasmesh when it is on PATH as this install, else this install's command by its
  absolute path, so that the line works from any folder)

Options:
  --listen <multiaddr>      address to listen on (repeatable; default ${defaultListen}, loopback
                            only, or with --lattice-key ${defaultPrivateListen}, every interface;
                            a free port with a notice when 4001 is taken). Listening beyond
                            loopback without a lattice key prints a warning: anyone who can
                            reach the port joins
  --lattice-key <file>      a private lattice: only nodes holding this key file (wasmesh key
                            new --out lattice.key, mode 600) can connect, read adverts or call
                            (default: $${latticeKeyEnv})
  --allow-peer <peer-id>    only these peers may connect (repeatable; with --trust-file, both)
  --trust-file <file>       peers allowed to connect, with the labels this node trusts them
                            with (YAML: peers: [{id: 12D3KooW..., labels: {zone: eu-1}}]);
                            re-read when it changes or on SIGHUP, peers taken off disconnected
  --announce <multiaddr>    address to advertise instead of the listen addresses (repeatable)
  --bootstrap <multiaddr>   a peer to join through, ending in /p2p/<peer-id> (repeatable;
                            default: $WASMESH_BOOTSTRAP, comma-separated)
  --component [name=]<file.wasm|reference>
                            a component to serve (repeatable); its name defaults to the
                            file name without .wasm. A reference is an OCI image
                            (registry:5000/org/app:1.2, ghcr.io/org/app@sha256:..., oci://...)
                            or a digest (name=sha256:<hex>): its bytes come from this node's
                            cache (<data-dir>/artifacts), else from peers running it, else
                            from the registry, verified against their digest
  --oci-insecure <host[:port]>
                            pull from this registry over plain HTTP (repeatable; loopback
                            registries always are). Credentials: WASMESH_OCI_USER and
                            WASMESH_OCI_PASSWORD, sent only to WASMESH_OCI_REGISTRY's hosts
  --grant <name>:<grant>    give component <name> something its sandbox denies by default
                            (repeatable): env=VAR (VAR's value here), env=VAR=value,
                            dir=/guest=/host (read-only directory), http=<host>,... (outgoing
                            HTTP to these hosts only: api.example.com, host:8443, host:*,
                            *.internal), network (sockets and HTTP to anywhere)
  --config-value <name>:<key>=<value>
                            a config value component <name> reads with wasi:config/store
                            (or wasi:config/runtime) (repeatable)
  --secret <name>:<key>=env:VAR|file:/path
                            a secret component <name> may read with wasmcloud:secrets/store
                            (repeatable); read when asked for, never logged
  --inline <name>           run component <name> on the node's own thread (repeatable): no
                            thread hand-off per call (30-170 µs less), same sandbox, but a
                            guest that loops forever holds the whole node and no deadline can
                            stop it. For components you trust, on hot paths
  --component-limit <name>:<limit>=<value>
                            a runtime limit of component <name> alone (repeatable), e.g.
                            upper:minInstances=1 (kept running however idle) or
                            upper:instanceIdleTimeoutMs=30s (idle instances are ended after
                            that, 5m by default; the next call starts one; 0: never)
  --label <k=v>             a label callers can select this node by (repeatable)
  --lattice <name>          the lattice to join (default "default")
  --data-dir <dir>          where identity.key lives (default $XDG_DATA_HOME/wasmesh
                            or ~/.local/share/wasmesh)
  --cache-dir <dir>         the transpile cache (default $XDG_CACHE_HOME/wasmesh or ~/.cache/wasmesh)
  --config <file>           a YAML (.yaml, .yml) or TOML (.toml) file with the same keys as
                            these flags (listen, bootstrap, component, grant, label, data-dir,
                            drain-timeout, demo-host, ...); flags win
  --metrics <host:port>     serve /metrics (Prometheus), /healthz and /readyz there
  --console <host:port>     serve a live, read-only console page there (peers, interfaces,
                            calls, topology, adverts, the log tail; port 0: a free one;
                            auto: 127.0.0.1:9090, or a free port when that is taken)
  --http <host:port>        an HTTP/1.1 gateway there (port 0: a free one): each request goes to a
                            component exporting wasi:http/incoming-handler somewhere in the mesh,
                            local first (any node can be a gateway; it needs no component)
                            (auto: 127.0.0.1:8080, or a free port with a notice when it is taken)
  --http-route <route>      send some requests to some components (repeatable): host=<host>=<target>
                            (Host header, *.example.com too), path=</prefix>=<target> (longest
                            prefix wins), default=<target>; a target is name=<component> (or
                            component=<component>), <label>=<value>[,...] (node labels) or any.
                            No route matches: 404
  --drain-timeout <ms>      how long a stop waits for calls and HTTP requests in flight (default ${defaultDrainTimeoutMs})
  --no-demo-host            do not serve local:demo/host (the log function the examples import)
  --relay, --no-relay       offer (or not) a circuit relay to members behind NAT (default: on with
                            a lattice key when this node has a public address)
  --mdns, --no-mdns         find members of this lattice on the LAN by multicast DNS, no bootstrap
                            needed (default: on with a lattice key when listening beyond loopback
                            with no public address)
  --provider [name=]<module>
                            serve a native provider too (repeatable): builtin:keyvalue,
                            builtin:postgres, builtin:blobstore, a module file or a package
                            whose default export is a provider module
  --provider-config <name>:<key>=<value>
                            a setting of provider <name> (repeatable), e.g. kv:path=./kv.db
  --provider-secret <name>:<key>=env:VAR|file:/path
                            where provider <name> finds a secret (repeatable); secrets are
                            never logged, advertised or shown in metrics
  --link <component>:<ns:pkg[/iface]>[#<link-name>]=<k=v,...|peer-id>
                            bind a component's imports to servers with these labels or to one
                            peer (repeatable); without a link, any server. A named link is
                            used once the component picks its name with wasmcloud:bus/lattice
                            set-link-name (unnamed: the default link)
  --control                 let every peer of the lattice use this node's control interface
                            (wasmesh get/scale/stop/link/config/label/events) when no --policy
                            is given; with a policy, only its rules allow control calls
  --messaging               serve wasmcloud:messaging/consumer@0.2.0 to this node's components:
                            publish over the lattice's gossip, request-reply to one subscriber
  --subscribe <component>=<subject>
                            hand component <component> (its wasmcloud:messaging handler export)
                            every message of <subject> (repeatable; implies --messaging);
                            NATS wildcards: '*' one token, a final '>' the rest (orders.>)
  --limit <name>=<value>    set one of the node's limits by its name (repeatable; a flag wins
                            over the same limit in the config file's limits table). Counts
                            are whole numbers, ...Bytes limits also take 512KiB, 64MiB, 1GiB,
                            ...Ms limits also take 500ms, 30s, 2m. The names, with defaults:
${limitHelp()}
  --require-signed          load only components signed (wasmesh sign) by a key of --trust-key;
                            any other (unsigned, changed after signing, signed by another key)
                            is refused with untrusted-component and the node does not start
  --trust-key <key.pub>     a public key (wasmesh key public) whose signatures are trusted
                            (repeatable; with --require-signed)
  --member-cert <file>      this node's member certificate (wasmesh key sign-member), presented
                            to peers: the labels it is trusted with by nodes that trust its admin
  --trust-admin <admin.pub> an admin public key whose member certificates this node believes
                            (repeatable); peers' labels count for --policy and --link only when
                            such a certificate carries them
  --policy <file>           who may call what and who may serve what (YAML, see README "Policy");
                            with one, builtin:keyvalue, builtin:postgres and other data providers
                            refuse every peer no rule allows. Reloaded on SIGHUP
  --log-level <level>       debug, info, warn, error or silent (default info)
  --log-format <fmt>        text or json (default: text on a terminal, else json lines)
  --verbose                 show an error's cause and stack

Examples:
  wasmesh node --component examples/build/upper.wasm
  wasmesh node --listen /ip4/0.0.0.0/tcp/4002 --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW... \\
    --component shout=examples/build/shout.wasm --label zone=eu-1
  wasmesh node --component app=app.wasm --grant app:env=API_TOKEN --grant app:dir=/data=./data
  wasmesh node --component upper=examples/build/upper.wasm --inline upper
  wasmesh node --config node.yaml --metrics 127.0.0.1:9464
  wasmesh node --provider kv=builtin:keyvalue --provider-config kv:path=./kv.db --label tier=cache
  wasmesh node --component counter=examples/build/counter.wasm --link counter:wasi:keyvalue=tier=cache
  wasmesh node --config node.yaml --limit maxInboundStreams=64 --limit idle-timeout-ms=10s
  wasmesh node --require-signed --trust-key admin.pub --component examples/build/upper.wasm
  wasmesh node --lattice-key lattice.key --trust-file trust.yaml --component examples/build/upper.wasm
  wasmesh node --component api=api.wasm --grant api:http=api.example.com,*.internal \\
    --config-value api:greeting=hello --secret api:token=env:API_TOKEN
  wasmesh node --component app=app.wasm --link app:wasi:keyvalue=tier=disk --link app:wasi:keyvalue#cache=tier=memory
  wasmesh node --component sub=examples/build/msg-sub.wasm --subscribe 'sub=greetings.>'
  wasmesh node --component examples/build/http-hello.wasm --http 127.0.0.1:8080
  wasmesh node --http 0.0.0.0:8080 --http-route 'host=api.example.com=app=api' --http-route 'path=/hello=name=http-hello'

A config file (node.yaml):
  listen: [/ip4/0.0.0.0/tcp/4001]
  lattice-key: /etc/wasmesh/lattice.key
  trust-file: /etc/wasmesh/trust.yaml
  allow-peer: [12D3KooW...]
  bootstrap: [/ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...]
  component: [upper=examples/build/upper.wasm]
  grant: ["upper:env=LANG"]
  config-value: {upper: {greeting: hello}}
  secret: {upper: {token: "env:API_TOKEN"}}
  inline: [upper]
  label: {zone: eu-1}
  drain-timeout: 5000
  http: 127.0.0.1:8080
  http-route: ["path=/api=name=api", "default=any"]
  limits:
    maxInboundStreams: 64
    maxInboundBufferedBytesPerNode: 128MiB
    idleTimeoutMs: 10s
    maxInstanceMemoryBytes: 256MiB`

/** Every limit's name with its default, wrapped to the help's column. */
function limitHelp (): string {
  const items = [...limitCatalog.values()].map(l => `${l.name} (${l.default === undefined ? 'derived' : formatLimit(l.unit, l.default)})`)
  const lines: string[] = []
  let line = ''
  for (const item of items) {
    if (line !== '' && line.length + item.length + 2 > 62) { lines.push(line + ','); line = '' }
    line = line === '' ? item : `${line}, ${item}`
  }
  if (line !== '') lines.push(line)
  return lines.map(l => `${' '.repeat(28)}${l}`).join('\n')
}

/** `$XDG_DATA_HOME/wasmesh`, else `~/.local/share/wasmesh`. */
export function defaultDataDir (env: CommandContext['env']): string {
  const xdg = env.XDG_DATA_HOME
  return xdg !== undefined && isAbsolute(xdg) ? join(xdg, 'wasmesh') : join(homedir(), '.local', 'share', 'wasmesh')
}

/** Flags, the environment and the config file, in that order of precedence; labels merge key by key. */
async function settingsOf (argv: string[], ctx: CommandContext): Promise<NodeSettings> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    allowNegative: true,
    options: {
      listen: { type: 'string', multiple: true },
      announce: { type: 'string', multiple: true },
      bootstrap: { type: 'string', multiple: true },
      component: { type: 'string', multiple: true },
      'oci-insecure': { type: 'string', multiple: true },
      grant: { type: 'string', multiple: true },
      inline: { type: 'string', multiple: true },
      label: { type: 'string', multiple: true },
      lattice: { type: 'string' },
      'data-dir': { type: 'string' },
      'cache-dir': { type: 'string' },
      config: { type: 'string' },
      metrics: { type: 'string' },
      console: { type: 'string' },
      'drain-timeout': { type: 'string' },
      'demo-host': { type: 'boolean' },
      relay: { type: 'boolean' },
      mdns: { type: 'boolean' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      provider: { type: 'string', multiple: true },
      'provider-config': { type: 'string', multiple: true },
      'provider-secret': { type: 'string', multiple: true },
      link: { type: 'string', multiple: true },
      limit: { type: 'string', multiple: true },
      'require-signed': { type: 'boolean' },
      'trust-key': { type: 'string', multiple: true },
      'lattice-key': { type: 'string' },
      'allow-peer': { type: 'string', multiple: true },
      'trust-file': { type: 'string' },
      'member-cert': { type: 'string' },
      'trust-admin': { type: 'string', multiple: true },
      policy: { type: 'string' },
      'config-value': { type: 'string', multiple: true },
      'component-limit': { type: 'string', multiple: true },
      secret: { type: 'string', multiple: true },
      messaging: { type: 'boolean' },
      control: { type: 'boolean' },
      subscribe: { type: 'string', multiple: true },
      http: { type: 'string' },
      'http-route': { type: 'string', multiple: true }
    }
  })
  if (positionals.length > 0) throw new CliError('usage', `node takes no arguments (got ${JSON.stringify(positionals[0])}); components are given with --component <file.wasm>`)
  const file: NodeSettings = values.config === undefined ? {} : await loadConfigFile(values.config)
  const cwd = process.cwd()
  const some = <T>(list: T[] | undefined): T[] | undefined => list !== undefined && list.length > 0 ? list : undefined
  const flags: NodeSettings = {
    listen: some(values.listen)?.map(a => flag('listen', () => parseMultiaddrArg(a))),
    announce: some(values.announce)?.map(a => flag('announce', () => parseMultiaddrArg(a))),
    component: some(values.component)?.map(c => flag('component', () => parseComponentArg(c, cwd))),
    ociInsecure: some(values['oci-insecure'])?.map(h => flag('oci-insecure', () => parseRegistryHostArg(h))),
    grant: some(values.grant)?.map(g => flag('grant', () => parseGrantArg(g, cwd))),
    inline: some(values.inline)?.map(n => flag('inline', () => parseInlineArg(n))),
    lattice: values.lattice === undefined ? undefined : flag('lattice', () => parseLatticeArg(values.lattice as string)),
    dataDir: values['data-dir'] === undefined ? undefined : resolvePath(values['data-dir'], cwd),
    cacheDir: values['cache-dir'] === undefined ? undefined : resolvePath(values['cache-dir'], cwd),
    metrics: values.metrics === undefined ? undefined : flag('metrics', () => parseHostPortArg(values.metrics as string)),
    console: values.console === undefined ? undefined : values.console === 'auto' ? 'auto' : flag('console', () => parseHostPortArg(values.console as string)),
    drainTimeoutMs: values['drain-timeout'] === undefined ? undefined : flag('drain-timeout', () => parseMsArg(values['drain-timeout'] as string)),
    logLevel: values['log-level'] === undefined ? undefined : logLevelOf(values['log-level'], 'info'),
    logFormat: logFormatOf(values['log-format']),
    demoHost: values['demo-host'],
    relay: values.relay,
    mdns: values.mdns,
    provider: some(values.provider)?.map(p => flag('provider', () => parseProviderArg(p))),
    link: some(values.link)?.map(l => flag('link', () => parseLinkArg(l))),
    requireSigned: values['require-signed'],
    trustKey: some(values['trust-key'])?.map(k => resolvePath(k, cwd)),
    latticeKey: values['lattice-key'] === undefined ? undefined : resolvePath(values['lattice-key'], cwd),
    allowPeer: some(values['allow-peer'])?.map(p => flag('allow-peer', () => parseAllowPeerArg(p))),
    trustFile: values['trust-file'] === undefined ? undefined : resolvePath(values['trust-file'], cwd),
    memberCert: values['member-cert'] === undefined ? undefined : resolvePath(values['member-cert'], cwd),
    trustAdmin: some(values['trust-admin'])?.map(f => resolvePath(f, cwd)),
    policy: values.policy === undefined ? undefined : resolvePath(values.policy, cwd),
    configValue: some(values['config-value'])?.map(c => flag('config-value', () => parseComponentSetting(c, 'config-value'))),
    secret: some(values.secret)?.map(c => flag('secret', () => parseComponentSetting(c, 'secret'))),
    componentLimit: some(values['component-limit'])?.map(c => flag('component-limit', () => parseComponentLimitArg(c))),
    messaging: values.messaging,
    control: values.control,
    subscribe: some(values.subscribe)?.map(t => flag('subscribe', () => parseSubscribeArg(t))),
    http: values.http === undefined ? undefined : values.http === 'auto' ? 'auto' : flag('http', () => parseHostPortArg(values.http as string)),
    httpRoute: some(values['http-route'])?.map(r => flag('http-route', () => parseHttpRouteArg(r)))
  }
  const merged: Record<string, unknown> = { ...file }
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) merged[k] = v
  const labels = { ...file.label, ...labelsOf(values.label) }
  merged.label = labels
  merged.limits = { ...file.limits, ...limitFlagsOf(values.limit) }
  merged.bootstrap = bootstrapOf(values.bootstrap, ctx.env) ?? file.bootstrap
  // the flag, else the environment, else the file's key
  merged.latticeKey = flags.latticeKey ?? latticeKeyFileOf(undefined, ctx.env) ?? file.latticeKey
  // Provider settings apply to the providers in effect: the file's settings, then the flags'.
  merged.provider = flag('provider-config', () => withSettings(
    (merged.provider as NodeSettings['provider']) ?? [],
    [...(file.providerConfig ?? []), ...(values['provider-config'] ?? [])],
    [...(file.providerSecret ?? []), ...(values['provider-secret'] ?? [])]
  ))
  return merged as NodeSettings
}

/**
 * The default address taken falls back to a free port; a taken address the user asked for is an
 * error. With no --listen, loopback only unless the lattice is private.
 */
async function listenAddresses (settings: NodeSettings, ctx: CommandContext, privateLattice: boolean): Promise<string[]> {
  if (settings.listen === undefined || settings.listen.length === 0) {
    const fallback = privateLattice ? defaultPrivateListen : defaultListen
    if (!await portTaken(fallback)) return [fallback]
    ctx.err(`notice: port 4001 is in use (another wasmesh node?), so this node listens on a free port instead: use the addresses printed under 'listening on:', or choose one with --listen ${fallback.replace('4001', '<port>')}`)
    return [fallback.replace('/tcp/4001', '/tcp/0')]
  }
  for (const a of settings.listen) {
    if (await portTaken(a)) throw new CliError('address-in-use', `cannot listen on ${a}: the address is in use (another wasmesh node?); pick another port, or tcp/0 for a free one`)
  }
  return [...settings.listen]
}

async function componentSpecs (settings: NodeSettings, ctx: CommandContext): Promise<ComponentSpec[]> {
  const components = settings.component ?? []
  const names = new Set<string>()
  for (const c of components) {
    if (names.has(c.name)) throw new CliError('usage', `two components are named ${c.name}: name them with --component <name>=<file.wasm>`)
    names.add(c.name)
    // a reference (OCI, digest) is the node's to resolve: its cache, peers, the registry
    if (c.remote === true) continue
    try {
      if (!(await stat(c.file)).isFile()) throw new Error('not a file')
    } catch {
      throw new CliError('file-not-found', `component ${c.name}: no file ${c.file}`)
    }
  }
  const grants = flag('grant', () => grantsByComponent(settings.grant ?? [], ctx.env))
  for (const name of grants.keys()) {
    if (!names.has(name)) throw new CliError('usage', `--grant ${name}:...: no component is named ${name} (components: ${[...names].join(', ') || 'none'})`)
  }
  const inline = new Set(settings.inline ?? [])
  for (const name of inline) {
    if (!names.has(name)) throw new CliError('usage', `--inline ${name}: no component is named ${name} (components: ${[...names].join(', ') || 'none'})`)
  }
  const byComponent = (what: 'config-value' | 'secret', list: NodeSettings['configValue']): Map<string, Record<string, string>> => {
    const out = new Map<string, Record<string, string>>()
    for (const s of list ?? []) {
      if (!names.has(s.component)) throw new CliError('usage', `--${what} ${s.component}:${s.key}=...: no component is named ${s.component} (components: ${[...names].join(', ') || 'none'})`)
      let m = out.get(s.component)
      if (m === undefined) out.set(s.component, m = {})
      m[s.key] = s.value
    }
    return out
  }
  for (const sub of settings.subscribe ?? []) {
    if (!names.has(sub.component)) throw new CliError('usage', `--subscribe ${sub.component}=${sub.subject}: no component is named ${sub.component} (components: ${[...names].join(', ') || 'none'})`)
  }
  const config = byComponent('config-value', settings.configValue)
  const componentLimits = new Map<string, Record<string, number>>()
  for (const l of settings.componentLimit ?? []) {
    if (!names.has(l.component)) throw new CliError('usage', `--component-limit ${l.component}:${l.name}=...: no component is named ${l.component} (components: ${[...names].join(', ') || 'none'})`)
    let m = componentLimits.get(l.component)
    if (m === undefined) componentLimits.set(l.component, m = {})
    m[l.name] = l.value
  }
  const secrets = byComponent('secret', settings.secret)
  return components.map(c => ({
    source: c.file,
    name: c.name,
    grants: grants.get(c.name),
    isolation: inline.has(c.name) ? 'inline' : 'worker',
    ...(config.has(c.name) ? { config: config.get(c.name) } : {}),
    ...(secrets.has(c.name) ? { secrets: secrets.get(c.name) } : {}),
    ...(componentLimits.has(c.name) ? { limits: componentLimits.get(c.name) } : {})
  }))
}

/** `--require-signed` with its `--trust-key`s; trust keys alone would silently check nothing, so they need it. */
async function trustOf (settings: NodeSettings): Promise<{ keys: KeyObject[] } | undefined> {
  const files = settings.trustKey ?? []
  if (settings.requireSigned !== true) {
    // --no-require-signed turns off a config file's require-signed, trust keys and all
    if (settings.requireSigned === undefined && files.length > 0) throw new CliError('usage', '--trust-key is given without --require-signed, so no signature would be checked: add --require-signed (config: require-signed: true)')
    return undefined
  }
  if (files.length === 0) throw new CliError('usage', '--require-signed needs at least one --trust-key <key.pub> (wasmesh key public <signing.key> makes one)')
  return { keys: await trustKeysOf(files) }
}

/** Addresses for other machines first; loopback ones only work on this machine. */
function orderedAddresses (node: MeshNode): string[] {
  const all = node.addresses()
  return [...all.filter(a => !isLoopbackAddress(a)), ...all.filter(isLoopbackAddress)]
}

/** What the banner says under the addresses of a node on the safe default (loopback, no lattice key): how to open it up. */
export const loopbackOnlyNote = [
  'loopback only: other machines cannot reach this node. To open it to them, start every node of the lattice',
  `with a lattice key (wasmesh key new --out lattice.key, then --lattice-key lattice.key: it listens on every`,
  'interface and only key holders get in), or give --listen /ip4/0.0.0.0/tcp/4001 on a network where every host is trusted.'
]

/** How peers can reach this node, and what it offers those that cannot be reached. */
function reachabilityLines (node: MeshNode): string[] {
  const stats = node.stats()
  const lines: string[] = []
  if (stats.reachability === 'private' && !node.addresses().every(a => isLoopbackAddress(a))) {
    lines.push('reachability: private addresses only: peers on this network can dial it; others reach it through a relay, once one is connected')
  } else if (stats.reachability === 'public') {
    lines.push('reachability: public address (AutoNAT confirms it once peers have dialled it back; see wasmesh mesh)')
  } else if (stats.reachability === 'relayed') {
    lines.push('reachability: through a relay')
  }
  if (stats.relayReservations !== undefined) lines.push('relay: offered to members behind NAT (--no-relay to turn off)')
  return lines
}

function startLines (node: MeshNode, providers: readonly Provider[], ops: OpsServer | undefined, demoHost: boolean, env: CommandContext['env'], opts: { loopbackOnly: boolean, latticeKeyFile?: string, subscriptions?: readonly SubscribeArg[], consoleUrl?: string, control?: 'open' | 'policy' }): string[] {
  const subscriptions = opts.subscriptions ?? []
  const addresses = orderedAddresses(node)
  const lines = [`peer id: ${node.peerId}`, `lattice: ${node.lattice}${opts.latticeKeyFile !== undefined ? ' (private: lattice key required)' : ''}`, 'listening on:', ...addresses, '']
  if (opts.loopbackOnly) lines.push(...loopbackOnlyNote, '')
  lines.push('serving:')
  const served: Interface[] = []
  for (const c of node.components()) {
    const where = c.isolation === 'inline' ? ' (inline)' : ''
    for (const i of c.exports.interfaces) { lines.push(`  ${i.id}  ${c.name}${where}`); served.push(i) }
    for (const f of c.exports.functions) lines.push(`  ${f.name}()  ${c.name} (a world function: callable in-process only, the mesh serves interfaces)`)
    if (c.http !== undefined) lines.push(`  ${HTTP_HANDLER_IFACE}  ${c.name}${where} (HTTP: its ${c.http}, for any gateway)`)
  }
  for (const p of providers) for (const i of p.service.interfaces) { lines.push(`  ${i.id}  ${p.service.name} (provider)`); served.push(i) }
  if (demoHost) lines.push(`  ${demoHostInterface}  built in (--no-demo-host to turn off)`)
  if (node.components().length === 0 && providers.length === 0 && !demoHost) lines.push('  nothing (give --component <file.wasm>)')
  const messaging = node.stats().messaging
  if (messaging !== undefined) lines.push(`messaging: on (wasmcloud:messaging@0.2.0 over the lattice's gossip)${subscriptions.length > 0 ? `, subscribed: ${subscriptions.map(s => `${s.component}=${s.subject}`).join(', ')}` : ''}`)
  if (opts.control !== undefined) lines.push(opts.control === 'open' ? 'control: every peer of the lattice may use this node\'s control interface (--control)' : 'control: as the policy\'s rules allow (--control applies only without a policy)')
  lines.push(...reachabilityLines(node))
  if (ops !== undefined) lines.push(`metrics: ${ops.url}/metrics (and /healthz, /readyz)`)
  if (opts.consoleUrl !== undefined) lines.push(`console: ${opts.consoleUrl}/ (read-only, live)`)
  const http = node.httpUrl()
  if (http !== undefined) {
    lines.push(`http: ${http} (requests go to components exporting wasi:http/incoming-handler, local first)`)
    lines.push('try it from another terminal:', `curl ${http}/`)
  }
  const call = exampleCall(served) ?? (demoHost ? `${demoHostInterface}#log("hello")` : undefined)
  if (call !== undefined && addresses.length > 0) {
    const lattice = node.lattice === 'default' ? '' : ` --lattice ${node.lattice}`
    const key = opts.latticeKeyFile !== undefined ? ` --lattice-key ${opts.latticeKeyFile}` : ''
    lines.push('call it from another terminal:', `${commandLine(env)} call '${call}' --bootstrap ${addresses[0]}${lattice}${key}`)
  }
  return lines
}

/** Who a `log` came from: another peer, or this node's component importing the host (named when only one does). */
function logCaller (node: MeshNode, caller: string): string {
  if (caller !== node.peerId) return `peer ${caller}`
  const importers = node.components().filter(c => c.imports.interfaces.some(i => i.id.startsWith(demoHostInterface)))
  return importers.length === 1 ? importers[0].name : importers.length === 0 ? 'this node' : `one of ${importers.map(c => c.name).join(', ')}`
}

/**
 * Logs peers joining and leaving at info; short-lived clients (`wasmesh call`, `wasmesh mesh`, whose adverts
 * say so) at debug, since a busy mesh sees many of them and each would be two lines on every node.
 */
function watchPeers (node: MeshNode, log: Logger): () => void {
  // clients seen and not gone yet: a withdrawn advert no longer says what it was (as many as the registry holds)
  const clients = new Set<string>()
  return node.on('change', change => {
    if (change.kind !== 'peer') return
    if (change.change === 'new') {
      const view = node.peer(change.peer)
      if (view?.client === true) {
        clients.add(change.peer)
        log.debug(`client ${change.peer} joined`)
        return
      }
      const serves = view?.exports.map(e => e.iface) ?? []
      log.info(`peer ${change.peer} joined${serves.length > 0 ? `, serving ${serves.join(', ')}` : ''}`)
      return
    }
    if (change.change === 'updated') return
    const client = clients.delete(change.peer)
    const what = `${client ? 'client' : 'peer'} ${change.peer}`
    const line = change.change === 'withdrawn' ? `${what} left` : change.change === 'expired' ? `${what} expired: no advert within its TTL` : undefined
    if (line === undefined) return
    if (client) log.debug(line)
    else log.info(line)
  })
}

export async function nodeCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const settings = await settingsOf(argv, ctx)
  // the console's log tail sees every line the node logs, from its start
  const logTail = settings.console === undefined ? undefined : createLogTail()
  const log = loggerOf(ctx, settings.logLevel ?? 'info', settings.logFormat, logTail?.tap)
  log.debug(`settings: ${JSON.stringify(settings)}`)
  // checked together before anything starts (a stream window past the read buffer, wherever each came from)
  const limits = limitInits(settings.limits ?? {})
  const components = await componentSpecs(settings, ctx)
  const trust = await trustOf(settings)
  // refused before anything listens: a key that is missing, readable by others or not a lattice key
  const latticeKey = await latticeKeyOf(settings.latticeKey, {})
  const listen = await listenAddresses(settings, ctx, latticeKey !== undefined)
  warnIfOpen(ctx, listen, latticeKey !== undefined)
  const metrics = settings.metrics === undefined && settings.console === undefined ? undefined : createMetrics()
  const security = await securityInit(settings)
  const node = await createNode({
    latticeKey,
    allowPeers: settings.allowPeer,
    trustFile: settings.trustFile,
    dataDir: settings.dataDir ?? defaultDataDir(ctx.env),
    cacheDir: settings.cacheDir,
    listen,
    announce: settings.announce,
    bootstrap: settings.bootstrap,
    lattice: settings.lattice,
    labels: settings.label,
    ...(settings.relay !== undefined ? { relay: settings.relay } : {}),
    // on a LAN with a lattice key, members find each other without a bootstrap address (an open lattice is not announced)
    mdns: settings.mdns ?? (latticeKey !== undefined && !loopbackOnly(listen) && !listensPublicly(listen)),
    components,
    artifacts: { insecure: settings.ociInsecure, credentials: ociCredentialsOf(ctx.env) },
    links: settings.link,
    trust,
    ...(settings.control === true ? { control: { open: true } } : {}),
    ...(settings.messaging === true || (settings.subscribe?.length ?? 0) > 0 ? { messaging: { subscriptions: settings.subscribe ?? [] } } : {}),
    logger: log,
    observer: metrics?.observer,
    ...security,
    ...(settings.http !== undefined ? { http: { listen: await httpListen(settings.http, ctx), routes: settings.httpRoute } } : {}),
    ...limits
  }).catch((err: unknown) => { throw asKeyError(err) })
  const stop = stopRequests(ctx, () => { ctx.err('second signal: exiting at once') })
  // SIGHUP re-reads the trust file; only with one (without, SIGHUP keeps ending the process as it always did)
  const onHangUp = (): void => { void node.reloadTrust() }
  if (settings.trustFile !== undefined && ctx.signal === undefined) process.on('SIGHUP', onHangUp)
  let running = false
  let ops: OpsServer | undefined
  let consoleServer: ConsoleServer | undefined
  let unwatch: (() => void) | undefined
  let lonely: ReturnType<typeof setTimeout> | undefined
  let providers: Provider[] = []
  const unwatchPolicy = settings.policy === undefined ? undefined : reloadPolicyOnHangUp(node, settings.policy, log)
  try {
    if (settings.metrics !== undefined) {
      const colon = settings.metrics.lastIndexOf(':')
      try {
        ops = await startOpsServer({
          node,
          host: settings.metrics.slice(0, colon).replace(/^\[|\]$/g, ''),
          port: Number(settings.metrics.slice(colon + 1)),
          metrics,
          ready: () => running,
          bootstrap: (settings.bootstrap?.length ?? 0) > 0,
          components: components.length,
          logger: log.child('ops')
        })
      } catch (err) {
        throw new CliError('address-in-use', `cannot serve metrics on ${settings.metrics}: ${(err as Error).message}`, { cause: err })
      }
    }
    if (settings.console !== undefined) {
      const at = await consoleListen(settings.console, ctx)
      const colon = at.lastIndexOf(':')
      try {
        consoleServer = await startConsoleServer({
          node,
          host: at.slice(0, colon).replace(/^\[|\]$/g, ''),
          port: Number(at.slice(colon + 1)),
          limits: defaultConsoleLimits,
          metrics,
          logTail,
          version: packageVersion(),
          logger: log.child('console')
        })
      } catch (err) {
        throw new CliError('address-in-use', `cannot serve the console on ${settings.console}: ${(err as Error).message}`, { cause: err })
      }
    }
    unwatch = watchPeers(node, log)
    try {
      await node.start()
    } catch (err) {
      // A failed start stops what it had started: nothing of it keeps the process alive.
      const e = err as { code?: unknown, message?: string }
      if (typeof e.code === 'string') throw err
      throw new CliError('start-failed', `the node did not start: ${e.message ?? String(err)}`, { cause: err })
    }
    providers = await startProviders(node, settings.provider ?? [], { log: log.child('provider'), dataDir: settings.dataDir ?? defaultDataDir(ctx.env) })
    const demoHost = settings.demoHost !== false
    if (demoHost) node.serve(createDemoHost({ onLog: (message, caller) => { log.info(`log from ${logCaller(node, caller)}: ${message}`) } }))
    running = true
    const loopbackOnly = latticeKey === undefined && (settings.listen === undefined || settings.listen.length === 0)
    // One write: whoever reads the banner through a pipe gets it whole once the addresses show, not line by line.
    ctx.out(startLines(node, providers, ops, demoHost, ctx.env, { loopbackOnly, latticeKeyFile: latticeKey === undefined ? undefined : settings.latticeKey, subscriptions: settings.subscribe, consoleUrl: consoleServer?.url, control: settings.control !== true ? undefined : settings.policy === undefined ? 'open' : 'policy' }).join('\n'))
    if ((settings.bootstrap?.length ?? 0) > 0) {
      lonely = setTimeout(() => {
        if (node.connections().length === 0) log.warn(`not connected to any bootstrap peer yet (${settings.bootstrap?.join(', ')}); retrying in the background: check the addresses and that those nodes are up`)
      }, 10_000)
    }

    const why = await stop.requested
    running = false
    const drainMs = settings.drainTimeoutMs ?? defaultDrainTimeoutMs
    log.info(`${why === 'abort' ? 'stop requested' : why}: withdrawing adverts, finishing calls in flight (up to ${drainMs} ms); press Ctrl-C again to exit at once`)
    clearTimeout(lonely)
    await node.stop({ drainTimeoutMs: drainMs })
    await Promise.allSettled(providers.map(async p => { await p.stop() }))
    log.info('stopped')
    return 0
  } finally {
    clearTimeout(lonely)
    unwatch?.()
    unwatchPolicy?.()
    // idempotent: also releases the data directory's lock of a node that never started
    await node.stop().catch(() => {})
    await Promise.allSettled(providers.map(async p => { await p.stop() }))
    await ops?.close().catch(() => {})
    await consoleServer?.close().catch(() => {})
    process.off('SIGHUP', onHangUp)
    stop.dispose()
  }
}
