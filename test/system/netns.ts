// Network namespaces for the system tests: one per process, joined by veth pairs to a bridge that lives in a namespace of its own, so nothing touches the host's network.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The private range the namespaces use; it exists only inside them. */
export const subnet = '10.99.0'

export interface NetnsLab {
  /** The namespace of a member. */
  ns (member: string): string
  /** The member's address, `10.99.0.x`. */
  address (member: string): string
  /** The command prefix that runs something inside the member's namespace. */
  prefix (member: string): readonly string[]
  /** `ss -tn` in every member's namespace, for failure messages. */
  sockets (): Promise<string>
  /** Deletes every namespace (and with them their veths and the bridge). Safe to call twice. */
  destroy (): Promise<void>
}

/** Why namespaces cannot be used here, or undefined when they can (root, with iproute2). */
export async function netnsUnavailable (): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces are Linux only (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root (CI runs as root)'
  try {
    await run('ip', ['-V'])
  } catch {
    return '`ip` (iproute2) is not installed: apt-get install -y iproute2'
  }
  return undefined
}

/** `ip` with these arguments; its stderr in the error. */
export async function ip (...args: string[]): Promise<void> {
  try {
    await run('ip', args, { timeout: 10_000 })
  } catch (err) {
    const e = err as { stderr?: string, message: string }
    throw new Error(`ip ${args.join(' ')}: ${e.stderr?.trim() || e.message}`, { cause: err })
  }
}

/** One namespace per member (`members[i]` gets 10.99.0.(i+1)), all on one bridge. */
export async function createNetnsLab (members: readonly string[]): Promise<NetnsLab> {
  if (members.length > 200) throw new Error('at most 200 members')
  // Unique per run: two runs (or a crashed earlier one) never share a name.
  const id = randomBytes(3).toString('hex')
  const bridgeNs = `wasmesh-${id}-br`
  const created: string[] = []
  const addresses = new Map(members.map((m, i) => [m, `${subnet}.${i + 1}`]))
  const nsOf = (member: string): string => {
    if (!addresses.has(member)) throw new Error(`no member ${member} in this lab`)
    return `wasmesh-${id}-${member}`
  }

  const destroy = async (): Promise<void> => {
    // Deleting a namespace deletes the veth ends inside it, and a veth pair goes when either end does.
    const all = created.splice(0)
    await Promise.all(all.map(async ns => { await ip('netns', 'delete', ns).catch(() => {}) }))
  }

  try {
    await ip('netns', 'add', bridgeNs)
    created.push(bridgeNs)
    await ip('-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge')
    await ip('-n', bridgeNs, 'link', 'set', 'br0', 'up')
    for (const [i, member] of members.entries()) {
      const ns = nsOf(member)
      await ip('netns', 'add', ns)
      created.push(ns)
      // Interface names are at most 15 bytes.
      const veth = `wm${id}v${i}`
      await ip('-n', bridgeNs, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
      await ip('-n', bridgeNs, 'link', 'set', veth, 'master', 'br0')
      await ip('-n', bridgeNs, 'link', 'set', veth, 'up')
      await ip('-n', ns, 'addr', 'add', `${addresses.get(member)}/24`, 'dev', 'eth0')
      await ip('-n', ns, 'link', 'set', 'eth0', 'up')
      await ip('-n', ns, 'link', 'set', 'lo', 'up')
    }
  } catch (err) {
    await destroy()
    throw err
  }

  return {
    ns: nsOf,
    address: member => { nsOf(member); return addresses.get(member)! },
    prefix: member => ['ip', 'netns', 'exec', nsOf(member)],
    sockets: async () => {
      const all = await Promise.all(members.map(async m => {
        const r = await run('ip', ['netns', 'exec', nsOf(m), 'ss', '-tn'], { timeout: 5_000 }).catch((e: Error) => ({ stdout: e.message }))
        return `--- TCP sockets of ${m} (${addresses.get(m)}) ---\n${r.stdout}`
      }))
      return all.join('\n')
    },
    destroy
  }
}
