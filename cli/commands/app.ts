// `wasmesh app deploy|undeploy|list|status|history`: applications from wadm manifests, through a short-lived client of the mesh.

import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { parseLatticeArg } from '../config.ts'
import { startClient } from '../client.ts'
import type { Client } from '../client.ts'
import type { CommandContext } from '../context.ts'
import { CliError } from '../errors.ts'
import { bootstrapOf, clientFlags, flag, latticeKeyOf, logFormatOf, logLevelOf, loggerOf, positiveMsOf } from '../options.ts'
import { clientMemberCertOf } from '../security.ts'
import { AppError, defaultManifestLimits, parseManifest } from '../../node/apps/index.ts'
import type { AppStatus, AppVersion, DeployResult } from '../../node/apps/index.ts'

export const appHelp = `Usage: wasmesh app <deploy|undeploy|list|status|history> [args] --bootstrap <multiaddr> [options]

Applications from wadm (wasmCloud 1.x) manifests, run with no leader: a deploy
signs the manifest with the client's key and sends it to the nodes, which pass
it on to every node; each node computes the same placement and runs its share.

  app deploy <manifest.yaml>  sign and deploy (a new version of) the app; file://
                              images resolve from the manifest's folder
  app undeploy <name>         a signed tombstone: every node stops the app's replicas
  app list                    every app the mesh holds, with its version
  app status <name>           per component: desired vs running replicas, and why
                              any are missing
  app history <name>          the app's versions, oldest first

Options:
  --bootstrap <multiaddr>  a node of the mesh (repeatable; default $WASMESH_BOOTSTRAP)
  --data-dir <dir>         the deployer's identity (identity.key) lives here: a policy names
                           who may deploy by peer id (default: a fresh identity per run)
  --member-cert <file>     the member certificate of that identity
  --lattice <name>         (default "default")
  --lattice-key <file>     the key of a private lattice (default $WASMESH_LATTICE_KEY_FILE)
  --wait                   deploy/undeploy: wait until every component runs its desired
                           replicas (or none run, for an undeploy)
  --json                   JSON instead of tables
  --timeout <ms>           how long to wait for the mesh (and --wait) (default 30000)
  --log-level <level>      (default warn)
  --log-format <fmt>       text or json

Examples:
  wasmesh app deploy examples/apps/http-counter.wadm.yaml --bootstrap /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW... --wait
  wasmesh app status http-counter --bootstrap /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...`

function table (rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => (r[i] ?? '').length)))
  return rows.map(r => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i])).join('  ').trimEnd()).join('\n')
}

function formatVersions (versions: readonly AppVersion[]): string {
  if (versions.length === 0) return 'no apps'
  return table([['APP', 'VERSION', 'STATE', 'DEPLOYED', 'BY', 'ID'], ...versions.map(v => [v.app, v.version, v.kind === 'deploy' ? 'deployed' : 'undeployed', v.deployedAt, v.deployer, v.id])])
}

export function formatStatus (s: AppStatus): string {
  const head = `app ${s.app} ${s.version.version} (${s.version.id}): ${s.state}`
  if (s.components.length === 0) return head
  const rows = [['COMPONENT', 'TYPE', 'RUNNING', 'IMAGE', 'WHY NOT ALL']]
  for (const c of s.components) {
    const prev = c.previous > 0 ? ` (+${c.previous} old)` : ''
    rows.push([c.name, c.type, `${c.running}/${c.desired}${prev}`, c.image, c.reasons.join('; ') || '-'])
  }
  return `${head}\n\n${table(rows)}`
}

function formatDeploy (r: DeployResult): string {
  const refused = r.refused.map(x => `\n  refused by ${x.peer}: [${x.code}] ${x.message}`).join('')
  return `${r.version.kind === 'deploy' ? 'deployed' : 'undeployed'} ${r.version.app} ${r.version.version} (${r.version.id}): taken by ${r.accepted.length} node${r.accepted.length === 1 ? '' : 's'}${refused}`
}

export async function appCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...clientFlags,
      wait: { type: 'boolean' }
    }
  })
  const [sub, arg, ...extra] = positionals
  const needsArg = sub === 'deploy' || sub === 'undeploy' || sub === 'status' || sub === 'history'
  if (sub === undefined || !(needsArg || sub === 'list')) throw new CliError('usage', `app needs one of deploy, undeploy, list, status, history\n\n${appHelp}`)
  if (needsArg && arg === undefined) throw new CliError('usage', `app ${sub} needs ${sub === 'deploy' ? 'a manifest file' : 'an app name'}\n\n${appHelp}`)
  if (extra.length > 0 || (sub === 'list' && arg !== undefined)) throw new CliError('usage', `app ${sub}: unexpected argument ${JSON.stringify(extra[0] ?? arg)}`)
  const bootstrap = bootstrapOf(values.bootstrap, ctx.env)
  if (bootstrap === undefined) throw new CliError('usage', `give a node of the mesh with --bootstrap <multiaddr> (or WASMESH_BOOTSTRAP)\n\n${appHelp}`)
  const timeoutMs = positiveMsOf('timeout', values.timeout, 30_000)
  const lattice = values.lattice === undefined ? undefined : flag('lattice', () => parseLatticeArg(values.lattice as string))
  const json = values.json === true

  // Read (and bounded) before joining anything: a missing or huge file fails at once.
  let manifest: string | undefined
  let baseDir: string | undefined
  if (sub === 'deploy') {
    const file = resolve(arg as string)
    let bytes: Buffer
    try {
      bytes = await readFile(file)
    } catch (err) {
      throw new CliError('file-not-found', `cannot read the manifest ${file}: ${(err as Error).message}`)
    }
    if (bytes.byteLength > defaultManifestLimits.maxAppManifestBytes) throw new AppError('manifest-too-large', `${file} is ${bytes.byteLength} bytes, over maxAppManifestBytes (${defaultManifestLimits.maxAppManifestBytes})`)
    manifest = bytes.toString('utf8')
    baseDir = dirname(file)
    // Checked here first: a manifest no node would take fails before the mesh is joined.
    parseManifest(manifest, { baseDir })
  }

  const latticeKey = await latticeKeyOf(values['lattice-key'], ctx.env)
  const logger = loggerOf(ctx, logLevelOf(values['log-level'], 'warn'), logFormatOf(values['log-format']))
  const client = await startClient({ bootstrap, lattice, latticeKey, identityDir: values['data-dir'] === undefined ? undefined : resolve(values['data-dir']), memberCert: await clientMemberCertOf(values['member-cert'], values['data-dir']), logger })
  try {
    const deadline = performance.now() + timeoutMs
    if (!await client.until(() => client.synced(), deadline, ctx.signal)) {
      throw client.unreachable(timeoutMs) ?? new CliError('sync-timeout', `no node of lattice ${client.node.lattice} sent its view within ${timeoutMs} ms`)
    }
    await client.settle(() => false, ctx.signal)
    const apps = client.node.apps
    await apps.refresh()
    const out = (value: unknown, text: string): void => { ctx.out(json ? JSON.stringify(value, null, 2) : text) }
    switch (sub) {
      case 'deploy':
      case 'undeploy': {
        const r = sub === 'deploy' ? await apps.deploy(manifest as string, { baseDir }) : await apps.undeploy(arg as string)
        if (r.accepted.length === 0) {
          const why = r.refused[0]
          if (why !== undefined) throw new AppError(why.code as AppError['code'], `no node took the ${sub}: ${why.peer} refused it: ${why.message}`)
          throw new AppError('not-delivered', `no node took the ${sub}: none was connected`)
        }
        if (values.wait === true) await waitSettled(client, r.version.app, sub, deadline, ctx.signal)
        out(r, formatDeploy(r))
        return 0
      }
      case 'list':
        out(apps.list(), formatVersions(apps.list()))
        return 0
      case 'status': {
        const s = apps.status(arg as string)
        out(s, formatStatus(s))
        return 0
      }
      case 'history': {
        const h = apps.history(arg as string)
        if (h.length === 0) throw new AppError('no-such-app', `no app named ${arg as string} is known (app list shows them)`)
        out(h, formatVersions(h))
        return 0
      }
    }
    return 0
  } finally {
    await client.stop()
  }
}

/** Waits on the adverts until the app runs everything it asks for (deploy) or nothing (undeploy). */
async function waitSettled (client: Client, app: string, sub: 'deploy' | 'undeploy', deadline: number, signal?: AbortSignal): Promise<void> {
  const done = (): boolean => {
    const s = client.node.apps.status(app)
    return sub === 'deploy' ? s.state === 'deployed' : client.node.peers().every(p => !(p.apps ?? '').split(' ').some(e => e.startsWith(`${app}/`)))
  }
  if (!await client.until(done, deadline, signal)) {
    const s = client.node.apps.status(app)
    throw new CliError('sync-timeout', `the app did not settle in time:\n${formatStatus(s)}`)
  }
}
