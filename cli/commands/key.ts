// `wasmesh key <subcommand>`: makes and shows the keys a lattice runs on (the lattice key, signing keys).

import { parseArgs } from 'node:util'
import { generateSigningKey, newLatticeKeyFile, readPublicKey, readSigningKey, signingKeyJwk, writePrivateFile, keyId, parseDurationS, signMemberCert, SecurityError } from '../../node/security/index.ts'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { SettingError, parseLabelArg, parseLatticeArg } from '../config.ts'
import { flag } from '../options.ts'
import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { loadOrCreateIdentity } from '../../node/identity.ts'
import { CliError } from '../errors.ts'
import type { CommandContext } from '../context.ts'

type Subcommand = (argv: string[], ctx: CommandContext) => Promise<number>

const subcommands: Record<string, { summary: string, run: Subcommand }> = {
  new: { summary: 'make a lattice key (default) or, with --signing, an Ed25519 signing key', run: keyNew },
  public: { summary: 'write the public half of a signing key (to give to nodes that trust it)', run: keyPublic },
  'sign-member': { summary: "sign a member certificate: a peer id's labels, until an expiry, with an admin key", run: keySignMember },
  'peer-id': { summary: 'print the peer id of the identity in a data directory (made there if there is none)', run: keyPeerId }
}

export const keyHelp = `Usage: wasmesh key <subcommand> [options]

Subcommands:
${Object.entries(subcommands).map(([name, s]) => `  ${name.padEnd(14)}${s.summary}`).join('\n')}

  wasmesh key new --out <file> [--signing] [--force]
      A lattice key (a pre-shared key: every member of a private lattice holds the same file and
      gives it with --lattice-key), or with --signing an Ed25519 signing key (a JWK) for signing
      components and member certificates. Written 0600; never over an existing file unless --force.
  wasmesh key public <signing.key> --out <file.pub>
      The public half of a signing key, as a JWK, and its key id.
  wasmesh key sign-member --key <admin.key> --peer <peer-id> [--label k=v ...] --expires <30d>
                          [--lattice <name>] --out <member.cert>
      A member certificate (a JWT signed with EdDSA by the admin key): the peer id, its labels, the
      lattice (default "default"), when it was issued and when it expires (--expires 30d, 12h, 90m).
      The peer starts with --member-cert member.cert; nodes that trust the admin (--trust-admin
      admin.pub) believe those labels, and only those, for that peer id.
  wasmesh key peer-id --data-dir <dir>
      The peer id of the identity kept in <dir> (identity.key, made if missing): what to put in a
      trust file or a member certificate for a node or a client (call, mesh) started with --data-dir <dir>.

Examples:
  wasmesh key new --out lattice.key
  wasmesh key new --signing --out admin.key
  wasmesh key public admin.key --out admin.pub
  wasmesh key sign-member --key admin.key --peer 12D3KooW... --label role=web --expires 30d --out web-1.cert
  wasmesh key peer-id --data-dir ~/.wasmesh-client`

export async function key (argv: string[], ctx: CommandContext): Promise<number> {
  const [name, ...rest] = argv
  const sub = name !== undefined && Object.hasOwn(subcommands, name) ? subcommands[name] : undefined
  if (sub === undefined) throw new CliError('usage', `${name === undefined ? 'key needs a subcommand' : `unknown key subcommand ${JSON.stringify(name)}`}\n\n${keyHelp}`)
  try {
    return await sub.run(rest, ctx)
  } catch (err) {
    if (err instanceof SecurityError) throw new CliError(err.code === 'key-file-exists' ? 'usage' : 'bad-key', err.message, { cause: err })
    throw err
  }
}

async function keyNew (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: 'string' }, signing: { type: 'boolean' }, force: { type: 'boolean' } } })
  if (positionals.length > 0) throw new CliError('usage', `key new takes no arguments, only options\n\n${keyHelp}`)
  if (values.out === undefined) throw new CliError('usage', `key new needs --out <file>\n\n${keyHelp}`)
  const overwrite = values.force === true
  if (values.signing === true) {
    const signing = generateSigningKey()
    await writePrivateFile(values.out, signingKeyJwk(signing, 'private'), { overwrite })
    ctx.out(`wrote the signing key ${values.out} (key id ${keyId(signing)}); give nodes its public half: wasmesh key public ${values.out} --out ${values.out.replace(/\.key$/, '')}.pub`)
  } else {
    await writePrivateFile(values.out, newLatticeKeyFile(), { overwrite })
    ctx.out(`wrote the lattice key ${values.out}; copy it (mode 600) to every member and start them with --lattice-key ${values.out}`)
  }
  return 0
}

async function keyPublic (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: 'string' } } })
  if (positionals.length !== 1) throw new CliError('usage', `key public takes one signing key file\n\n${keyHelp}`)
  const pub = await readPublicKey(positionals[0])
  const text = signingKeyJwk(pub, 'public')
  if (values.out === undefined) ctx.out(text.trimEnd())
  else {
    await writeFile(values.out, text, { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') throw new CliError('usage', `${values.out} exists: remove it first or write the public key elsewhere`)
      throw err
    })
    ctx.out(`wrote the public key ${values.out} (key id ${keyId(pub)})`)
  }
  return 0
}

async function keySignMember (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { key: { type: 'string' }, peer: { type: 'string' }, label: { type: 'string', multiple: true }, expires: { type: 'string' }, lattice: { type: 'string' }, out: { type: 'string' } }
  })
  if (positionals.length > 0) throw new CliError('usage', `key sign-member takes no arguments, only options\n\n${keyHelp}`)
  for (const need of ['key', 'peer', 'expires', 'out'] as const) {
    if (values[need] === undefined) throw new CliError('usage', `key sign-member needs --${need}\n\n${keyHelp}`)
  }
  const peer = values.peer as string
  try {
    peerIdFromString(peer)
  } catch {
    throw new CliError('usage', `--peer: ${JSON.stringify(peer)} is not a peer id (the 'peer id:' line a node prints)`)
  }
  const seconds = flag('expires', () => {
    try { return parseDurationS(values.expires as string) } catch (err) { throw new SettingError((err as Error).message) }
  })
  const labels = Object.fromEntries((values.label ?? []).map(l => flag('label', () => parseLabelArg(l))))
  const lattice = values.lattice === undefined ? 'default' : flag('lattice', () => parseLatticeArg(values.lattice as string))
  const admin = await readSigningKey(values.key as string)
  const expiresAt = Math.floor(Date.now() / 1000) + seconds
  const cert = await signMemberCert(admin, { peer, labels, lattice, expiresAt })
  await writeFile(values.out as string, cert + '\n', { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') throw new CliError('usage', `${values.out as string} exists: remove it first or write the certificate elsewhere`)
    throw err
  })
  ctx.out(`wrote the member certificate ${values.out as string} for ${peer} (labels ${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ') || 'none'}, lattice ${lattice}, expires ${new Date(expiresAt * 1000).toISOString()}, signed by ${keyId(admin)}); start that peer with --member-cert ${values.out as string}`)
  return 0
}

async function keyPeerId (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { 'data-dir': { type: 'string' } } })
  if (positionals.length > 0 || values['data-dir'] === undefined) throw new CliError('usage', `key peer-id needs --data-dir <dir>\n\n${keyHelp}`)
  ctx.out(peerIdFromPrivateKey(await loadOrCreateIdentity(resolve(values['data-dir']))).toString())
  return 0
}
