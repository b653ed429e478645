// The wRPC instance string of a call: the interface id, or `<iface>#<component>` for a call to one named component on the serving peer.

/**
 * wRPC's header carries only `{instance, name}`, and a stock wRPC client writes the instance as any text it is
 * given; an interface id never holds `#`, so `<iface>#<component>` targets one component (name or digest) and a
 * plain id reaches whichever component the serving node picks.
 */
export function componentInstance (iface: string, component: string | undefined): string {
  return component === undefined ? iface : `${iface}#${component}`
}

/** The interface and the named component, if any, of an instance string. */
export function parseInstance (instance: string): { iface: string, component?: string } {
  const hash = instance.indexOf('#')
  if (hash < 0) return { iface: instance }
  const component = instance.slice(hash + 1)
  return component === '' ? { iface: instance.slice(0, hash) } : { iface: instance.slice(0, hash), component }
}
