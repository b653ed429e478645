#!/usr/bin/env node
// The `wasmesh` command: hands the arguments to the CLI and exits with its status.
import { existsSync } from 'node:fs'
import module from 'node:module'
import { homedir } from 'node:os'
import { join } from 'node:path'

// Node's compile cache keeps the type-stripped, compiled modules between runs (checked against each file's
// source): a `wasmesh call` spends most of its time loading modules, not on the network. Per user, beside the
// transpile cache; set in the environment so that instance workers use it too. NODE_COMPILE_CACHE=<dir> moves
// it, NODE_DISABLE_COMPILE_CACHE=1 turns it off.
if (process.env.NODE_COMPILE_CACHE === undefined || process.env.NODE_COMPILE_CACHE === '') {
  const xdg = process.env.XDG_CACHE_HOME
  process.env.NODE_COMPILE_CACHE = join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'wasmesh', 'node-compile-cache')
}
module.enableCompileCache?.()

// A checkout runs the TypeScript sources (Node strips the types); the npm package ships no sources, only dist/,
// compiled on prepack, since Node strips no types under node_modules. Sources win so that a stale dist/ never shadows them.
const source = new URL('../cli/main.ts', import.meta.url)
const entry = existsSync(source) ? source : new URL('../dist/cli/main.js', import.meta.url)
const { main } = await import(entry.href)

process.exitCode = await main(process.argv.slice(2))
