// Test helpers for the WIT front end: reading the reference WIT, locating text, and a canonical dump of a model.

import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Func, Interface, Type, TypeDef, Wit, World, WorldItem } from '../../../protocol/wit/index.ts'

/** The reference WIT, copied unchanged from the team's shared/reference/wit into the repository's wit/deps. */
export const referenceDir = new URL('../../../wit/deps/', import.meta.url)

/** The `.wit` files of one folder of the shared reference WIT, keyed `folder/file.wit`. */
export function referenceFiles (folder: string): Record<string, string> {
  const dir = new URL(`${folder}/`, referenceDir)
  const out: Record<string, string> = {}
  for (const f of readdirSync(fileURLToPath(dir)).sort()) {
    if (f.endsWith('.wit')) out[`${folder}/${f}`] = readFileSync(new URL(f, dir), 'utf8')
  }
  return out
}

export function fixture (name: string): string {
  return readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8')
}

/** 1-based line and column of the `nth` occurrence of `needle` in `text`. */
export function locOf (text: string, needle: string, nth = 0): { line: number, column: number } {
  let at = -1
  for (let i = 0; i <= nth; i++) {
    at = text.indexOf(needle, at + 1)
    if (at < 0) throw new Error(`\`${needle}\` occurs fewer than ${nth + 1} times`)
  }
  const before = text.slice(0, at)
  const line = before.split('\n').length
  return { line, column: at - before.lastIndexOf('\n') }
}

function ref (t: TypeDef): string | undefined {
  return 'name' in t && t.name !== undefined && 'owner' in t && t.owner !== undefined ? `${t.owner}#${t.name}` : undefined
}

/** A type as plain data; named types nested inside are references `owner#name`. */
export function dumpType (t: TypeDef, top = true): unknown {
  const r = ref(t)
  if (!top && r !== undefined) return { ref: r }
  switch (t.kind) {
    case 'list': return { list: dumpType(t.element, false), ...(t.length !== undefined ? { length: t.length } : {}) }
    case 'option': return { option: dumpType(t.some, false) }
    case 'result': return { result: [t.ok === null ? null : dumpType(t.ok, false), t.err === null ? null : dumpType(t.err, false)] }
    case 'tuple': return { tuple: t.elements.map(e => dumpType(e, false)) }
    case 'record': return { record: r, fields: t.fields.map(f => [f.name, dumpType(f.type, false)]) }
    case 'variant': return { variant: r, cases: t.cases.map(c => [c.name, c.type === null ? null : dumpType(c.type, false)]) }
    case 'enum': return { enum: r, cases: t.cases }
    case 'flags': return { flags: r, names: t.flags }
    case 'own': case 'borrow': return { [t.kind]: ref(t.resource) }
    case 'future': case 'stream': return { [t.kind]: t.element === null ? null : dumpType(t.element, false) }
    case 'resource': return { resource: r, functions: [...t.functions.keys()].sort() }
    default: return t.kind
  }
}

export function dumpFunc (f: Func): unknown {
  return {
    name: f.name,
    kind: f.kind,
    resource: f.resource,
    async: f.async,
    params: f.params.map(p => [p.name, dumpType(p.type, false)]),
    results: f.results.map(r => dumpType(r, false)),
    docs: f.docs
  }
}

function sortedEntries<V> (m: ReadonlyMap<string, V>, f: (v: V) => unknown): Array<[string, unknown]> {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, f(v)])
}

export function dumpInterface (i: Interface): unknown {
  return {
    id: i.id,
    name: i.name,
    docs: i.docs,
    types: sortedEntries(i.types, t => dumpType(t)),
    functions: sortedEntries(i.functions, dumpFunc)
  }
}

function dumpItem (item: WorldItem): unknown {
  switch (item.kind) {
    case 'interface': return { interface: dumpInterface(item.interface) }
    case 'function': return { function: dumpFunc(item.func) }
    case 'type': return { type: dumpType(item.type) }
  }
}

export function dumpWorld (w: World): unknown {
  return { id: w.id, docs: w.docs, imports: sortedEntries(w.imports, dumpItem), exports: sortedEntries(w.exports, dumpItem) }
}

/** The whole model as plain data with every map sorted, for comparing two parses. */
export function dumpWit (wit: Wit): unknown {
  return [...wit.packages]
    .map(p => ({
      name: p.name,
      interfaces: sortedEntries(p.interfaces, dumpInterface),
      worlds: sortedEntries(p.worlds, dumpWorld)
    }))
    .sort((a, b) => (JSON.stringify(a.name) < JSON.stringify(b.name) ? -1 : 1))
}

export function printed (t: Type): string {
  return JSON.stringify(dumpType(t, false))
}
