import { describe, expect, it } from 'vitest'
import { computed, effect } from 'vue'
import { ReactiveStore, type Scheduler } from '../src/store/reactive'
import { ObjectStore, type StoreEvent, type XObject } from '../src/store/core'

/** A scheduler whose "frames" the test runs by hand. */
function manualFrames() {
  const pending: (() => void)[] = []
  const scheduler: Scheduler = { schedule: (fn) => void pending.push(fn) }
  return {
    scheduler,
    frame() {
      const run = pending.splice(0)
      for (const fn of run) fn()
      return run.length
    },
    get waiting() {
      return pending.length
    },
  }
}

const patch = (id: string, rev: number, p: Record<string, unknown>): StoreEvent => ({
  event: 'patch',
  data: { type: 'vm', id, rev, patch: p },
})

describe('ReactiveStore', () => {
  it('applies a burst of events in one frame, with one notification', () => {
    const frames = manualFrames()
    const store = new ReactiveStore(new ObjectStore(), frames.scheduler)
    store.load('vm', [{ id: 'a', type: 'vm', rev: 1, domid: 0 }])
    let runs = 0
    const n = computed(() => store.get('vm', 'a')?.domid)
    effect(() => {
      void n.value
      runs++
    })
    expect(runs).toBe(1)
    for (let i = 1; i <= 100; i++) store.push(patch('a', 1 + i, { domid: i }))
    expect(frames.waiting).toBe(1) // one frame asked for, not 100
    expect(store.core.get('vm', 'a')!.domid).toBe(0) // nothing applied before the frame
    expect(frames.frame()).toBe(1)
    expect(store.core.get('vm', 'a')!.domid).toBe(100)
    expect(runs).toBe(2) // one re-run for the whole burst
    expect(store.counters.events).toBe(100)
  })

  it('only re-runs what depends on a changed type', () => {
    const frames = manualFrames()
    const store = new ReactiveStore(new ObjectStore(), frames.scheduler)
    store.load('vm', [{ id: 'a', type: 'vm', rev: 1 }])
    store.load('host', [{ id: 'h', type: 'host', rev: 1 }])
    let hostRuns = 0
    let vmRuns = 0
    effect(() => {
      store.all('host')
      hostRuns++
    })
    effect(() => {
      store.size('vm')
      vmRuns++
    })
    store.push(patch('a', 2, { x: 1 }))
    frames.frame()
    expect(vmRuns).toBe(2)
    expect(hostRuns).toBe(1)
  })

  it('tells listeners which ids changed in each flush', () => {
    const frames = manualFrames()
    const store = new ReactiveStore(new ObjectStore(), frames.scheduler)
    store.load('vm', [
      { id: 'a', type: 'vm', rev: 1 },
      { id: 'b', type: 'vm', rev: 1 },
    ])
    const seen: string[][] = []
    store.onChanges((c) => seen.push([...(c.ids.get('vm') ?? [])].sort()))
    store.push(patch('a', 2, { x: 1 }))
    store.push(patch('b', 3, { x: 1 }))
    store.push(patch('a', 4, { x: 2 }))
    frames.frame()
    expect(seen).toEqual([['a', 'b']])
  })

  it('flush() applies at once (before a reload) and a later frame does nothing', () => {
    const frames = manualFrames()
    const store = new ReactiveStore(new ObjectStore(), frames.scheduler)
    store.load('vm', [{ id: 'a', type: 'vm', rev: 1 }])
    store.push(patch('a', 2, { domid: 1 }))
    store.flush()
    expect(store.core.get('vm', 'a')!.domid).toBe(1)
    const flushes = store.counters.flushes
    frames.frame()
    expect(store.counters.flushes).toBe(flushes)
  })

  it('keeps objects plain (not reactive proxies)', () => {
    const store = new ReactiveStore(new ObjectStore(), manualFrames().scheduler)
    const obj: XObject = { id: 'a', type: 'vm', rev: 1 }
    store.load('vm', [obj])
    expect(store.get('vm', 'a')).toBe(obj)
  })

  it('reports the connection state and readiness', () => {
    const store = new ReactiveStore(new ObjectStore(), manualFrames().scheduler)
    expect(store.connection.value.state).toBe('connecting')
    store.state('live', '')
    expect(store.connection.value.state).toBe('live')
    expect(store.ready.value).toBe(false)
    store.load('pool', [])
    expect(store.ready.value).toBe(true)
    expect(store.isLoaded('pool')).toBe(true)
    store.clear()
    expect(store.isLoaded('pool')).toBe(false)
  })
})
