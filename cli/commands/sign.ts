// `wasmesh sign <component.wasm> --key <signing.key>`: writes the component's signature beside it (`<file>.sig`), for nodes run with --require-signed.

import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { defaultRuntimeLimits, inspectComponent, readComponentSource } from '../../node/runtime/index.ts'
import { SecurityError, checkComponentClaims, disallowedImports, keyId, readSigningKey, signComponent, signatureSuffix } from '../../node/security/index.ts'
import type { ComponentClaims } from '../../node/security/index.ts'
import { SettingError, parseMsArg } from '../config.ts'
import type { CommandContext } from '../context.ts'
import { CliError } from '../errors.ts'
import { flag } from '../options.ts'

export const signHelp = `Usage: wasmesh sign <component.wasm> --key <signing.key> [options]

Signs a component: writes <component.wasm>${signatureSuffix} beside it, a JWS (EdDSA, Ed25519)
over the component's sha256 digest naming the signer's key id, the time and the
claims given. A node started with --require-signed --trust-key <signing.pub>
loads the component only with a signature by a key it trusts, of exactly these
bytes. An existing ${signatureSuffix} is replaced.

Options:
  --key <signing.key>       the Ed25519 signing key (wasmesh key new --signing; mode 600)
  --name <name>             a name claim (shown by wasmesh inspect)
  --version <version>       a version claim
  --allow-import <iface>    an import the component may have (repeatable): ns:pkg/iface@version,
                            ns:pkg/iface (any version) or ns:pkg/* (any interface of the package).
                            With any, a node refuses the component if it imports anything else
                            (the WASI the sandbox serves aside), and sign refuses to sign it
  --expires <duration>      the signature expires after this long (30d, 12h, 90m); default never
  --out <file>              write the signature there instead of <component.wasm>${signatureSuffix}

Examples:
  wasmesh key new --signing --out admin.key && wasmesh key public admin.key --out admin.pub
  wasmesh sign examples/build/upper.wasm --key admin.key --name upper --version 0.1.0
  wasmesh sign examples/build/upper.wasm --key admin.key --allow-import local:demo/host --expires 90d
  wasmesh node --require-signed --trust-key admin.pub --component examples/build/upper.wasm`

export async function signCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      key: { type: 'string' },
      name: { type: 'string' },
      version: { type: 'string' },
      'allow-import': { type: 'string', multiple: true },
      expires: { type: 'string' },
      out: { type: 'string' }
    }
  })
  if (positionals.length !== 1) throw new CliError('usage', `sign takes one component file\n\n${signHelp}`)
  if (values.key === undefined) throw new CliError('usage', `sign needs --key <signing.key> (make one with 'wasmesh key new --signing --out admin.key')\n\n${signHelp}`)
  const file = positionals[0]
  const expiresInMs = values.expires === undefined ? undefined : flag('expires', () => parseDuration(values.expires as string))
  const given: ComponentClaims = {
    ...(values.name === undefined ? {} : { name: values.name }),
    ...(values.version === undefined ? {} : { version: values.version }),
    ...(values['allow-import'] === undefined ? {} : { imports: values['allow-import'] })
  }
  try {
    const claims = checkComponentClaims(given)
    const key = await readSigningKey(values.key)
    const bytes = await readComponentSource(file, defaultRuntimeLimits.maxComponentBytes)
    const info = await inspectComponent(bytes, { maxComponentBytes: defaultRuntimeLimits.maxComponentBytes })
    // A signature whose claims its component breaks would only be refused by every node: say so now.
    const extra = disallowedImports(claims, [...info.imports.interfaces.map(i => i.id), ...info.imports.functions.map(f => f.name)])
    if (extra.length > 0) throw new CliError('usage', `${file} imports ${extra.join(', ')}, which --allow-import does not allow: add them, or leave --allow-import out`)
    const text = await signComponent(bytes, key, { claims, expiresInMs })
    const out = values.out ?? file + signatureSuffix
    await writeFile(out, text)
    ctx.out(`signed ${file} (sha256:${info.digest}) with key ${keyId(key)}: wrote ${out}`)
    return 0
  } catch (err) {
    if (err instanceof SecurityError) throw new CliError(err.code === 'invalid-claims' ? 'usage' : 'bad-key', err.message, { cause: err })
    throw err
  }
}

/** A duration as the other flags take it (`500ms`, `30s`, `2m`, `1h`), and days (`90d`), which a signature's life is counted in. */
function parseDuration (text: string): number {
  const days = /^\s*(\d+)\s*d\s*$/.exec(text)
  const ms = days !== null ? Number(days[1]) * 86_400_000 : parseMsArg(text)
  if (ms <= 0 || !Number.isSafeInteger(ms)) throw new SettingError(`${JSON.stringify(text)} must be a positive duration (90d, 12h, 30m)`)
  return ms
}
