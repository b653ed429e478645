// Stop requests of long-running commands: the first SIGINT/SIGTERM (or an abort, or the end of npm's wrapper) asks for a graceful stop, a second exits at once.

import type { CommandContext } from './context.ts'

/** The exit status after a second signal, as shells report an interrupted command (128 + SIGINT). */
export const forcedExitCode = 130

/**
 * How often a command run by npm (`npx wasmesh ...`, an npm script) checks that its parent process still runs.
 * npm runs the bin under `sh -c`, and forwards a SIGTERM it gets to that shell only: where /bin/sh is dash
 * (Debian, Ubuntu) the shell dies of it and the node would run on as an orphan, signalled by nobody.
 */
export const parentWatchIntervalMs = 500

/**
 * Under npm, a second signal this soon after the first is the same Ctrl-C: the terminal signals the whole
 * process group, and npm forwards its own copy to its child (the node itself where the shell execs it: bash as
 * /bin/sh, `exec` in an npm script), which would otherwise count it as the second Ctrl-C and exit 130 undrained.
 */
export const npmForwardedSignalWindowMs = 500

/** Whether npm started this process (npm exec / npx and npm run set npm_lifecycle_event for the scripts they run). */
function runByNpm (env: CommandContext['env']): boolean {
  return env.npm_lifecycle_event !== undefined
}

/**
 * Resolves with the signal's name on the first stop request (or "parent process <pid> exited" when npm's
 * wrapper that ran this command ends, see parentWatchIntervalMs). From then on, a second SIGINT or
 * SIGTERM exits the process at once with 130. `dispose` removes the listeners.
 */
export function stopRequests (ctx: CommandContext, onForced?: () => void): { requested: Promise<string>, dispose (): void } {
  const { promise, resolve } = Promise.withResolvers<string>()
  let count = 0
  let firstAt = 0
  const byNpm = runByNpm(ctx.env)
  const onSignal = (name: NodeJS.Signals): void => {
    count++
    if (count === 1) { firstAt = performance.now(); resolve(name); return }
    if (byNpm && performance.now() - firstAt < npmForwardedSignalWindowMs) { count--; return }
    onForced?.()
    process.exit(forcedExitCode)
  }
  const onAbort = (): void => { resolve('abort') }
  const listen = ctx.signal === undefined
  let parentWatch: ReturnType<typeof setInterval> | undefined
  if (listen) {
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    if (byNpm) {
      const parent = process.ppid
      parentWatch = setInterval(() => {
        if (process.ppid === parent) return
        clearInterval(parentWatch)
        resolve(`parent process ${parent} exited`)
      }, parentWatchIntervalMs)
      parentWatch.unref()
    }
  } else if (ctx.signal.aborted) {
    onAbort()
  } else {
    ctx.signal.addEventListener('abort', onAbort, { once: true })
  }
  return {
    requested: promise,
    dispose () {
      clearInterval(parentWatch)
      if (listen) {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      } else {
        ctx.signal?.removeEventListener('abort', onAbort)
      }
    }
  }
}
