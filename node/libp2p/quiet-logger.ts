// One disabled logger for every libp2p component and scope, unless DEBUG asks for libp2p's own logs.

import type { ComponentLogger, Logger } from '@libp2p/interface'

const noop = (): void => {}

/** A logger that logs nothing; its scopes are itself, so creating one per stream costs nothing. */
const disabled: Logger = Object.assign(noop as unknown as Logger, {
  error: noop,
  trace: noop,
  enabled: false,
  newScope: (): Logger => disabled
})

/**
 * js-libp2p creates a new logger scope for every stream (yamux names one per stream id, the
 * multistream-select helpers another), and each creation asks `tty.isatty` whether stderr takes
 * colours: 2-3% of a busy node's CPU for logs nobody enabled. With `DEBUG` set this returns
 * undefined, so libp2p makes its own logger and `DEBUG=libp2p:*` works as documented.
 */
export function quietLogger (env: Readonly<Record<string, string | undefined>> = process.env): ComponentLogger | undefined {
  if (env.DEBUG !== undefined && env.DEBUG !== '') return undefined
  return { forComponent: () => disabled }
}
