// preview2-shim's I/O thread, started on a guest's first blocking I/O instead of when the shim is imported.
import { registerHooks } from 'node:module'

/**
 * preview2-shim runs its blocking I/O (streams, polls, files, sockets) on a thread of its own, which its
 * `synckit` module starts at import: every thread that imports the shim gets a second one (~27 MB RSS, measured
 * on a spare instance worker: 33.5 MB with it, 8 MB without), whether its guest ever does I/O or not, as a WAT
 * component answering calls does not. This load hook rewrites that one module so that `createSyncFn` starts the
 * thread on the first call of the function it returns. Same thread, same calls, only later. A shim whose source
 * no longer has the shape it expects is loaded unchanged (the eager thread, as before): `lazyShimIo` says which.
 */
const SYNCKIT = /\/@bytecodealliance\/preview2-shim\/dist\/synckit\/index\.js$/
const EAGER = 'export function createSyncFn('

/** A thread's shim I/O: `lazy` once the hook rewrote synckit, `eager` if its source did not match, `unloaded` before. */
export let lazyShimIo: 'unloaded' | 'lazy' | 'eager' = 'unloaded'
let installed = false

/** The rewritten source of synckit, or undefined if it is not the shape this expects. */
export function lazySynckit (source: string): string | undefined {
  if (source.split(EAGER).length !== 2) return undefined
  return source.replace(EAGER, 'function createSyncFnNow(') + `
export function createSyncFn(createWorker, debug, callbackHandler) {
  let syncFn;
  return (...args) => (syncFn ??= createSyncFnNow(createWorker, debug, callbackHandler))(...args);
}
`
}

/** Installs the hook on this thread (once): call it before the shim is first imported here. */
export function installLazyShimIo (): void {
  if (installed) return
  installed = true
  registerHooks({
    load (url, context, nextLoad) {
      const loaded = nextLoad(url, context)
      if (!SYNCKIT.test(url) || loaded.source === undefined) return loaded
      const source = typeof loaded.source === 'string' ? loaded.source : new TextDecoder().decode(loaded.source)
      const lazy = lazySynckit(source)
      lazyShimIo = lazy === undefined ? 'eager' : 'lazy'
      return lazy === undefined ? loaded : { ...loaded, source: lazy }
    }
  })
}
