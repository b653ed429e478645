// Shared workers: instances of one or several components on a few threads sized by the machine, a deadline still able to stop a looping guest (its thread is replaced, its neighbours' calls that had not started run again elsewhere).
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads'
import { NotStarted, RuntimeError } from './errors.ts'
import { answerImport, newInstanceId, refusal, settleCall, timeoutMessage, type Instance, type InstanceHooks, type InstanceOptions } from './instance.ts'
import type { FromHost, HostInit, ToHost, WorkerInit } from './messages.ts'
import { startWorker, type SpareWorkers } from './spares.ts'

interface Pending {
  readonly id: number
  /** When it was sent, in the thread's order (the thread takes its messages in that order). */
  readonly seq: number
  /** A message of the call came back (an import, a drop, a line): it has run, whatever happens next. */
  started: boolean
  readonly resolve: (results: unknown[]) => void
  readonly reject: (err: Error) => void
  readonly timer: NodeJS.Timeout
}

/** One instance in a shared worker: what the pool sees of it. */
class HostedInstance implements Instance {
  readonly id = newInstanceId()
  readonly handles = new Set<string>()
  instantiateMs = 0
  busy = false
  #dead = false
  readonly #host: Host
  readonly component: string
  readonly #hooks: InstanceHooks
  #pending: Pending | null = null
  #nextCall = 0
  /** Imports it awaits the answer of: while one is out, its guest is suspended, not running. */
  #awaiting = 0

  constructor (host: Host, component: string, hooks: InstanceHooks) {
    this.#host = host
    this.component = component
    this.#hooks = hooks
  }

  get dead (): boolean { return this.#dead }

  get pending (): Pending | null { return this.#pending }

  call (iface: string, func: string, params: unknown[], timeoutMs: number): Promise<unknown[]> {
    const refused = refusal(this.#dead, this.#pending !== null)
    if (refused !== undefined) return refused
    const id = this.#nextCall++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new RuntimeError('timeout', timeoutMessage(iface, func, timeoutMs))
        // Suspended on an import, the thread is free: this instance alone ends. Else its guest may hold the
        // thread (or waits behind one that does): the thread is stopped and replaced.
        if (this.#awaiting > 0) this.end(err)
        else this.#host.kill(this, err)
      }, timeoutMs)
      this.#pending = { id, seq: this.#host.nextSeq(), started: false, resolve, reject, timer }
      this.#host.post({ type: 'call', instance: this.id, id, iface, func, params })
    })
  }

  /** A message from its guest. */
  receive (msg: FromHost): void {
    switch (msg.type) {
      case 'result': {
        const p = this.#pending
        if (p === null || p.id !== msg.id) return
        this.#pending = null
        settleCall(p, msg, () => { this.end(null) })
        return
      }
      case 'import': {
        if (this.#pending !== null) this.#pending.started = true
        this.#awaiting++
        void answerImport(this.#hooks, msg, answer => {
          this.#awaiting--
          this.#host.post({ ...answer, instance: this.id })
        })
        return
      }
      case 'drop':
        if (this.#pending !== null) this.#pending.started = true
        this.#hooks.onDrop(msg.iface, msg.func, msg.params)
        return
      case 'log':
        if (this.#pending !== null) this.#pending.started = true
        this.#hooks.log(msg.stream, msg.line)
    }
  }

  /** Its thread is gone: its call fails with `err`, or, if it never began, with `NotStarted` (to run again). */
  lost (err: Error, neverStarted: boolean): void {
    this.#dead = true
    const p = this.#pending
    this.#pending = null
    if (p === null) return
    clearTimeout(p.timer)
    p.reject(neverStarted ? new NotStarted() : err)
  }

  /** Ends this instance alone (its thread serves on): its call in flight fails with `err`. */
  end (err: RuntimeError | null): void {
    if (this.#dead) return
    this.#dead = true
    const p = this.#pending
    this.#pending = null
    if (p !== null) {
      clearTimeout(p.timer)
      p.reject(err ?? new RuntimeError('trap', 'instance discarded'))
    }
    this.#host.post({ type: 'end', instance: this.id })
    this.#host.ended(this)
  }

  async terminate (): Promise<void> {
    this.end(new RuntimeError('stopped', 'the instance was stopped'))
  }
}

/** One shared worker thread and the instances on it. */
class Host {
  readonly heapMb: number
  readonly instances = new Map<number, HostedInstance>()
  /** Instances being instantiated here, counted for placement. */
  starting = 0
  dead = false
  readonly #worker: Worker
  readonly #port: MessagePort
  readonly #starts = new Map<number, { resolve: (i: HostedInstance) => void, reject: (e: Error) => void, instance: HostedInstance, timer: NodeJS.Timeout }>()
  readonly #onGone: (host: Host) => void
  readonly #lingerMs: number
  /** Armed while the thread holds no instance: it ends when this fires, unless an instance comes first. */
  #linger: NodeJS.Timeout | undefined
  /** Instances here (live or starting) by component. */
  readonly #components = new Map<string, number>()
  readonly exited: Promise<void>
  #seq = 0

  constructor (worker: Worker, heapMb: number, lingerMs: number, onGone: (host: Host) => void) {
    this.#worker = worker
    this.heapMb = heapMb
    this.#lingerMs = lingerMs
    this.#onGone = onGone
    // Its own port, not the worker's: `kill` reads what is already there synchronously before it decides.
    const { port1, port2 } = new MessageChannel()
    this.#port = port1
    worker.postMessage({ type: 'host', port: port2 } satisfies HostInit, [port2])
    port1.on('message', (msg: FromHost) => { this.#receive(msg) })
    // Guests write through their own sandboxes' streams (as `log` messages); the thread's own output is not kept.
    worker.stdout.resume()
    worker.stderr.resume()
    this.exited = new Promise(resolve => worker.once('exit', () => resolve()))
    worker.on('error', (err: Error) => {
      const oom = (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY'
      this.kill(null, new RuntimeError('trap', oom ? `shared worker ran out of memory: ${err.message}` : `shared worker crashed: ${err.message}`))
    })
    worker.on('exit', code => { this.kill(null, new RuntimeError('trap', `shared worker exited (code ${code})`)) })
  }

  nextSeq (): number { return this.#seq++ }

  post (msg: ToHost): void {
    if (!this.dead) this.#port.postMessage(msg)
  }

  load (): number { return this.instances.size + this.starting }

  /** Whether an instance of `component` lives or starts here. */
  holds (component: string): boolean { return (this.#components.get(component) ?? 0) > 0 }

  instantiate (component: string, init: WorkerInit, opts: InstanceOptions, hooks: InstanceHooks): Promise<HostedInstance> {
    clearTimeout(this.#linger)
    this.#linger = undefined
    this.#worker.ref()
    const instance = new HostedInstance(this, component, hooks)
    this.#components.set(component, (this.#components.get(component) ?? 0) + 1)
    this.starting++
    return new Promise<HostedInstance>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#starts.delete(instance.id)
        this.#forget(component)
        this.starting--
        // It may be looping in its start: the thread is replaced, as for a call's deadline.
        this.kill(null, new RuntimeError('trap', `instantiation took over ${opts.instantiateTimeoutMs} ms`))
        reject(new RuntimeError('trap', `instantiation took over ${opts.instantiateTimeoutMs} ms`))
      }, opts.instantiateTimeoutMs)
      this.#starts.set(instance.id, { resolve, reject, instance, timer })
      this.post({ type: 'instantiate', instance: instance.id, init })
    })
  }

  #receive (msg: FromHost): void {
    const start = this.#starts.get(msg.instance)
    if (start !== undefined && (msg.type === 'ready' || msg.type === 'init-error')) {
      this.#starts.delete(msg.instance)
      this.starting--
      clearTimeout(start.timer)
      if (msg.type === 'ready') {
        start.instance.instantiateMs = msg.instantiateMs
        this.instances.set(start.instance.id, start.instance)
        start.resolve(start.instance)
      } else {
        this.#forget(start.instance.component)
        start.reject(new RuntimeError('trap', `instantiation failed: ${msg.message}`))
        this.#idle()
      }
      return
    }
    // A line written during instantiation has no instance yet to go to; dropped as a spare's output is.
    this.instances.get(msg.instance)?.receive(msg)
  }

  /** An instance ended here: a thread with none left lingers, then ends (`#idle`). */
  ended (instance: HostedInstance): void {
    if (this.instances.delete(instance.id)) this.#forget(instance.component)
    this.#idle()
  }

  #forget (component: string): void {
    const n = (this.#components.get(component) ?? 0) - 1
    if (n > 0) this.#components.set(component, n)
    else this.#components.delete(component)
  }

  /**
   * A thread with no instance left stays warm for `lingerMs` (an instance started on it then costs a few ms less
   * than on a fresh one: the runtime's code has run there), then ends; 0: at once.
   */
  #idle (): void {
    if (this.instances.size > 0 || this.starting > 0 || this.dead || this.#linger !== undefined) return
    const end = (): void => { this.kill(null, new RuntimeError('stopped', 'the shared worker had no instance left')) }
    if (!(this.#lingerMs > 0)) { end(); return }
    // Empty, it keeps no process alive (as a spare does not); an instance placed on it holds it again.
    this.#worker.unref()
    this.#linger = setTimeout(() => { this.#linger = undefined; if (this.instances.size === 0 && this.starting === 0) end() }, Math.min(this.#lingerMs, 2 ** 31 - 1))
    // Housekeeping: it must not keep a process alive that has nothing else to do.
    this.#linger.unref()
  }

  /**
   * Stops the thread: `culprit`'s call fails with `err`, every other instance here is lost. Their calls that had
   * run (a message came back) fail; of those that had not, the earliest sent may be what held the thread and fails
   * too, and the rest never began (the thread takes messages in order, one at a time): `NotStarted`, to run again.
   */
  kill (culprit: HostedInstance | null, err: RuntimeError): void {
    if (this.dead) return
    // Dead first: what the reading below sets off (an instance discarded by its answer) posts nothing and ends nothing.
    this.dead = true
    clearTimeout(this.#linger)
    this.#linger = undefined
    // What the thread finished before it was stopped counts: read it now, before deciding.
    for (let m = receiveMessageOnPort(this.#port); m !== undefined; m = receiveMessageOnPort(this.#port)) this.#receive(m.message as FromHost)
    this.#port.close()
    void this.#worker.terminate()
    // The earliest call sent that sent nothing back may be the one holding the thread (the culprit's included).
    let earliest = Infinity
    for (const i of this.instances.values()) {
      const p = i.pending
      if (p !== null && !p.started) earliest = Math.min(earliest, p.seq)
    }
    const gone = culprit === null ? err : new RuntimeError('trap', 'the shared worker this instance ran on was stopped (another instance\'s deadline)')
    for (const i of this.instances.values()) {
      const p = i.pending
      if (i === culprit) i.lost(err, false)
      else i.lost(gone, p !== null && !p.started && p.seq > earliest)
    }
    this.instances.clear()
    for (const s of this.#starts.values()) {
      clearTimeout(s.timer)
      s.reject(new RuntimeError('trap', `instantiation failed: ${err.message}`))
    }
    this.#starts.clear()
    this.starting = 0
    this.#onGone(this)
  }
}

/**
 * Up to `threads` shared workers per heap size; an instance goes to the one with the fewest (a new one while
 * there are fewer than `threads` and a spare is ready). Threads are taken from the spares and end `lingerMs` after
 * their last instance did.
 */
export class SharedWorkers {
  readonly #threads: number
  readonly #lingerMs: number
  readonly #spares: SpareWorkers
  readonly #hosts = new Set<Host>()
  readonly #exits = new Set<Promise<void>>()

  /** `lingerMs`: how long a thread with no instance left stays (the runtime's `instanceIdleTimeoutMs`). */
  constructor (threads: number, spares: SpareWorkers, lingerMs: number) {
    this.#threads = Math.max(0, Math.floor(threads))
    this.#spares = spares
    this.#lingerMs = lingerMs
  }

  /** Whether instances are placed in shared workers at all (`sharedWorkers` > 0). */
  get enabled (): boolean { return this.#threads > 0 }

  /** Live shared threads. */
  get threads (): number { return this.#hosts.size }

  /** An instance of `component` (its id): never on a thread that holds another instance of it. */
  async spawn (component: string, init: WorkerInit, opts: InstanceOptions, hooks: InstanceHooks): Promise<Instance> {
    let host: Host | undefined
    let count = 0
    for (const h of this.#hosts) {
      if (h.heapMb !== opts.heapMb || h.dead) continue
      count++
      if (h.holds(component)) continue
      if (host === undefined || h.load() < host.load()) host = h
    }
    // A component's own instances each get a thread (else one's loop would hold up the others, and maxInstances
    // would buy no parallelism). Beyond that, spread over up to `threads` threads, but only onto a spare that is
    // ready: a thread's cold start costs more than sharing one (~100 ms against a few).
    if (host === undefined || (count < this.#threads && host.load() > 0 && this.#spares.readyFor(opts.heapMb) > 0)) host = this.#start(opts.heapMb)
    return await host.instantiate(component, init, opts, hooks)
  }

  #start (heapMb: number): Host {
    const worker = this.#spares.take(heapMb) ?? startWorker(heapMb)
    const host = new Host(worker, heapMb, this.#lingerMs, gone => { this.#hosts.delete(gone) })
    this.#hosts.add(host)
    const exited = host.exited.finally(() => this.#exits.delete(exited))
    this.#exits.add(exited)
    return host
  }

  /** Stops every shared thread (their instances are lost) and waits for them to exit. */
  async stop (): Promise<void> {
    for (const h of [...this.#hosts]) h.kill(null, new RuntimeError('stopped', 'the runtime stopped'))
    await Promise.all([...this.#exits])
  }
}
