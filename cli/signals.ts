// Stop requests of long-running commands: the first SIGINT/SIGTERM (or an abort) asks for a graceful stop, a second exits at once.

import type { CommandContext } from './context.ts'

/** The exit status after a second signal, as shells report an interrupted command (128 + SIGINT). */
export const forcedExitCode = 130

/**
 * Resolves with the signal's name on the first stop request. From then on, a second SIGINT or
 * SIGTERM exits the process at once with 130. `dispose` removes the listeners.
 */
export function stopRequests (ctx: CommandContext, onForced?: () => void): { requested: Promise<string>, dispose (): void } {
  const { promise, resolve } = Promise.withResolvers<string>()
  let count = 0
  const onSignal = (name: NodeJS.Signals): void => {
    count++
    if (count === 1) { resolve(name); return }
    onForced?.()
    process.exit(forcedExitCode)
  }
  const onAbort = (): void => { resolve('abort') }
  const listen = ctx.signal === undefined
  if (listen) {
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  } else if (ctx.signal.aborted) {
    onAbort()
  } else {
    ctx.signal.addEventListener('abort', onAbort, { once: true })
  }
  return {
    requested: promise,
    dispose () {
      if (listen) {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      } else {
        ctx.signal?.removeEventListener('abort', onAbort)
      }
    }
  }
}
