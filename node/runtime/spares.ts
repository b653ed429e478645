// Instance workers started ahead of need: a thread with the worker's modules loaded, waiting for the plan of the instance it becomes.
import { Worker } from 'node:worker_threads'
import type { FromWorker } from './messages.ts'

const workerUrl = new URL('./worker-entry.ts', import.meta.url)

/** A worker for one instance, the instance's plan not yet sent; `stdout`/`stderr` are piped (read them or they fill). */
export function startWorker (heapMb: number, workerData: unknown = null): Worker {
  return new Worker(workerUrl, {
    workerData,
    stdout: true,
    stderr: true,
    resourceLimits: { maxOldGenerationSizeMb: heapMb }
  })
}

/** More spares than this are not started, whatever `spareWorkers` says: each is a thread and ~28 MB. */
export const MAX_SPARES = 16

/**
 * Spares, by the heap size they were started with. A worker instance (instance.ts) takes one and sends it its plan,
 * so starting an instance costs what its component takes to instantiate, not a thread's start and the module graph
 * of the sandbox (preview2-shim): scale from zero without the cold start. The first spare is started with the first
 * worker instance (a node that never runs one pays nothing); each one taken is replaced at once. A spare holds no
 * guest and no grant: the sandbox is built, and the thread locked down, from the plan it receives.
 */
export class SpareWorkers {
  readonly #count: number
  readonly #spares = new Map<number, Set<Worker>>()
  /** Each spare's exit, until it is taken (then its instance waits for it). */
  readonly #exits = new Map<Worker, Promise<void>>()
  /** Spares that said they wait for a plan (worker.ts posts `spare-ready`). */
  readonly #ready = new WeakSet<Worker>()
  #closed = true

  /** `count`: spares kept per heap size (0: none, every worker instance starts its own thread; at most `MAX_SPARES`). */
  constructor (count: number) {
    this.#count = Math.min(MAX_SPARES, Math.max(0, Math.floor(count)))
  }

  /** Spares whose modules are loaded, waiting for a plan. */
  get ready (): number {
    let n = 0
    for (const heapMb of this.#spares.keys()) n += this.readyFor(heapMb)
    return n
  }

  /** Ready spares started with `heapMb`. */
  readyFor (heapMb: number): number {
    let n = 0
    for (const w of this.#spares.get(heapMb) ?? []) if (this.#ready.has(w)) n++
    return n
  }

  /** A spare started with `heapMb`, if one is there (its replacement starts now); else undefined. */
  take (heapMb: number): Worker | undefined {
    if (this.#closed || this.#count === 0) return undefined
    const spares = this.#spares.get(heapMb)
    const taken = spares?.values().next().value
    if (taken !== undefined) {
      spares?.delete(taken)
      this.#exits.delete(taken)
      // Idle, it must not keep the process alive; as an instance it does, as any instance's worker.
      taken.ref()
    }
    this.#fill(heapMb)
    return taken
  }

  #fill (heapMb: number): void {
    let spares = this.#spares.get(heapMb)
    if (spares === undefined) this.#spares.set(heapMb, spares = new Set())
    while (!this.#closed && spares.size < this.#count) {
      const worker = startWorker(heapMb)
      worker.unref()
      // Nothing should come out of a spare; whatever does is not kept.
      worker.stdout.resume()
      worker.stderr.resume()
      const set = spares
      this.#exits.set(worker, new Promise<void>(resolve => {
        worker.once('exit', () => { set.delete(worker); this.#exits.delete(worker); resolve() })
      }))
      worker.once('message', (msg: FromWorker) => { if (msg.type === 'spare-ready') this.#ready.add(worker) })
      // A spare that fails to start is dropped; the instance that would have taken it starts its own thread.
      worker.on('error', () => { set.delete(worker) })
      spares.add(worker)
    }
  }

  /** Spares are started from now on, as worker instances take them. */
  start (): void {
    this.#closed = false
  }

  /** Ends every spare; none is started until `start`. */
  async stop (): Promise<void> {
    this.#closed = true
    for (const spares of this.#spares.values()) {
      for (const w of spares) void w.terminate()
    }
    this.#spares.clear()
    await Promise.all([...this.#exits.values()])
  }
}
