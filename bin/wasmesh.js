#!/usr/bin/env node
// The `wasmesh` command: hands the arguments to the CLI and exits with its status.
import { existsSync } from 'node:fs'

// A checkout runs the TypeScript sources (Node strips the types); the npm package ships no sources, only dist/,
// compiled on prepack, since Node strips no types under node_modules. Sources win so that a stale dist/ never shadows them.
const source = new URL('../cli/main.ts', import.meta.url)
const entry = existsSync(source) ? source : new URL('../dist/cli/main.js', import.meta.url)
const { main } = await import(entry.href)

process.exitCode = await main(process.argv.slice(2))
