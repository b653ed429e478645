// `wasmesh inspect <file.wasm>`: a component's digest, size, imports, exports and signature, or its WIT.

import { parseArgs } from 'node:util'
import { printFunc } from '../../protocol/wit/index.ts'
import type { Func, Interface } from '../../protocol/wit/model.ts'
import { defaultRuntimeLimits, httpExportOf, inspectComponent, isHostInterface, readComponentSource } from '../../node/runtime/index.ts'
import { HTTP_HANDLER_IFACE } from '../../node/http/index.ts'
import type { ComponentInfo, ComponentSurface } from '../../node/runtime/index.ts'
import { CliError } from '../errors.ts'
import type { CommandContext } from '../context.ts'
import { trustKeysOf } from '../options.ts'
import { signatureReport, signatureLines } from '../signature-report.ts'
import type { SignatureReport } from '../signature-report.ts'

export const inspectHelp = `Usage: wasmesh inspect <file.wasm> [--wit] [--json] [--trust-key <key.pub> ...]

Shows a component's digest (its id in the mesh), size, and the interfaces and
functions it imports and exports, with every function's signature; and its
signature (<file.wasm>.sig, from wasmesh sign): who signed it (key id), when,
the claims, and whether it verifies (holds for the key it names and covers
these very bytes). Imports the node serves itself (wasi:logging, wasi:config,
wasmcloud:bus, wasmcloud:secrets) and WASI (served by the sandbox) are listed
apart from those the mesh must serve.

Options:
  --wit                 print the component's WIT instead
  --json                print everything as one JSON object
  --trust-key <key.pub> say whether the signature is by one of these keys
                        (repeatable), as wasmesh node --require-signed would

Examples:
  wasmesh inspect examples/build/upper.wasm
  wasmesh inspect examples/build/counter.wasm --wit
  wasmesh inspect examples/build/upper.wasm --trust-key admin.pub`

export async function inspect (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { wit: { type: 'boolean' }, json: { type: 'boolean' }, 'trust-key': { type: 'string', multiple: true } }
  })
  if (positionals.length !== 1) throw new CliError('usage', `inspect takes one component file\n\n${inspectHelp}`)
  const file = positionals[0]
  const trust = values['trust-key'] === undefined ? undefined : await trustKeysOf(values['trust-key'])
  const bytes = await readComponentSource(file, defaultRuntimeLimits.maxComponentBytes)
  const info = await inspectComponent(bytes, { maxComponentBytes: defaultRuntimeLimits.maxComponentBytes })
  if (values.wit === true) {
    ctx.out(info.wit.trimEnd())
    return 0
  }
  const signature = await signatureReport(file, bytes, trust)
  if (values.json === true) ctx.out(JSON.stringify({ ...describe(file, info), signature }, null, 2))
  else ctx.out(layout(file, info, signature))
  return 0
}

function describe (file: string, info: ComponentInfo): Record<string, unknown> {
  const side = (s: ComponentSurface): unknown => ({
    interfaces: s.interfaces.filter(i => !isHostInterface(i.id)).map(i => ({ id: i.id, functions: functions(i).map(f => printFunc(f)) })),
    functions: s.functions.map(f => printFunc(f)),
    wasi: s.wasi,
    host: s.interfaces.filter(i => isHostInterface(i.id)).map(i => i.id)
  })
  return { file, digest: info.digest, size: info.size, imports: side(info.imports), exports: side(info.exports) }
}

function functions (i: Interface): Func[] {
  return [...i.functions.values()]
}

function layout (file: string, info: ComponentInfo, signature: SignatureReport | null): string {
  const lines = [
    `component  ${file}`,
    `digest     sha256:${info.digest}`,
    `size       ${formatBytes(info.size)}`,
    ...signatureLines(file, signature)
  ]
  const side = (title: string, s: ComponentSurface): void => {
    lines.push('', title)
    if (s.interfaces.length === 0 && s.functions.length === 0 && s.wasi.length === 0) lines.push('  (none)')
    for (const i of s.interfaces.filter(i => !isHostInterface(i.id))) {
      lines.push(`  ${i.id}`)
      for (const f of functions(i)) lines.push(`    ${printFunc(f)}`)
    }
    for (const f of s.functions) lines.push(`  ${printFunc(f)}`)
    const host = s.interfaces.filter(i => isHostInterface(i.id)).map(i => i.id)
    if (host.length > 0) lines.push(`  served by the node (host interfaces): ${host.join(', ')}`)
    // An exported incoming-handler is not the sandbox's: the node serves it to HTTP gateways.
    const http = s === info.exports ? httpExportOf(info) : undefined
    if (http !== undefined) lines.push(`  ${HTTP_HANDLER_IFACE}  (HTTP: its ${http}, served to any gateway, wasmesh node --http)`)
    const wasi = s.wasi.filter(id => id !== http)
    if (wasi.length > 0) lines.push(`  WASI (served by the sandbox): ${wasi.join(', ')}`)
  }
  side('exports', info.exports)
  side('imports', info.imports)
  return lines.join('\n')
}

function formatBytes (n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}
