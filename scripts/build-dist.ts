// Compiles protocol/ and node/ to dist/ for the npm package (Node strips no types under node_modules); `--clean` removes dist/ again.
import { execFileSync } from 'node:child_process'
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('..', import.meta.url))
const dist = join(repo, 'dist')

rmSync(dist, { recursive: true, force: true })
if (process.argv.includes('--clean')) process.exit(0)

try {
  // tsc reports on stdout: send it to stderr, where whoever runs npm pack looks for errors.
  execFileSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repo, 'tsconfig.build.json')], { stdio: ['ignore', 2, 2] })
} catch (err) {
  // tsc emits even when it finds errors: leave no half-checked dist/ behind.
  rmSync(dist, { recursive: true, force: true })
  throw err
}

// rewriteRelativeImportExtensions covers import specifiers only; a worker's `new URL('./worker.ts', import.meta.url)` is rewritten here.
const URL_TS = /new URL\((['"])(\.{1,2}\/[^'"]+)\.ts\1, import\.meta\.url\)/g
let rewritten = 0
for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.js')) continue
  const file = join(entry.parentPath, entry.name)
  const text = readFileSync(file, 'utf8')
  const next = text.replace(URL_TS, (_, q: string, path: string) => { rewritten++; return `new URL(${q}${path}.js${q}, import.meta.url)` })
  if (next !== text) writeFileSync(file, next)
  // Anything else still naming a .ts module would fail only at run time, in someone's node_modules: fail the build now.
  const left = /(?:import\(|from |new URL\()\s*['"]\.{1,2}\/[^'"]+\.ts['"]/.exec(next)
  if (left !== null) throw new Error(`${file} still refers to a TypeScript file: ${left[0]}`)
}
// Modules read WIT beside them (a provider's world) or at `../../../wit/` from their folder: give dist/ the same
// shape, so a path that works in the repository works in an install.
for (const entry of readdirSync(join(repo, 'node'), { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.wit')) continue
  const from = join(entry.parentPath, entry.name)
  cpSync(from, join(dist, relative(repo, from)))
}
cpSync(join(repo, 'wit'), join(dist, 'wit'), { recursive: true })
// the console's page is served from the files beside its module
cpSync(join(repo, 'node', 'console', 'page'), join(dist, 'node', 'console', 'page'), { recursive: true })
console.error(`dist/ built (${rewritten} worker URL${rewritten === 1 ? '' : 's'} rewritten to .js)`)
