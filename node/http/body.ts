// Bodies in motion: a bounded queue of byte chunks (the writer waits while it is full) and a reader taking at most n bytes at a time from a chunk iterator.
import { HttpError } from './errors.ts'

/**
 * Chunks from a writer to one async-iterating reader. `push` resolves once the queue holds fewer than
 * `highWaterBytes`, so a fast writer waits for a slow reader instead of buffering a body whole.
 */
export class ByteQueue implements AsyncIterable<Uint8Array> {
  readonly #highWaterBytes: number
  readonly #chunks: Uint8Array[] = []
  #bytes = 0
  #ended = false
  #error: Error | undefined
  #reader: PromiseWithResolvers<void> | undefined
  #writer: PromiseWithResolvers<void> | undefined
  /** A reader has started (iterating or `takeEnded`): the chunks are its. */
  #iterating = false

  constructor (highWaterBytes: number) {
    this.#highWaterBytes = Math.max(1, highWaterBytes)
  }

  async push (chunk: Uint8Array): Promise<void> {
    if (this.#error !== undefined) throw this.#error
    if (this.#ended || chunk.byteLength === 0) return
    this.#chunks.push(chunk)
    this.#bytes += chunk.byteLength
    this.#wakeReader()
    while (this.#bytes >= this.#highWaterBytes && !this.#ended && this.#error === undefined) {
      this.#writer ??= Promise.withResolvers()
      await this.#writer.promise
    }
    if (this.#error !== undefined) throw this.#error
  }

  /**
   * The whole body as one chunk, taken out of the queue, when the writer has ended it and nobody has started
   * reading it; else undefined (the body is still being written: read it as a stream).
   */
  takeEnded (): Uint8Array | undefined {
    if (!this.#ended || this.#error !== undefined || this.#iterating) return undefined
    const chunks = this.#chunks.splice(0)
    this.#bytes = 0
    this.#iterating = true
    if (chunks.length === 1) return chunks[0]
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0))
    let at = 0
    for (const c of chunks) { all.set(c, at); at += c.byteLength }
    return all
  }

  end (): void {
    this.#ended = true
    this.#wakeReader()
  }

  fail (err: Error): void {
    if (this.#ended && this.#chunks.length === 0) return
    this.#error ??= err
    this.#chunks.length = 0
    this.#bytes = 0
    this.#wakeReader()
    this.#wakeWriter()
  }

  #wakeReader (): void {
    const r = this.#reader
    this.#reader = undefined
    r?.resolve()
  }

  #wakeWriter (): void {
    const w = this.#writer
    this.#writer = undefined
    w?.resolve()
  }

  async * [Symbol.asyncIterator] (): AsyncIterator<Uint8Array> {
    this.#iterating = true
    try {
      for (;;) {
        if (this.#error !== undefined) throw this.#error
        const chunk = this.#chunks.shift()
        if (chunk !== undefined) {
          this.#bytes -= chunk.byteLength
          if (this.#bytes < this.#highWaterBytes) this.#wakeWriter()
          yield chunk
          continue
        }
        if (this.#ended) return
        this.#reader ??= Promise.withResolvers()
        await this.#reader.promise
      }
    } finally {
      // The reader went away: nothing more will be read, so a waiting writer must not wait for ever.
      if (!this.#ended && this.#error === undefined) this.fail(new HttpError('body-cancelled', 'the body is no longer read'))
    }
  }
}

/** Takes at most `max` bytes at a time from a chunk iterator, keeping the rest of a larger chunk for the next read. */
export class BodyReader {
  readonly #iterator: AsyncIterator<unknown>
  #rest: Uint8Array | undefined
  #done = false

  constructor (body: AsyncIterable<unknown>) {
    this.#iterator = body[Symbol.asyncIterator]()
  }

  async read (max: number): Promise<Uint8Array | undefined> {
    let chunk = this.#rest
    this.#rest = undefined
    while (chunk === undefined || chunk.byteLength === 0) {
      if (this.#done) return undefined
      const next = await this.#iterator.next()
      if (next.done === true) { this.#done = true; return undefined }
      chunk = next.value instanceof Uint8Array ? next.value : Uint8Array.from(next.value as ArrayLike<number>)
    }
    if (chunk.byteLength <= max) return chunk
    this.#rest = chunk.subarray(max)
    return chunk.subarray(0, max)
  }

  /** No more reads: the source may stop. */
  cancel (): void {
    if (this.#done) return
    this.#done = true
    void Promise.resolve().then(async () => await this.#iterator.return?.()).catch(() => {})
  }
}
