// The WASI WIT builds stage: the copy in wit/wasi-0.2.12 is jco's own, and a world's WASI references pick the versions staged.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { wasiVersionsNeeded, wasiWit, wasiWitDir } from '../../cli/build/wasi-wit.ts'

const jcoWasi = fileURLToPath(new URL('../../node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12/', import.meta.url))

describe('the staged WASI WIT', () => {
  it('is jco\'s WASI 0.2.12 unchanged (re-copy it when jco is upgraded)', async () => {
    const packages = (await readdir(jcoWasi)).sort()
    expect(packages.length).toBeGreaterThan(5)
    for (const pkg of packages) {
      for (const file of await readdir(join(jcoWasi, pkg))) {
        expect(await readFile(join(wasiWitDir, pkg, file), 'utf8'), `${pkg}/${file}`).toBe(await readFile(join(jcoWasi, pkg, file), 'utf8'))
      }
    }
  })

  it('is renamed to the version asked for, one deps/ folder per package', async () => {
    const files = await wasiWit('0.2.10')
    const http = files.find(f => f.stagePath === join('deps', 'wasi-http-0.2.10', 'package.wit'))
    expect(http?.text).toContain('package wasi:http@0.2.10;')
    expect(files.every(f => !f.text.includes('@0.2.12'))).toBe(true)
  })

  it('is staged for the WASI versions a world names and does not bring, not for comments or deps it ships', () => {
    const world = '// uses wasi:cli/run@0.2.3 nowhere\nworld w {\n  import wasi:keyvalue/store@0.2.0-draft;\n  export wasi:http/incoming-handler@0.2.10;\n}\n'
    expect(wasiVersionsNeeded([world], new Set())).toEqual(['0.2.10'])
    expect(wasiVersionsNeeded([world], new Set(['wasi:http@0.2.10']))).toEqual([])
    expect(wasiVersionsNeeded(['world w {\n  export local:x/y;\n}\n'], new Set())).toEqual([])
    expect(wasiVersionsNeeded(['interface i {\n  use wasi:http/types@0.2.12.{request};\n}\n'], new Set())).toEqual(['0.2.12'])
  })
})
