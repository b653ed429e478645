// Parses the command line's call syntax `ns:pkg/iface@version#func(args)` into its interface, function and WAVE arguments.

import { CliError } from './errors.ts'

export interface CallExpression {
  /** `ns:pkg/iface@version` (version optional), or '' for a function the component's world exports directly. */
  readonly iface: string
  /** The function's name as the component model spells it: `to-upper`, `[method]bucket.get`, `[static]r.s`. */
  readonly func: string
  /** The WAVE text between the parentheses, e.g. `"hi", 3`. */
  readonly args: string
}

/**
 * The component model's own naming, as `wasmtime run --invoke` takes it:
 * `local:demo/upper#to-upper("hi")`, or `hello-world()` for a world function.
 * A bare name without parentheses is a call with no arguments.
 */
export function parseCallExpression (text: string): CallExpression {
  const src = text.trim()
  const open = src.indexOf('(')
  let head = src
  let args = ''
  if (open >= 0) {
    if (!src.endsWith(')')) {
      throw new CliError('bad-call-expression', `the call ${JSON.stringify(text)} has no closing ')': write it as 'ns:pkg/iface#func(args)'`)
    }
    head = src.slice(0, open).trim()
    args = src.slice(open + 1, -1)
  }
  const hash = head.lastIndexOf('#')
  const iface = hash < 0 ? '' : head.slice(0, hash)
  const func = hash < 0 ? head : head.slice(hash + 1)
  if (func === '') {
    throw new CliError('bad-call-expression', `the call ${JSON.stringify(text)} names no function: write it as 'ns:pkg/iface#func(args)'`)
  }
  if (hash >= 0 && !/^[a-z0-9-]+:[a-z0-9-:]+\/[a-z0-9-]+(@[0-9A-Za-z.+-]+)?$/i.test(iface)) {
    throw new CliError('bad-call-expression', `${JSON.stringify(iface)} is not an interface name: write it as 'ns:pkg/iface' or 'ns:pkg/iface@1.0.0'`)
  }
  return { iface, func, args }
}
