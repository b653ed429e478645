// `wasmesh call --json`: arguments written as JSON (the form `--json` prints results in), turned into WAVE for the one argument parser.

import { toJsName } from '../protocol/jco-names.ts'
import { printWave } from '../protocol/wave.ts'
import type { Type } from '../protocol/wit/model.ts'

/** A JSON value that does not fit its parameter's type; `path` says where (`v.tags[1]`). */
export class JsonArgumentError extends Error {
  override readonly name = 'JsonArgumentError'
}

/**
 * The WAVE text of a JSON value of `type`. JSON takes what `--json` prints: 64-bit integers as numbers or
 * decimal strings, floats as numbers or "NaN"/"Infinity"/"-Infinity", `none` as null, a record as an object
 * (fields by their WIT or jco names; a missing option field is none), a variant or result as `{tag, val}`
 * (a case without payload also as its name), flags as an object of booleans or a list of names, a tuple as
 * an array. Handles, streams and futures have no JSON form.
 */
export function jsonToWave (type: Type, json: unknown, path: string): string {
  const fail = (what: string): never => { throw new JsonArgumentError(`${path}: expected ${what}, got ${JSON.stringify(json) ?? 'nothing'}`) }
  switch (type.kind) {
    case 'bool': return typeof json === 'boolean' ? String(json) : fail('true or false')
    case 's8': case 'u8': case 's16': case 'u16': case 's32': case 'u32': case 's64': case 'u64':
      if ((typeof json === 'number' && Number.isInteger(json)) || (typeof json === 'string' && /^-?\d+$/.test(json))) return String(json)
      return fail(`an integer (${type.kind})`)
    case 'f32': case 'f64':
      if (typeof json === 'number') return printWave(type, json)
      if (json === 'NaN' || json === 'Infinity' || json === '-Infinity') return printWave(type, Number(json))
      return fail('a number')
    case 'char': case 'string':
      return typeof json === 'string' ? printWave(type, json) : fail(`a ${type.kind === 'char' ? 'one-character string' : 'string'}`)
    case 'list':
      if (!Array.isArray(json)) return fail('a list (a JSON array)')
      return `[${json.map((v, i) => jsonToWave(type.element, v, `${path}[${i}]`)).join(', ')}]`
    case 'tuple':
      if (!Array.isArray(json) || json.length !== type.elements.length) return fail(`a tuple of ${type.elements.length} (a JSON array)`)
      return `(${type.elements.map((t, i) => jsonToWave(t, json[i], `${path}[${i}]`)).join(', ')})`
    case 'option': {
      if (json === null) return 'none'
      const tag = tagged(json)
      if (tag?.tag === 'none') return 'none'
      if (tag?.tag === 'some') return `some(${jsonToWave(type.some, tag.val, path)})`
      return `some(${jsonToWave(type.some, json, path)})`
    }
    case 'result': {
      const tag = tagged(json)
      const side = tag?.tag === 'ok' ? type.ok : tag?.tag === 'err' ? type.err : undefined
      if (tag === undefined || side === undefined) return fail('{"tag": "ok" or "err", "val": ...}')
      return side === null ? tag.tag : `${tag.tag}(${jsonToWave(side, tag.val, `${path}.val`)})`
    }
    case 'record': {
      if (!isObject(json)) return fail(`a record (a JSON object with ${type.fields.map(f => f.name).join(', ')})`)
      const known = new Set(type.fields.flatMap(f => [f.name, toJsName(f.name)]))
      const extra = Object.keys(json).find(k => !known.has(k))
      if (extra !== undefined) throw new JsonArgumentError(`${path}: ${type.name ?? 'the record'} has no field ${extra} (${type.fields.map(f => f.name).join(', ')})`)
      return `{${type.fields.map(f => {
        const value = Object.hasOwn(json, f.name) ? json[f.name] : json[toJsName(f.name)]
        if (value === undefined && f.type.kind !== 'option') throw new JsonArgumentError(`${path}: field ${f.name} is missing`)
        return `${label(f.name)}: ${value === undefined ? 'none' : jsonToWave(f.type, value, `${path}.${f.name}`)}`
      }).join(', ')}}`
    }
    case 'variant': {
      const tag = typeof json === 'string' ? { tag: json, val: undefined } : tagged(json)
      const c = type.cases.find(k => k.name === tag?.tag)
      if (tag === undefined || c === undefined) return fail(`one of ${type.cases.map(k => k.name).join(', ')} ({"tag": ..., "val": ...})`)
      return c.type === null ? label(c.name) : `${label(c.name)}(${jsonToWave(c.type, tag.val, `${path}.val`)})`
    }
    case 'enum':
      return typeof json === 'string' && type.cases.includes(json) ? label(json) : fail(`one of ${type.cases.join(', ')}`)
    case 'flags': {
      const names = Array.isArray(json) ? json : isObject(json) ? type.flags.filter(f => json[f] === true || json[toJsName(f)] === true) : fail('flags (an object of booleans or a list of names)')
      const bad = names.find(n => typeof n !== 'string' || !type.flags.includes(n))
      if (bad !== undefined) throw new JsonArgumentError(`${path}: ${JSON.stringify(bad)} is not a flag (${type.flags.join(', ')})`)
      return `{${names.map(n => label(n as string)).join(', ')}}`
    }
    default:
      throw new JsonArgumentError(`${path}: a ${type.kind} has no JSON form; write the call in WAVE (without --json)`)
  }
}

function isObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function tagged (v: unknown): { tag: string, val: unknown } | undefined {
  return isObject(v) && typeof v.tag === 'string' ? { tag: v.tag, val: v.val } : undefined
}

/** A WIT name as a WAVE label (`%` before a keyword): the printer's own rule, through an enum of that one name. */
function label (name: string): string {
  return printWave({ kind: 'enum', cases: [name] }, name)
}
