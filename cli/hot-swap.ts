// Replaces a node's component with a rebuilt one without failing a call: the new one is loaded (and takes the routes) first, the old one unloaded once its calls in flight are done.
import type { ComponentSpec, LoadedComponent, MeshNode } from '../node/index.ts'

export interface HotSwap {
  readonly current: LoadedComponent
  /** Loads `spec`, then waits (up to `drainTimeoutMs`) for the old component's calls to finish and unloads it; returns how many were in flight. */
  swap (spec: ComponentSpec, onLoaded?: (component: LoadedComponent, inFlight: number) => void): Promise<{ component: LoadedComponent, inFlight: number, drained: boolean }>
  /** Call on every call the node finished (its observer's `call`): what the drain waits for. */
  callEnded (): void
}

export function createHotSwap (node: MeshNode, first: LoadedComponent, drainTimeoutMs: number): HotSwap {
  let current = first
  let wake: (() => void) | undefined
  const pending = (id: string): number => {
    const s = node.componentStats(id)
    return s.busy + s.queued
  }

  async function drain (id: string): Promise<boolean> {
    const timeout = Promise.withResolvers<void>()
    const timer = setTimeout(timeout.resolve, drainTimeoutMs)
    try {
      while (pending(id) > 0) {
        const ended = Promise.withResolvers<void>()
        wake = ended.resolve
        if (await Promise.race([ended.promise.then(() => false), timeout.promise.then(() => true)])) return false
      }
      return true
    } finally {
      wake = undefined
      clearTimeout(timer)
    }
  }

  return {
    get current () { return current },
    async swap (spec, onLoaded) {
      const old = current
      // Loading serves the new exports in place of the old ones: from here new calls go to it.
      const component = await node.load(spec)
      current = component
      const inFlight = pending(old.id)
      onLoaded?.(component, inFlight)
      const drained = await drain(old.id)
      await node.unload(old.id)
      return { component, inFlight, drained }
    },
    callEnded () { wake?.() }
  }
}
