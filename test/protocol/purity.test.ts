import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = new URL('../../protocol/', import.meta.url).pathname

function sources (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(e => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sources(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

describe('protocol/ stays pure, so that it runs in a browser untouched', () => {
  const files = sources(root)

  it('has sources to check', () => {
    expect(files.length).toBeGreaterThan(10)
  })

  it.each(files.map(f => [relative(root, f), f]))('%s imports only protocol/ modules and uses no Node globals', (_name, file) => {
    const text = readFileSync(file, 'utf8')
    const imports = [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map(m => m[1])
    for (const spec of imports) {
      expect(spec, `${file} imports ${spec}`).toMatch(/^\.\.?\//)
      expect(join(file, '..', spec).startsWith(root), `${file} imports ${spec} outside protocol/`).toBe(true)
    }
    expect(text).not.toMatch(/\b(Buffer|process|require)\s*[.(]/)
    expect(text).not.toMatch(/import\s*\(/)
  })
})
