#!/usr/bin/env node
// The `wasmesh` command: hands the arguments to the CLI and exits with its status.
import { main } from '../node/cli/main.ts'

process.exitCode = await main(process.argv.slice(2))
