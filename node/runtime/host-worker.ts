// The body of a shared worker: instances of one or several components on one thread, each with a sandbox of its own (as inline), the calls of each one at a time.
import type { MessagePort } from 'node:worker_threads'
import { importFailure, instantiateGuest, type Guest } from './guest.ts'
import type { FromHost, ToHost } from './messages.ts'
import { createWasiImports, lockDownThread } from './sandbox.ts'

interface Hosted {
  guest?: Guest
  ended: boolean
  /** Its imports in flight, by id: answered by `import-result`, failed when it ends. */
  readonly imports: Map<number, { resolve: (r: unknown[]) => void, reject: (e: Error) => void }>
}

/** Serves the instances the runtime places here until the thread is terminated. */
export function runHost (port: MessagePort): void {
  // No instance placed here holds a network grant (those get a worker of their own, shared-workers.ts): the
  // shim's thread-wide defaults are emptied, and each instance's capabilities are its own sandbox's.
  lockDownThread({})
  const post = (msg: FromHost): void => { port.postMessage(msg) }
  const hosted = new Map<number, Hosted>()
  let nextImportId = 0

  port.on('message', (msg: ToHost) => {
    switch (msg.type) {
      case 'instantiate': {
        const instance = msg.instance
        const entry: Hosted = { ended: false, imports: new Map() }
        hosted.set(instance, entry)
        instantiateGuest(msg.init, {
          wasi: createWasiImports(msg.init.grants, {
            thread: 'shared',
            output: (stream, line) => { if (!entry.ended) post({ type: 'log', instance, stream, line }) },
            maxOutputLinesPerSecond: msg.init.maxOutputLinesPerSecond,
            outgoingHttp: msg.init.outgoingHttp
          }),
          importCall: async (iface, func, params) => await new Promise((resolve, reject) => {
            if (entry.ended) { reject(importFailure('stopped', 'the instance was ended')); return }
            const id = nextImportId++
            entry.imports.set(id, { resolve, reject })
            post({ type: 'import', instance, id, iface, func, params })
          }),
          drop: (iface, func, params) => { if (!entry.ended) post({ type: 'drop', instance, iface, func, params }) }
        }).then(guest => {
          entry.guest = guest
          if (!entry.ended) post({ type: 'ready', instance, instantiateMs: guest.instantiateMs })
        }, (err: unknown) => {
          hosted.delete(instance)
          post({ type: 'init-error', instance, message: err instanceof Error ? err.message : String(err) })
        })
        break
      }
      case 'call': {
        const guest = hosted.get(msg.instance)?.guest
        if (guest === undefined) {
          post({ type: 'result', instance: msg.instance, id: msg.id, ok: false, code: 'resource-lost', message: 'the instance is gone', discard: true })
          break
        }
        guest.call(msg.iface, msg.func, msg.params, a => { post({ type: 'result', instance: msg.instance, id: msg.id, ...a }) })
        break
      }
      case 'import-result': {
        const imports = hosted.get(msg.instance)?.imports
        const p = imports?.get(msg.id)
        if (p === undefined) break
        imports?.delete(msg.id)
        if (msg.ok) p.resolve(msg.results)
        else p.reject(importFailure(msg.code, msg.message))
        break
      }
      case 'end': {
        const entry = hosted.get(msg.instance)
        if (entry === undefined) break
        // Its guest is left to the GC; a call of it still awaiting an import fails there and answers no one.
        entry.ended = true
        hosted.delete(msg.instance)
        for (const p of entry.imports.values()) p.reject(importFailure('stopped', 'the instance was ended'))
        entry.imports.clear()
        break
      }
    }
  })
}
