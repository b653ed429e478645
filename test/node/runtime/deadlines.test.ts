import { afterEach, describe, expect, it, vi } from 'vitest'
import { DeadlineQueue } from '../../../node/runtime/deadlines.ts'

afterEach(() => { vi.useRealTimers() })

describe('the deadline queue', () => {
  it('fires each deadline once its duration has passed, in the order armed, and never a cancelled one', () => {
    vi.useFakeTimers()
    const q = new DeadlineQueue({ clock: () => Date.now(), slackMs: 0 })
    const fired: string[] = []
    q.arm(100, () => fired.push('a'))
    vi.advanceTimersByTime(30)
    const b = q.arm(100, () => fired.push('b'))
    q.arm(100, () => fired.push('c'))
    q.arm(50, () => fired.push('short'))
    expect(q.size).toBe(4)
    b.cancel()
    b.cancel()
    expect(q.size).toBe(3)
    vi.advanceTimersByTime(69)
    expect(fired).toEqual(['short'])
    vi.advanceTimersByTime(1)
    expect(fired).toEqual(['short', 'a'])
    vi.advanceTimersByTime(30)
    expect(fired).toEqual(['short', 'a', 'c'])
    expect(q.size).toBe(0)
    // An empty lane's timer ends instead of ticking on.
    expect(vi.getTimerCount()).toBe(0)
  })

  it('fires a deadline armed from another deadline firing', () => {
    vi.useFakeTimers()
    const q = new DeadlineQueue({ clock: () => Date.now(), slackMs: 0 })
    const fired: number[] = []
    q.arm(10, () => { fired.push(1); q.arm(10, () => fired.push(2)) })
    vi.advanceTimersByTime(10)
    expect(fired).toEqual([1])
    vi.advanceTimersByTime(10)
    expect(fired).toEqual([1, 2])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('keeps one timer per duration however many deadlines are armed, and clear() drops them all unfired', () => {
    vi.useFakeTimers()
    const q = new DeadlineQueue({ clock: () => Date.now() })
    const fire = vi.fn()
    for (let i = 0; i < 1000; i++) q.arm(30_000, fire)
    for (let i = 0; i < 10; i++) q.arm(5_000, fire)
    expect(vi.getTimerCount()).toBe(2)
    q.clear()
    expect(q.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(60_000)
    expect(fire).not.toHaveBeenCalled()
  })
})
