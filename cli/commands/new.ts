// `wasmesh new <template> <dir>`: a component project (WIT, source, wasmesh.json, README, test) from a template.
import { existsSync } from 'node:fs'
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { jsEngines } from '../build/toolchain.ts'
import type { JsEngine } from '../build/toolchain.ts'
import type { CommandContext } from '../context.ts'
import { CliError } from '../errors.ts'
import { projectNamePattern } from '../project.ts'
import { templates } from '../templates.ts'

const templateList = templates.map(t => `  ${t.name.padEnd(12)}${t.summary}${t.engines !== undefined ? ` (engine: ${t.engines.join(', ')})` : ''}`).join('\n')

export const newHelp = `Usage: wasmesh new <template> <dir> [options]

Makes a component project in <dir> (new or empty): its WIT (wit/), its source
(src/), wasmesh.json (name, world, source, engine), a README and a test
(npm test). Then, in <dir>: wasmesh build, wasmesh dev.

Templates:
${templateList}

Options:
  --name <name>      the component's name and WIT package local:<name> (default: the folder's name);
                     lowercase words joined by "-"
  --engine <engine>  starlingmonkey (default) or quickjs

Examples:
  wasmesh new rpc-ts greeter && cd greeter && wasmesh build
  wasmesh new http-js site && cd site && wasmesh dev     # then: curl http://127.0.0.1:8080/
  wasmesh new counter-js visits --engine quickjs`

export async function newCommand (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { name: { type: 'string' }, engine: { type: 'string' } } })
  if (positionals.length !== 2) throw new CliError('usage', `new takes a template and a folder\n\n${newHelp}`)
  const [templateName, dirArg] = positionals
  const template = templates.find(t => t.name === templateName)
  if (template === undefined) throw new CliError('usage', `no template ${JSON.stringify(templateName)}; the templates are:\n${templateList}`)
  const dir = resolve(dirArg)
  const name = values.name ?? basename(dir)
  if (!projectNamePattern.test(name)) {
    throw new CliError('usage', `${JSON.stringify(name)} is not a component name: lowercase words joined by "-" (e.g. my-service)${values.name === undefined ? '; give one with --name' : ''}`)
  }
  const engine = values.engine ?? 'starlingmonkey'
  if (!(jsEngines as readonly string[]).includes(engine)) throw new CliError('usage', `--engine ${engine}: the engines are ${jsEngines.join(', ')}`)
  if (template.engines !== undefined && !template.engines.includes(engine as JsEngine)) {
    throw new CliError('usage', `--engine ${engine}: template ${template.name} builds only with ${template.engines.join(', ')}`)
  }
  if (existsSync(dir)) {
    if (!(await stat(dir)).isDirectory()) throw new CliError('bad-project', `${dir} exists and is not a folder`)
    if ((await readdir(dir)).length > 0) throw new CliError('bad-project', `${dir} is not empty: give a new or an empty folder`)
  }
  const files = await template.files({ name, engine: engine as JsEngine })
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true })
    await writeFile(join(dir, path), text, { flag: 'wx' })
  }
  ctx.out(`created ${template.name} project ${name} in ${dir}`)
  ctx.out(`next: cd ${dirArg} && wasmesh build && wasmesh dev`)
  return 0
}
