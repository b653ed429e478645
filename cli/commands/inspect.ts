// `wasmesh inspect <file.wasm>`: a component's digest, size, imports and exports, or its WIT.

import { parseArgs } from 'node:util'
import { printFunc } from '../../protocol/wit/index.ts'
import type { Func, Interface } from '../../protocol/wit/model.ts'
import { defaultRuntimeLimits, httpExportOf, inspectComponent, readComponentSource } from '../../node/runtime/index.ts'
import { HTTP_HANDLER_IFACE } from '../../node/http/index.ts'
import type { ComponentInfo, ComponentSurface } from '../../node/runtime/index.ts'
import { CliError } from '../errors.ts'
import type { CommandContext } from '../context.ts'

export const inspectHelp = `Usage: wasmesh inspect <file.wasm> [--wit] [--json]

Shows a component's digest (its id in the mesh), size, and the interfaces and
functions it imports and exports, with every function's signature.

Options:
  --wit     print the component's WIT instead
  --json    print everything as one JSON object

Examples:
  wasmesh inspect examples/build/upper.wasm
  wasmesh inspect examples/build/counter.wasm --wit`

export async function inspect (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { wit: { type: 'boolean' }, json: { type: 'boolean' } }
  })
  if (positionals.length !== 1) throw new CliError('usage', `inspect takes one component file\n\n${inspectHelp}`)
  const file = positionals[0]
  const bytes = await readComponentSource(file, defaultRuntimeLimits.maxComponentBytes)
  const info = await inspectComponent(bytes, { maxComponentBytes: defaultRuntimeLimits.maxComponentBytes })
  if (values.wit === true) ctx.out(info.wit.trimEnd())
  else if (values.json === true) ctx.out(JSON.stringify(describe(file, info), null, 2))
  else ctx.out(layout(file, info))
  return 0
}

function describe (file: string, info: ComponentInfo): unknown {
  const side = (s: ComponentSurface): unknown => ({
    interfaces: s.interfaces.map(i => ({ id: i.id, functions: functions(i).map(f => printFunc(f)) })),
    functions: s.functions.map(f => printFunc(f)),
    wasi: s.wasi
  })
  return { file, digest: info.digest, size: info.size, imports: side(info.imports), exports: side(info.exports) }
}

function functions (i: Interface): Func[] {
  return [...i.functions.values()]
}

function layout (file: string, info: ComponentInfo): string {
  const lines = [
    `component  ${file}`,
    `digest     sha256:${info.digest}`,
    `size       ${formatBytes(info.size)}`
  ]
  const side = (title: string, s: ComponentSurface): void => {
    lines.push('', title)
    if (s.interfaces.length === 0 && s.functions.length === 0 && s.wasi.length === 0) lines.push('  (none)')
    for (const i of s.interfaces) {
      lines.push(`  ${i.id}`)
      for (const f of functions(i)) lines.push(`    ${printFunc(f)}`)
    }
    for (const f of s.functions) lines.push(`  ${printFunc(f)}`)
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
