// Walks values by their WIT type to find and replace resource handles, and keys handle tables.
import { toJsName } from '../../protocol/jco-names.ts'
import type { Func, HandleType, Type } from '../../protocol/wit/model.ts'

const handleCache = new WeakMap<object, boolean>()

/** Whether a value of this type can hold a resource handle anywhere inside it. */
export function hasHandles (type: Type, seen: Set<Type> = new Set()): boolean {
  const cached = handleCache.get(type)
  if (cached !== undefined) return cached
  if (seen.has(type)) return false
  seen.add(type)
  let found: boolean
  switch (type.kind) {
    case 'own': case 'borrow': found = true; break
    case 'list': found = hasHandles(type.element, seen); break
    case 'option': found = hasHandles(type.some, seen); break
    case 'result': found = (type.ok != null && hasHandles(type.ok, seen)) || (type.err != null && hasHandles(type.err, seen)); break
    case 'tuple': found = type.elements.some(t => hasHandles(t, seen)); break
    case 'record': found = type.fields.some(f => hasHandles(f.type, seen)); break
    case 'variant': found = type.cases.some(c => c.type != null && hasHandles(c.type, seen)); break
    default: found = false
  }
  handleCache.set(type, found)
  return found
}

/** Where a function's values can hold resource handles. */
export interface FuncHandles {
  readonly params: boolean
  readonly results: boolean
}

const funcHandleCache = new WeakMap<Func, FuncHandles>()

/** Whether `func`'s parameters and results can hold resource handles, worked out once per function. */
export function funcHandles (func: Func): FuncHandles {
  let h = funcHandleCache.get(func)
  if (h === undefined) {
    h = { params: func.params.some(p => hasHandles(p.type)), results: func.results.some(t => hasHandles(t)) }
    funcHandleCache.set(func, h)
  }
  return h
}

export type HandleMapper = (type: HandleType, value: unknown) => unknown

interface Tagged { tag: string, val?: unknown }

function isTagged (value: unknown): value is Tagged {
  return typeof value === 'object' && value !== null && 'tag' in value
}

/**
 * Rebuilds `value` (in jco's JS conventions) with every resource handle in it
 * replaced by `map(handleType, handle)`. Parts without handles are returned as
 * they are; a value of the wrong shape is left for the codec to reject.
 */
export function mapHandles (type: Type, value: unknown, map: HandleMapper): unknown {
  if (!hasHandles(type)) return value
  switch (type.kind) {
    case 'own': case 'borrow':
      return map(type, value)
    case 'list':
      return Array.isArray(value) ? value.map(v => mapHandles(type.element, v, map)) : value
    case 'option':
      if (value === undefined || value === null) return value
      // jco tags the outer level of option<option<T>> so that none and some(none) differ.
      if (type.some.kind === 'option') {
        return isTagged(value) && value.tag === 'some' ? { tag: 'some', val: mapHandles(type.some, value.val, map) } : value
      }
      return mapHandles(type.some, value, map)
    case 'result': {
      if (!isTagged(value)) return value
      const side = value.tag === 'ok' ? type.ok : value.tag === 'err' ? type.err : null
      return side == null ? value : { tag: value.tag, val: mapHandles(side, value.val, map) }
    }
    case 'tuple':
      return Array.isArray(value) ? type.elements.map((t, i) => mapHandles(t, value[i], map)) : value
    case 'record': {
      if (typeof value !== 'object' || value === null) return value
      const out: Record<string, unknown> = { ...value }
      for (const field of type.fields) {
        const key = toJsName(field.name)
        out[key] = mapHandles(field.type, (value as Record<string, unknown>)[key], map)
      }
      return out
    }
    case 'variant': {
      if (!isTagged(value)) return value
      const c = type.cases.find(c => c.name === value.tag)
      return c?.type == null ? value : { tag: value.tag, val: mapHandles(c.type, value.val, map) }
    }
    default:
      return value
  }
}

/** Calls `visit` for every resource handle in `value` (in order), without rebuilding it. */
export function forEachHandle (type: Type, value: unknown, visit: (type: HandleType, value: unknown) => void): void {
  mapHandles(type, value, (t, v) => { visit(t, v); return v })
}

/** The single result type of a function, or null for a function with no result. */
export function resultType (func: Func): Type | null {
  return func.results[0] ?? null
}

/** Hex of a handle's bytes, the key of handle tables. */
export function handleKey (handle: Uint8Array): string {
  let hex = ''
  for (const b of handle) hex += b.toString(16).padStart(2, '0')
  return hex
}
