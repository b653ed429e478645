// Dependencies point one way: cli/ -> simulations/ -> node/ -> protocol/, and node/runtime/ is built on protocol/ alone.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { describe, expect, it } from 'vitest'

const repo = new URL('../../', import.meta.url).pathname
/** Each layer may import itself and the layers after it, never one before it. */
const layers = ['cli', 'simulations', 'node', 'protocol'] as const

function sources (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(e => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sources(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

/** Every module a source names: static imports and re-exports, dynamic `import()`, and `new URL(..., import.meta.url)` (workers, providers). */
function importsOf (text: string): string[] {
  const found = [
    ...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g),
    ...text.matchAll(/\bnew URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g)
  ]
  return found.map(m => m[1])
}

/** The repository-relative module a relative specifier of `file` names; undefined for a package or a data file (WIT, JSON). */
function target (file: string, spec: string): string | undefined {
  if (!spec.startsWith('./') && !spec.startsWith('../')) return undefined
  if (!/\.[jt]s$/.test(spec)) return undefined
  return relative(repo, join(file, '..', spec)).split(sep).join('/')
}

const files = layers.flatMap(layer => sources(join(repo, layer)).map(file => ({
  file,
  name: relative(repo, file).split(sep).join('/'),
  layer,
  targets: importsOf(readFileSync(file, 'utf8')).flatMap(spec => target(file, spec) ?? [])
})))

function layerOf (path: string): number {
  return layers.findIndex(l => path.startsWith(`${l}/`))
}

describe('the layers', () => {
  it('have sources to check in every layer', () => {
    for (const layer of layers) expect(files.filter(f => f.layer === layer).length, layer).toBeGreaterThan(3)
  })

  it('import only their own layer and the ones below: cli/ -> simulations/ -> node/ -> protocol/', () => {
    const upward = files.flatMap(f => f.targets
      .filter(t => layerOf(t) < layers.indexOf(f.layer))
      .map(t => `${f.name} imports ${t}`))
    expect(upward).toEqual([])
  })

  it('import no code from outside the layers (tests, examples, scripts)', () => {
    const outside = files.flatMap(f => f.targets.filter(t => layerOf(t) < 0).map(t => `${f.name} imports ${t}`))
    expect(outside).toEqual([])
  })

  it('build node/runtime/ on protocol/ alone: it imports nothing else from node/', () => {
    const out = files
      .filter(f => f.name.startsWith('node/runtime/'))
      .flatMap(f => f.targets.filter(t => !t.startsWith('node/runtime/') && !t.startsWith('protocol/')).map(t => `${f.name} imports ${t}`))
    expect(out).toEqual([])
  })
})
