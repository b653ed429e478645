// The http templates end to end: `wasmesh new http-*` and `wasmesh build` make a wasi:http component, `wasmesh dev` serves it through a loopback gateway that answers across a hot swap.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultRuntimeLimits, httpExportOf, inspectComponent } from '../../node/runtime/index.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { start, wasmesh } from './helpers.ts'

// componentize-js takes 2-30 s per build on this machine, depending on the load.
const buildTimeoutMs = 240_000

let scratch: ScratchDir
beforeAll(async () => { scratch = await scratchDir('http-dev') })
afterAll(async () => { await scratch.remove() })

async function newHttpProject (template: string, name: string): Promise<string> {
  const dir = join(scratch.path, name)
  const run = await wasmesh(['new', template, dir])
  expect(run.code, run.err).toBe(0)
  return dir
}

async function httpExport (file: string): Promise<string | undefined> {
  return httpExportOf(await inspectComponent(await readFile(file), { maxComponentBytes: defaultRuntimeLimits.maxComponentBytes }))
}

describe('the http templates', () => {
  it('http-ts builds into a component exporting wasi:http/incoming-handler, then only hashes it', async () => {
    const dir = await newHttpProject('http-ts', 'site-ts')
    const built = await wasmesh(['build', dir])
    expect(built.err).toBe('')
    expect(built.code).toBe(0)
    expect(built.out).toMatch(/build\/site-ts\.wasm .* built in/)
    expect(await httpExport(join(dir, 'build', 'site-ts.wasm'))).toBe('wasi:http/incoming-handler@0.2.10')
    expect((await wasmesh(['build', dir])).out).toMatch(/site-ts\.wasm .* cached$/)
  }, buildTimeoutMs)

  it('refuses the quickjs engine, which has no fetch event', async () => {
    const run = await wasmesh(['new', 'http-js', join(scratch.path, 'qjs'), '--engine', 'quickjs'])
    expect(run.code).toBe(2)
    expect(run.err).toBe('error [usage]: --engine quickjs: template http-js builds only with starlingmonkey')
  })

  it('wasmesh dev refuses an --http that is not host:port, auto or off, before building', async () => {
    const run = await wasmesh(['dev', join(scratch.path, 'nowhere'), '--http', 'localhost'])
    expect(run.code).toBe(2)
    expect(run.err).toMatch(/^error \[usage\]: --http/)
  })
})

describe('wasmesh dev on an HTTP project', () => {
  it('opens a loopback gateway, prints the curl line, and answers with the new text after an edit, never failing a request during the swap', async () => {
    const dir = await newHttpProject('http-js', 'site')
    const built = await wasmesh(['build', dir])
    expect(built.code, built.err).toBe(0)
    expect(await httpExport(join(dir, 'build', 'site.wasm'))).toBe('wasi:http/incoming-handler@0.2.10')

    const dev = start(['dev', dir, '--http', '127.0.0.1:0', '--data-dir', join(scratch.path, 'site-node'), '--debounce', '50'])
    try {
      const curl = await dev.out.waitFor(l => l.startsWith('curl '), dev.exited.then(code => `${code}: ${dev.err.text}`))
      expect(curl).toMatch(/^curl http:\/\/127\.0\.0\.1:\d+\/$/)
      expect(dev.out.lines).toContain(`http: ${curl.slice('curl '.length, -1)}`)
      // An HTTP component has nothing to `wasmesh call`: its line is the curl one.
      expect(dev.out.text).not.toContain('wasmesh call ')
      const url = curl.slice('curl '.length)
      const get = async (path: string): Promise<string> => {
        const response = await fetch(new URL(path, url))
        expect(response.status).toBe(200)
        expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8')
        return await response.text()
      }
      expect(await get('/hi')).toBe('Hello from site! You asked for /hi\n')
      // the component's logs in the terminal
      await dev.err.waitFor(l => l.includes('[site] GET /hi'))

      const source = join(dir, 'src', 'index.js')
      await writeFile(source, (await readFile(source, 'utf8')).replace('Hello from', 'Howdy from'))
      const swapped = dev.out.waitFor(l => /^swapped in site \(\w+\), built in /.test(l), dev.exited)
      let done = false
      void swapped.then(() => { done = true }, () => { done = true })
      // Requests one after another from the save until the swap is over: each answered whole, by the old or the new one.
      const answers = new Set<string>()
      while (!done) answers.add(await get('/during'))
      await swapped
      expect(answers.size).toBeGreaterThan(0)
      for (const a of answers) expect(['Hello from site! You asked for /during\n', 'Howdy from site! You asked for /during\n']).toContain(a)
      expect(await get('/again')).toBe('Howdy from site! You asked for /again\n')
      expect(await dev.stop()).toBe(0)
    } finally {
      await dev.stop()
    }
  }, 2 * buildTimeoutMs)
})
