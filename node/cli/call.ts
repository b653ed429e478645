// `wasmesh call --component <file.wasm> '<iface>#<func>(<args>)'`: loads a component in-process, calls one export, prints the result.

import { parseArgs } from 'node:util'
import { parseWave, printWave } from '../../protocol/wave.ts'
import type { Func, Type } from '../../protocol/wit/model.ts'
import { createRuntime, RuntimeError } from '../runtime/index.ts'
import type { LoadedComponent, Runtime } from '../runtime/index.ts'
import { linkLocally } from '../runtime/local-linker.ts'
import { parseCallExpression } from './call-expression.ts'
import { CliError } from './errors.ts'
import type { CommandContext } from './context.ts'
import { toJson } from './output.ts'

export const callHelp = `Usage: wasmesh call --component <file.wasm> [--component <file.wasm> ...] '<ns:pkg/iface@version>#<func>(<args>)' [--json] [--timeout <ms>]

Calls one function that a component exports and prints the result in WAVE,
the WebAssembly Value Encoding (the syntax wasmtime and wasm-tools use).
Arguments are WAVE too: "text", 42, [1, 2], {name: "x"}, some(5), none,
ok("x"), err(e), {read, write} for flags. The interface's version may be left
out when the component exports only one; a function the world exports
directly is called by its name alone.

Each component's imports are served by the other components given (so
shout.wasm can call upper.wasm), and local:demo/host#log by this command,
which writes the message to standard error.

Options:
  --component <file>   run this component in-process, without a mesh (repeatable)
  --json               print the result as JSON instead of WAVE
  --timeout <ms>       fail the call with 'timeout' after this long (default 30000)

Examples:
  wasmesh call --component examples/build/upper.wasm 'local:demo/upper#to-upper("hello")'
  wasmesh call --component examples/build/hello.wasm 'hello-world()'
  wasmesh call --component examples/build/shout.wasm --component examples/build/upper.wasm 'local:demo/shout#shout("hi")'`

export async function call (argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { component: { type: 'string', multiple: true }, json: { type: 'boolean' }, timeout: { type: 'string' } }
  })
  if (values.component === undefined) {
    throw new CliError('usage', `calls through the mesh land with the mesh node; for now give --component <file.wasm>\n\n${callHelp}`)
  }
  if (positionals.length !== 1) throw new CliError('usage', `call takes one call expression\n\n${callHelp}`)
  const expr = parseCallExpression(positionals[0])
  const timeoutMs = values.timeout === undefined ? 30_000 : Number(values.timeout)
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new CliError('usage', `--timeout takes a positive whole number of milliseconds, not ${JSON.stringify(values.timeout)}`)

  const runtime: Runtime = createRuntime({
    resolver: linkLocally(() => runtime, async (iface, func, params) => {
      if (iface.startsWith('local:demo/host') && func === 'log') {
        ctx.err(`log: ${String(params[0])}`)
        return []
      }
      throw new RuntimeError('unresolved-import', `no component given exports ${iface}#${func}`)
    }),
    logger: { info: line => { ctx.err(line) }, error: line => { ctx.err(line) } },
    limits: { callTimeoutMs: timeoutMs, maxInstances: 1 }
  })
  await runtime.start()
  try {
    const components: LoadedComponent[] = []
    for (const file of values.component) components.push(await runtime.load(file))
    const { component, iface, func } = findFunction(components, expr.iface, expr.func)
    const params = parseArguments(func, expr.args)
    const results = await runtime.call(component.id, iface, func.name, params)
    const type = func.results[0]
    if (type !== undefined) ctx.out(values.json === true ? JSON.stringify(toJson(results[0])) : printWave(type, results[0]))
    return 0
  } finally {
    await runtime.stop()
  }
}

function findFunction (components: LoadedComponent[], iface: string, name: string): { component: LoadedComponent, iface: string, func: Func } {
  const exported = (): string => components.flatMap(c => [
    ...c.exports.interfaces.flatMap(i => [...i.functions.keys()].map(f => `${i.id}#${f}`)),
    ...c.exports.functions.map(f => f.name)
  ]).join(', ')
  for (const component of components) {
    if (iface === '') {
      const func = component.exports.functions.find(f => f.name === name)
      if (func !== undefined) return { component, iface, func }
      continue
    }
    const matches = component.exports.interfaces.filter(i => i.id === iface || i.id.replace(/@[^@]*$/, '') === iface)
    if (matches.length > 1) throw new CliError('no-such-function', `${iface} is ambiguous: give the version (${matches.map(i => i.id).join(', ')})`)
    const func = matches[0]?.functions.get(name)
    if (func !== undefined) return { component, iface: matches[0].id, func }
  }
  const wanted = iface === '' ? name : `${iface}#${name}`
  throw new CliError('no-such-function', `no component given exports ${wanted}; they export: ${exported()}`)
}

/** The arguments are the WAVE of a tuple of the parameters, without its parentheses. */
function parseArguments (func: Func, args: string): unknown[] {
  const tuple: Type = { kind: 'tuple', elements: func.params.map(p => p.type) }
  try {
    return parseWave(tuple, `(${args})`) as unknown[]
  } catch (err) {
    const signature = func.params.map(p => p.name).join(', ')
    throw new CliError('bad-arguments', `${func.name}(${signature}): ${(err as Error).message}`, { cause: err })
  }
}
