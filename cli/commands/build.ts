// `wasmesh build [dir]`: builds the component project in dir (default .) into build/<name>.wasm, cached by a hash of its inputs.
import { relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { buildProject } from '../build/project-build.ts'
import type { CommandContext } from '../context.ts'
import { CliError } from '../errors.ts'
import { readProject } from '../project.ts'

export const buildHelp = `Usage: wasmesh build [dir] [options]

Builds the project in dir (default: the current folder; its wasmesh.json says
name, world, source and engine) into build/<name>.wasm: TypeScript compiled
first, JavaScript checked, then componentized with StarlingMonkey
(componentize-js) or QuickJS (componentize-qjs) against the project's WIT.
Nothing is built when no source, WIT file or wasmesh.json changed since the
last build (build/<name>.hash). A syntax error or a function the WIT exports
that the source lacks fails with the file and line (code build-failed).

Options:
  --force   rebuild even when nothing changed

Examples:
  wasmesh build
  wasmesh build service --force`

export async function buildCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { force: { type: 'boolean' } } })
  if (positionals.length > 1) throw new CliError('usage', `build takes at most one folder\n\n${buildHelp}`)
  const project = await readProject(resolve(positionals[0] ?? '.'))
  const built = await buildProject(project, { force: values.force === true })
  const rel = relative(process.cwd(), built.path)
  const path = rel.startsWith('..') ? built.path : rel
  ctx.out(`${path}  ${(built.bytes / 1024 / 1024).toFixed(1)} MiB  ${built.cached ? 'cached' : `built in ${(built.ms / 1000).toFixed(1)} s`}`)
  return 0
}
