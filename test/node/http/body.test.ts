// ByteQueue's whole-body hand-over: a body the writer has ended is taken as one chunk; one still being written, or already being read, is not.
import { describe, expect, it } from 'vitest'
import { ByteQueue } from '../../../node/http/body.ts'

const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs)

describe('ByteQueue.takeEnded', () => {
  it('gives an ended body as one chunk, once, and nothing to a reader after it', async () => {
    const q = new ByteQueue(1024)
    await q.push(bytes(1, 2))
    await q.push(bytes(3))
    expect(q.takeEnded()).toBeUndefined()
    q.end()
    expect(q.takeEnded()).toEqual(bytes(1, 2, 3))
    expect(q.takeEnded()).toBeUndefined()
    const read: Uint8Array[] = []
    for await (const c of q) read.push(c)
    expect(read).toEqual([])
  })

  it('gives a single chunk as it is, and an empty body as an empty chunk', () => {
    const one = new ByteQueue(1024)
    const chunk = bytes(9, 9)
    void one.push(chunk)
    one.end()
    expect(one.takeEnded()).toBe(chunk)
    const none = new ByteQueue(1024)
    none.end()
    expect(none.takeEnded()).toEqual(new Uint8Array(0))
  })

  it('leaves a body alone once a reader has started, and a failed body', async () => {
    const q = new ByteQueue(1024)
    await q.push(bytes(1))
    const it = q[Symbol.asyncIterator]()
    expect((await it.next()).value).toEqual(bytes(1))
    await q.push(bytes(2))
    q.end()
    expect(q.takeEnded()).toBeUndefined()
    expect((await it.next()).value).toEqual(bytes(2))
    expect((await it.next()).done).toBe(true)
    const failed = new ByteQueue(1024)
    await failed.push(bytes(1))
    failed.fail(new Error('gone'))
    failed.end()
    expect(failed.takeEnded()).toBeUndefined()
  })
})
