// `wasmesh build` and `wasmesh dev` on projects `wasmesh new` made: a JS and a TS build that answer, the cache, errors with file and line, and a hot swap that drops no call.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNode } from '../../node/index.ts'
import type { LocalService } from '../../node/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { parseWit } from '../../protocol/wit/index.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { start, wasmesh } from './helpers.ts'

// componentize-js takes 2-30 s per build on this machine, depending on the load.
const buildTimeoutMs = 240_000

let scratch: ScratchDir
beforeAll(async () => { scratch = await scratchDir('build') })
afterAll(async () => { await scratch.remove() })

async function newProject (template: string, name: string): Promise<string> {
  const dir = join(scratch.path, name)
  const run = await wasmesh(['new', template, dir])
  expect(run.code, run.err).toBe(0)
  return dir
}

describe('wasmesh build', () => {
  it('builds a JavaScript project into a component that answers, then only hashes it', async () => {
    const dir = await newProject('rpc-js', 'greeter')
    const first = await wasmesh(['build', dir])
    expect(first.err).toBe('')
    expect(first.code).toBe(0)
    expect(first.out).toMatch(/build\/greeter\.wasm .* built in/)
    const call = await wasmesh(['call', '--component', join(dir, 'build', 'greeter.wasm'), 'local:greeter/greeter#greet("mesh")'])
    expect(call.out).toBe('"Hello, mesh!"')
    // the component's own console.log
    expect(call.err).toContain('[greeter] greeting mesh')
    const again = await wasmesh(['build', dir])
    expect(again.out).toMatch(/greeter\.wasm .* cached$/)

    // a syntax error: the file and line, and the last good component left alone
    const source = join(dir, 'src', 'index.js')
    const good = await readFile(source, 'utf8')
    await writeFile(source, 'export const greeter = {\n  greet (name) {\n    return `Hello, ${name}!`\n\n}\n')
    const broken = await wasmesh(['build', dir])
    expect(broken.code).toBe(1)
    expect(broken.err).toBe('error [build-failed]: src/index.js:6: SyntaxError: Unexpected end of input')

    // a function the WIT exports that the source lacks: the WIT's file and line
    await writeFile(source, good)
    const wit = join(dir, 'wit', 'world.wit')
    await writeFile(wit, (await readFile(wit, 'utf8')).replace('  greet: func(name: string) -> string;\n', '  greet: func(name: string) -> string;\n  wave: func() -> string;\n'))
    const mismatch = await wasmesh(['build', dir])
    expect(mismatch.code).toBe(1)
    expect(mismatch.err).toMatch(/^error \[build-failed\]: wit\/world\.wit:7: local:greeter\/greeter#wave is exported by world greeter-world, but src\/index\.js does not export it/)
  }, buildTimeoutMs)

  it('compiles a TypeScript project first; a TypeScript syntax error names file, line and column', async () => {
    const dir = await newProject('rpc-ts', 'hello-ts')
    const source = join(dir, 'src', 'index.ts')
    const good = await readFile(source, 'utf8')
    await writeFile(source, 'export const greeter = {\n  greet (name: string): string {\n    return (name as string\n  }\n}\n')
    const broken = await wasmesh(['build', dir])
    expect(broken.code).toBe(1)
    expect(broken.err).toBe("error [build-failed]: src/index.ts:4:3: error TS1005: ')' expected.")

    await writeFile(source, good)
    const built = await wasmesh(['build', dir])
    expect(built.code, built.err).toBe(0)
    const call = await wasmesh(['call', '--component', join(dir, 'build', 'hello-ts.wasm'), 'local:hello-ts/greeter#greet("types")'])
    expect(call.out).toBe('"Hello, types!"')
  }, buildTimeoutMs)

  it('says where the project file is missing', async () => {
    const run = await wasmesh(['build', scratch.path])
    expect(run.code).toBe(1)
    expect(run.err).toContain(`error [bad-project]: no wasmesh.json in ${scratch.path}`)
  })
})

/** `local:gate/gate#wait()`: a call that returns only when the test opens the gate, so that a call is surely in flight. */
function gateService (): LocalService & { entered: Promise<void>, open (): void } {
  const wit = 'package local:gate;\n\ninterface gate {\n  wait: func() -> string;\n}\n'
  const entered = Promise.withResolvers<void>()
  const opened = Promise.withResolvers<void>()
  return {
    digest: 'a'.repeat(64),
    name: 'gate',
    interfaces: [parseWit({ 'gate.wit': wit }).findInterface('local:gate/gate')!],
    wit,
    capacity: 8,
    call: async () => { entered.resolve(); await opened.promise; return ['gate'] },
    entered: entered.promise,
    open: () => { opened.resolve() }
  }
}

const versioned = (version: string): string => `import { wait } from 'local:gate/gate'

export const greeter = {
  greet (name) {
    console.log(\`greeting \${name}\`)
    return name === 'slow' ? \`\${wait()} ${version}\` : \`${version} \${name}\`
  }
}
`

describe('wasmesh dev', () => {
  it('serves the project, rebuilds on save and swaps the new component in while a call to the old one completes', async () => {
    const dir = await newProject('rpc-js', 'live')
    const wit = join(dir, 'wit', 'world.wit')
    await writeFile(wit, (await readFile(wit, 'utf8')).replace('world live-world {\n', 'world live-world {\n  import local:gate/gate;\n'))
    await mkdir(join(dir, 'wit', 'deps', 'gate'), { recursive: true })
    await writeFile(join(dir, 'wit', 'deps', 'gate', 'gate.wit'), 'package local:gate;\n\ninterface gate {\n  wait: func() -> string;\n}\n')
    await writeFile(join(dir, 'src', 'index.js'), versioned('v1'))

    const data = await scratchDir('dev-gate')
    const gateNode = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], dataDir: data.path, logger: silentLogger })
    const gate = gateService()
    let dev: ReturnType<typeof start> | undefined
    try {
      await gateNode.start()
      gateNode.serve(gate)
      dev = start(['dev', dir, '--bootstrap', gateNode.addresses()[0], '--data-dir', join(data.path, 'dev'), '--debounce', '50'])
      const line = await dev.out.waitFor(l => l.startsWith('wasmesh call '), dev.exited.then(code => `${code}: ${dev?.err.text}`))
      const bootstrap = / --bootstrap (\S+)/.exec(line)![1]
      expect(line).toBe(`wasmesh call 'local:live/greeter#greet("hello")' --bootstrap ${bootstrap}`)
      const greet = async (name: string): Promise<string> => {
        const run = await wasmesh(['call', `local:live/greeter#greet("${name}")`, '--bootstrap', bootstrap])
        expect(run.code, run.err).toBe(0)
        return run.out
      }
      expect(await greet('fast')).toBe('"v1 fast"')
      // the component's logs in the terminal
      await dev.err.waitFor(l => l.includes('[live] greeting fast'))

      const slow = greet('slow')
      await gate.entered
      await writeFile(join(dir, 'src', 'index.js'), versioned('v2'))
      await dev.out.waitFor(l => /^loaded live \(\w+\): new calls go to it; 1 call\(s\) in flight on the old one$/.test(l), dev.exited)
      expect(await greet('fast')).toBe('"v2 fast"')
      gate.open()
      expect(await slow).toBe('"gate v1"')
      await dev.out.waitFor(l => /^swapped in live \(\w+\), built in .*; 1 call\(s\) in flight on the old one finished$/.test(l), dev.exited)
      expect(await greet('again')).toBe('"v2 again"')
      expect(await dev.stop()).toBe(0)
    } finally {
      gate.open()
      if (dev !== undefined) await dev.stop()
      await gateNode.stop()
      await data.remove()
    }
  }, 2 * buildTimeoutMs)
})
