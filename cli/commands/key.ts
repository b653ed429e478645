// `wasmesh key <subcommand>`: makes and shows the keys a lattice runs on (the lattice key, signing keys).

import { parseArgs } from 'node:util'
import { generateSigningKey, newLatticeKeyFile, readPublicKey, signingKeyJwk, writePrivateFile, keyId, SecurityError } from '../../node/security/index.ts'
import { writeFile } from 'node:fs/promises'
import { CliError } from '../errors.ts'
import type { CommandContext } from '../context.ts'

type Subcommand = (argv: string[], ctx: CommandContext) => Promise<number>

const subcommands: Record<string, { summary: string, run: Subcommand }> = {
  new: { summary: 'make a lattice key (default) or, with --signing, an Ed25519 signing key', run: keyNew },
  public: { summary: 'write the public half of a signing key (to give to nodes that trust it)', run: keyPublic }
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

Examples:
  wasmesh key new --out lattice.key
  wasmesh key new --signing --out admin.key
  wasmesh key public admin.key --out admin.pub`

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
