// Where this wasmesh install lives (a clone, a global install, a project's node_modules) and how to run its command from anywhere.

import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The folder holding this install's package.json: two levels up from cli/ in a clone, three from dist/cli/ in a tarball. */
export function packageRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 3; i++) {
    dir = dirname(dir)
    const file = join(dir, 'package.json')
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'wasmesh') return dir
  }
  throw new Error(`no wasmesh package.json above ${fileURLToPath(import.meta.url)}`)
}

export function packageVersion (): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version
}

/** This install's command file, resolved through symlinks. */
export function binPath (): string {
  return realpathSync(join(packageRoot(), 'bin', 'wasmesh.js'))
}

/** Whether `wasmesh` on this PATH, outside npm's own node_modules/.bin folders, is this install's command (a global install or `npm link` of this folder). */
export function onPath (path: string | undefined): boolean {
  const bin = binPath()
  for (const dir of (path ?? '').split(delimiter)) {
    // npm run and npx put node_modules/.bin folders on the PATH of what they start, not on the user's terminal's.
    if (dir === '' || /node_modules[/\\]\.bin[/\\]?$/.test(dir)) continue
    const candidate = join(dir, 'wasmesh')
    try {
      if (statSync(candidate).isFile() && realpathSync(candidate) === bin) return true
    } catch {}
  }
  return false
}

/** Quotes a word for a POSIX shell when it needs it. */
function shellWord (word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`
}

/**
 * The command to paste into another terminal, in any folder, that runs this very install: `wasmesh` when that is
 * what PATH finds, else this install by its absolute path. Never a bare `npx wasmesh`: outside a folder that
 * installs wasmesh, npx would fetch whatever the registry has under that name and run it.
 */
export function commandLine (env: Readonly<Record<string, string | undefined>>): string {
  if (onPath(env.PATH)) return 'wasmesh'
  // The Node running now, by its path: in a clone that is the pinned Node 26 (npx --prefix would take PATH's node).
  return `${shellWord(process.execPath)} ${shellWord(binPath())}`
}
