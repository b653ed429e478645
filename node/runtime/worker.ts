// The body of an instance worker: instantiates one transpiled component in its own sandbox and runs the calls it is sent, one at a time (or, as a shared worker, host-worker.ts).
import { parentPort, workerData } from 'node:worker_threads'
import { importFailure, instantiateGuest } from './guest.ts'
import { runHost } from './host-worker.ts'
import type { FromWorker, HostInit, SpareInit, ToWorker, WorkerInit } from './messages.ts'
import { createWasiImports } from './sandbox.ts'

const port = parentPort ?? (() => { throw new Error('worker.ts must run in a worker thread') })()
const post = (msg: FromWorker): void => { port.postMessage(msg) }
// A spare (spares.ts) is started with no plan, its modules loaded ahead of need: its first message makes it the
// worker of one instance (its plan) or a shared worker (the port its instances' messages come through).
const first = workerData !== null
  ? { type: 'init', init: workerData as WorkerInit } as const
  : await new Promise<SpareInit | HostInit>(resolve => {
    port.once('message', (msg: SpareInit | HostInit) => { resolve(msg) })
    post({ type: 'spare-ready' })
  })
if (first.type === 'host') runHost(first.port)
else await serveOne(first.init)

async function serveOne (init: WorkerInit): Promise<void> {
  let nextImportId = 0
  const pendingImports = new Map<number, { resolve: (r: unknown[]) => void, reject: (e: Error) => void }>()
  /** Set once instantiated; the pool sends no call before 'ready'. */
  let onCall: ((msg: Extract<ToWorker, { type: 'call' }>) => void) | undefined

  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'call') {
      onCall?.(msg)
    } else if (msg.type === 'import-result') {
      const p = pendingImports.get(msg.id)
      if (p === undefined) return
      pendingImports.delete(msg.id)
      if (msg.ok) p.resolve(msg.results)
      else p.reject(importFailure(msg.code, msg.message))
    }
  })

  try {
    const guest = await instantiateGuest(init, {
      // A worker hosts exactly one instance: its sandbox may lock down the whole thread.
      wasi: createWasiImports(init.grants, {
        thread: 'dedicated',
        output: (stream, line) => { post({ type: 'log', stream, line }) },
        maxOutputLinesPerSecond: init.maxOutputLinesPerSecond,
        outgoingHttp: init.outgoingHttp
      }),
      importCall: async (iface, func, params) => await new Promise((resolve, reject) => {
        const id = nextImportId++
        pendingImports.set(id, { resolve, reject })
        post({ type: 'import', id, iface, func, params })
      }),
      drop: (iface, func, params) => { post({ type: 'drop', iface, func, params }) }
    })
    onCall = msg => {
      guest.call(msg.iface, msg.func, msg.params, a => { post({ type: 'result', id: msg.id, ...a }) })
    }
    post({ type: 'ready', instantiateMs: guest.instantiateMs })
  } catch (err) {
    post({ type: 'init-error', message: err instanceof Error ? err.message : String(err) })
  }
}
