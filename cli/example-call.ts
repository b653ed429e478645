// A ready-to-paste call of a served function: WAVE arguments that fit its parameters, for the lines `wasmesh node` prints at start.

import type { Func, Interface, Type } from '../protocol/wit/model.ts'

/** WAVE text of a plausible value of `type`, or undefined when none can be written (handles, streams, futures). */
export function exampleWave (type: Type, depth = 0): string | undefined {
  if (depth > 8) return undefined
  switch (type.kind) {
    case 'bool': return 'true'
    case 's8': case 'u8': case 's16': case 'u16': case 's32': case 'u32': case 's64': case 'u64': return '1'
    case 'f32': case 'f64': return '1.5'
    case 'char': return "'a'"
    case 'string': return '"hello"'
    case 'list': {
      if (type.length === undefined) return '[]'
      const item = exampleWave(type.element, depth + 1)
      return item === undefined ? undefined : `[${Array.from({ length: type.length }, () => item).join(', ')}]`
    }
    case 'option': return 'none'
    case 'result': {
      if (type.ok === null) return 'ok'
      const ok = exampleWave(type.ok, depth + 1)
      return ok === undefined ? undefined : `ok(${ok})`
    }
    case 'tuple': {
      const items = type.elements.map(e => exampleWave(e, depth + 1))
      return items.some(i => i === undefined) ? undefined : `(${items.join(', ')})`
    }
    case 'record': {
      const fields = type.fields.map(f => [f.name, exampleWave(f.type, depth + 1)] as const)
      return fields.some(([, v]) => v === undefined) ? undefined : `{${fields.map(([n, v]) => `${n}: ${v}`).join(', ')}}`
    }
    case 'variant': {
      for (const c of type.cases) {
        if (c.type === null) return `${c.name}`
        const v = exampleWave(c.type, depth + 1)
        if (v !== undefined) return `${c.name}(${v})`
      }
      return undefined
    }
    case 'enum': return type.cases[0]
    case 'flags': return '{}'
    default: return undefined
  }
}

/** `ns:pkg/iface#func(args)` for the first freestanding function of these interfaces whose arguments can be written. */
export function exampleCall (interfaces: readonly Interface[]): string | undefined {
  for (const iface of interfaces) {
    for (const func of iface.functions.values()) {
      const args = argumentsOf(func)
      if (args !== undefined) return `${iface.id}#${func.name}(${args})`
    }
  }
  return undefined
}

function argumentsOf (func: Func): string | undefined {
  if (func.kind !== 'freestanding') return undefined
  const args = func.params.map(p => exampleWave(p.type))
  return args.some(a => a === undefined) ? undefined : args.join(', ')
}
