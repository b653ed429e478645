// `wasmesh new`: every template makes a project whose wasmesh.json reads and whose WIT resolves to the world it names; the mistakes are refused.
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readProject } from '../../cli/project.ts'
import { templates } from '../../cli/templates.ts'
import { HTTP_WASI_VERSION, wasiWit } from '../../cli/build/wasi-wit.ts'
import { parseWit } from '../../protocol/wit/index.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { wasmesh } from './helpers.ts'

let scratch: ScratchDir
beforeAll(async () => { scratch = await scratchDir('new') })
afterAll(async () => { await scratch.remove() })

async function witOf (dir: string): Promise<Record<string, string>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  const files: Record<string, string> = {}
  for (const e of entries) if (e.isFile() && e.name.endsWith('.wit')) files[relative(dir, join(e.parentPath, e.name))] = await readFile(join(e.parentPath, e.name), 'utf8')
  return files
}

describe('wasmesh new', () => {
  it('has an HTTP, an RPC, a caller and a key-value counter template in JavaScript and TypeScript', () => {
    expect(templates.map(t => t.name)).toEqual(['http-js', 'http-ts', 'rpc-js', 'rpc-ts', 'caller-js', 'caller-ts', 'counter-js', 'counter-ts'])
  })

  for (const template of templates) {
    it(`${template.name}: a project with its WIT, source, wasmesh.json, README and test`, async () => {
      // A name that is also one of the templates' interface names: world and interface must not clash.
      const name = template.name.startsWith('counter') ? 'counter' : template.name.startsWith('rpc') ? 'greeter' : template.name.startsWith('http') ? 'site' : 'app'
      const dir = join(scratch.path, template.name, name)
      const run = await wasmesh(['new', template.name, dir])
      expect(run.err).toBe('')
      expect(run.code).toBe(0)
      expect(run.out).toContain(`created ${template.name} project ${name}`)

      const project = await readProject(dir)
      expect(project.name).toBe(name)
      expect(project.engine).toBe('starlingmonkey')
      expect(project.source).toBe(`src/index.${template.name.endsWith('-ts') ? 'ts' : 'js'}`)
      expect(existsSync(join(dir, project.source))).toBe(true)
      for (const file of ['README.md', 'package.json']) expect(existsSync(join(dir, file)), file).toBe(true)
      expect((await readdir(join(dir, 'test'))).some(f => f.endsWith('.test.js'))).toBe(true)

      const files = await witOf(join(dir, project.wit))
      // An HTTP world names WASI, which wasmesh build stages beside the project's WIT.
      if (template.name.startsWith('http')) for (const w of await wasiWit(HTTP_WASI_VERSION)) files[w.stagePath] = w.text
      const wit = parseWit(files)
      const world = wit.findWorld(`local:${name}/${project.world}`)
      expect(world, `world ${project.world}`).toBeDefined()
      if (template.name.startsWith('caller')) {
        const service = await readProject(join(dir, 'service'))
        expect(parseWit(await witOf(join(dir, 'service', service.wit))).findWorld(`local:greeter/${service.world}`)).toBeDefined()
      }
    })
  }

  it('takes --name and --engine', async () => {
    const dir = join(scratch.path, 'named')
    expect((await wasmesh(['new', 'rpc-js', dir, '--name', 'my-service', '--engine', 'quickjs'])).code).toBe(0)
    const project = await readProject(dir)
    expect([project.name, project.engine]).toEqual(['my-service', 'quickjs'])
  })

  it('refuses an unknown template, listing the templates', async () => {
    const run = await wasmesh(['new', 'grpc-js', join(scratch.path, 'unknown')])
    expect(run.code).toBe(2)
    expect(run.err).toContain('error [usage]: no template "grpc-js"')
    for (const t of templates) expect(run.err).toContain(t.name)
    expect(existsSync(join(scratch.path, 'unknown'))).toBe(false)
  })

  it('refuses a bad name', async () => {
    const run = await wasmesh(['new', 'rpc-js', join(scratch.path, 'My_Service')])
    expect(run.code).toBe(2)
    expect(run.err).toContain('"My_Service" is not a component name')
    expect((await wasmesh(['new', 'rpc-js', join(scratch.path, 'ok'), '--name', '-x'])).code).toBe(2)
  })

  it('refuses a folder that is not empty, and leaves it alone', async () => {
    const dir = join(scratch.path, 'taken')
    await mkdir(dir)
    await writeFile(join(dir, 'notes.txt'), 'mine')
    const run = await wasmesh(['new', 'rpc-js', dir])
    expect(run.code).toBe(1)
    expect(run.err).toContain('error [bad-project]:')
    expect(run.err).toContain('is not empty')
    expect(await readdir(dir)).toEqual(['notes.txt'])
  })

  it('takes an empty folder', async () => {
    const dir = join(scratch.path, 'empty')
    await mkdir(dir)
    expect((await wasmesh(['new', 'counter-ts', dir])).code).toBe(0)
  })
})
