// Sites behind real NAT for the system tests: a "public" segment with a bridge, and per site a router namespace that masquerades its LAN.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { ip } from './netns.ts'

const run = promisify(execFile)

/**
 * The "public" segment: a globally routable range, so that libp2p and AutoNAT treat it as public, which
 * exists only inside the test's namespaces (nothing routes to or from the host's network).
 */
export const publicSubnet = '11.99.0'

/** `cone`: masquerade keeping ports where it can; `symmetric`: a random port per connection (`fully-random`). */
export type NatKind = 'cone' | 'symmetric'

export interface SiteSpec {
  readonly name: string
  /** The site's private range, `10.x.0` or `192.168.x`: its host is `.2`, its router `.1`. */
  readonly lan: string
  readonly nat: NatKind
}

export interface NatLab {
  /** Command prefix running inside a namespace: a public host (`publicHosts`) or a site's host. */
  prefix (name: string): readonly string[]
  /** The address of a public host, or of a site's host on its LAN. */
  address (name: string): string
  /** The router's address on the public segment (what the site's host looks like from outside). */
  routerAddress (site: string): string
  /** Connection tracking of a site's router, for failure messages. */
  conntrack (site: string): Promise<string>
  destroy (): Promise<void>
}

async function inNs (ns: string, cmd: string, args: string[]): Promise<string> {
  try {
    return (await run('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: 10_000 })).stdout
  } catch (err) {
    const e = err as { stderr?: string, message: string }
    throw new Error(`${cmd} ${args.join(' ')} in ${ns}: ${e.stderr?.trim() || e.message}`, { cause: err })
  }
}

/** Why NAT cannot be set up here (needs root, iproute2 and nft), or undefined. */
export async function natUnavailable (): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'network namespaces are Linux only'
  if (process.getuid?.() !== 0) return 'network namespaces need root (CI runs as root)'
  for (const [cmd, flag, pkg] of [['ip', '-V', 'iproute2'], ['nft', '--version', 'nftables']]) {
    try {
      await run(cmd, [flag])
    } catch {
      return `\`${cmd}\` is not installed: apt-get install -y ${pkg}`
    }
  }
  return undefined
}

/** Public hosts `publicHosts[i]` at 11.99.0.(i+1); site routers at 11.99.0.(101+j); each site's host behind its router. */
export async function createNatLab (publicHosts: readonly string[], sites: readonly SiteSpec[]): Promise<NatLab> {
  const id = randomBytes(3).toString('hex')
  const created: string[] = []
  const nsOf = new Map<string, string>()
  const addressOf = new Map<string, string>()
  const routers = new Map<string, { ns: string, address: string }>()
  const add = async (ns: string): Promise<void> => { await ip('netns', 'add', ns); created.push(ns) }
  const destroy = async (): Promise<void> => {
    const all = created.splice(0)
    await Promise.all(all.map(async ns => { await ip('netns', 'delete', ns).catch(() => {}) }))
  }
  try {
    const wan = `wm${id}-wan`
    await add(wan)
    await ip('-n', wan, 'link', 'add', 'br0', 'type', 'bridge')
    await ip('-n', wan, 'link', 'set', 'br0', 'up')
    let port = 0
    const attach = async (ns: string, dev: string, address: string): Promise<void> => {
      const veth = `wm${id}p${port++}`
      await ip('-n', wan, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', dev, 'netns', ns)
      await ip('-n', wan, 'link', 'set', veth, 'master', 'br0')
      await ip('-n', wan, 'link', 'set', veth, 'up')
      await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', dev)
      await ip('-n', ns, 'link', 'set', dev, 'up')
      await ip('-n', ns, 'link', 'set', 'lo', 'up')
    }
    for (const [i, name] of publicHosts.entries()) {
      const ns = `wm${id}-${name}`
      await add(ns)
      await attach(ns, 'eth0', `${publicSubnet}.${i + 1}`)
      nsOf.set(name, ns)
      addressOf.set(name, `${publicSubnet}.${i + 1}`)
    }
    for (const [j, site] of sites.entries()) {
      const router = `wm${id}-r${site.name}`
      const host = `wm${id}-${site.name}`
      await add(router)
      await add(host)
      const wanAddress = `${publicSubnet}.${101 + j}`
      await attach(router, 'wan', wanAddress)
      await ip('-n', router, 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host)
      await ip('-n', router, 'addr', 'add', `${site.lan}.1/24`, 'dev', 'lan')
      await ip('-n', router, 'link', 'set', 'lan', 'up')
      await ip('-n', host, 'addr', 'add', `${site.lan}.2/24`, 'dev', 'eth0')
      await ip('-n', host, 'link', 'set', 'eth0', 'up')
      await ip('-n', host, 'link', 'set', 'lo', 'up')
      await ip('-n', host, 'route', 'add', 'default', 'via', `${site.lan}.1`)
      await inNs(router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
      // outbound masqueraded; nothing inbound but the answers to what went out (no port forwarding)
      const masquerade = site.nat === 'symmetric' ? 'masquerade fully-random' : 'masquerade'
      const rules = [
        'table ip nat {',
        '  chain post { type nat hook postrouting priority 100; oifname "wan" ' + masquerade + '; }',
        '}',
        'table ip filter {',
        '  chain forward { type filter hook forward priority 0; policy drop;',
        '    iifname "lan" oifname "wan" accept;',
        '    iifname "wan" oifname "lan" ct state established,related accept;',
        '  }',
        '}'
      ].join('\n')
      const child = execFile('ip', ['netns', 'exec', router, 'nft', '-f', '-'])
      child.stdin?.end(rules)
      await new Promise<void>((resolve, reject) => {
        let stderr = ''
        child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
        child.once('close', code => { code === 0 ? resolve() : reject(new Error(`nft in ${router}: ${stderr}`)) })
      })
      nsOf.set(site.name, host)
      addressOf.set(site.name, `${site.lan}.2`)
      routers.set(site.name, { ns: router, address: wanAddress })
    }
  } catch (err) {
    await destroy()
    throw err
  }
  const known = (name: string): string => {
    const ns = nsOf.get(name)
    if (ns === undefined) throw new Error(`no host ${name} in this lab`)
    return ns
  }
  return {
    prefix: name => ['ip', 'netns', 'exec', known(name)],
    address: name => { known(name); return addressOf.get(name)! },
    routerAddress: site => {
      const r = routers.get(site)
      if (r === undefined) throw new Error(`no site ${site}`)
      return r.address
    },
    conntrack: async site => {
      const r = routers.get(site)
      if (r === undefined) throw new Error(`no site ${site}`)
      return await inNs(r.ns, 'cat', ['/proc/net/nf_conntrack']).catch((e: Error) => e.message)
    },
    destroy
  }
}
