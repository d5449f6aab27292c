import { describe, expect, it } from 'vitest'
import { ObjectStore, type ObjectOf } from '../src/store/core'
import type { Vm } from '../src/types/objects'
import { ReactiveStore } from '../src/store/reactive'
import { Sync, followRevision, type EventSourceLike, type Page, type SyncDeps } from '../src/store/sync'

class FakeEventSource implements EventSourceLike {
  readyState = 0
  onopen: ((ev: Event) => unknown) | null = null
  onerror: ((ev: Event) => unknown) | null = null
  closed = false
  listeners = new Map<string, ((ev: MessageEvent) => void)[]>()
  lastEventId = ''

  constructor(
    readonly since: number,
    readonly types: string[],
  ) {}

  addEventListener(type: string, listener: (ev: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener])
  }
  close() {
    this.closed = true
    this.readyState = 2
  }
  open() {
    this.readyState = 1
    this.onopen?.(new Event('open'))
  }
  send(event: string, data: unknown, id?: number) {
    if (id !== undefined) this.lastEventId = String(id)
    const message = { data: JSON.stringify(data), lastEventId: this.lastEventId } as MessageEvent
    for (const l of this.listeners.get(event) ?? []) l(message)
  }
  fail(closed: boolean) {
    this.readyState = closed ? 2 : 0
    this.onerror?.(new Event('error'))
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0))

function setup(pages: Record<string, Page[]>, collections: [string, string][]) {
  const sources: FakeEventSource[] = []
  const timers: (() => void)[] = []
  const fetched: string[] = []
  let probeFails = false
  const deps: SyncDeps = {
    fetchPage(collection, cursor, _signal, _filter, fields) {
      fetched.push(`${collection}:${cursor ?? ''}${fields ? ' (some fields)' : ''}`)
      const list = pages[collection]
      const index = cursor ? Number(cursor) : 0
      return Promise.resolve(list[index])
    },
    openEvents(since, types) {
      const s = new FakeEventSource(since, types)
      sources.push(s)
      return s
    },
    probe() {
      return probeFails ? Promise.reject(new TypeError('Failed to fetch')) : Promise.resolve()
    },
    setTimeout(fn) {
      timers.push(fn)
      return timers.length
    },
    clearTimeout() {},
  }
  const store = new ReactiveStore(new ObjectStore(), { schedule: () => {} })
  const sync = new Sync(deps, store, collections)
  return {
    sync,
    store,
    deps,
    sources,
    timers,
    fetched,
    failProbe(v: boolean) {
      probeFails = v
    },
  }
}

const vm = (id: string, rev: number, extra: Partial<Vm> = {}): ObjectOf<'vm'> => ({
  id,
  type: 'vm',
  rev,
  ...extra,
})

describe('followRevision', () => {
  it('follows from the smallest revision of the answers', () => {
    expect(followRevision([120, 100, 130])).toBe(100)
    expect(followRevision([])).toBe(0)
  })
})

describe('Sync', () => {
  it('loads every collection page by page, then follows from the smallest revision', async () => {
    const t = setup(
      {
        vms: [
          { revision: 100, items: [vm('a', 90)], next: '1' },
          { revision: 105, items: [vm('b', 104)], next: null },
        ],
        hosts: [{ revision: 103, items: [{ id: 'h', type: 'host', rev: 50 }], next: null }],
      },
      [
        ['vms', 'vm'],
        ['hosts', 'host'],
      ],
    )
    await t.sync.start()
    // the small ones first, then the VMs' list fields, then the VMs whole
    expect(t.fetched).toEqual(['hosts:', 'vms: (some fields)', 'vms:1 (some fields)', 'vms:', 'vms:1'])
    expect(t.store.isLoaded('vm')).toBe(true)
    expect(t.store.core.size('vm')).toBe(2)
    expect(t.store.core.size('host')).toBe(1)
    expect(t.sources).toHaveLength(1)
    expect(t.sources[0].since).toBe(100)
    expect(t.sources[0].types).toEqual(['vm', 'host', 'vif']) // VIFs: followed, loaded where needed
    expect(t.store.connection.value.state).toBe('connecting')
    t.sources[0].open()
    expect(t.store.connection.value.state).toBe('live')
  })

  it('feeds the events to the store and tracks the revision from their ids', async () => {
    const t = setup({ vms: [{ revision: 10, items: [vm('a', 5, { domid: 0 })] }] }, [['vms', 'vm']])
    await t.sync.start()
    const es = t.sources[0]
    es.open()
    es.send('patch', { type: 'vm', id: 'a', rev: 11, patch: { domid: 1 } })
    es.send('put', { type: 'vm', id: 'b', rev: 11, data: vm('b', 11) }, 11)
    es.send('del', { type: 'vm', id: 'a', rev: 12 }, 12)
    t.store.flush()
    expect(t.store.core.has('vm', 'a')).toBe(false)
    expect(t.store.core.has('vm', 'b')).toBe(true)
    expect(t.store.core.revision).toBe(12)
    es.send('ping', { revision: 20 }, 20)
    t.store.flush()
    expect(t.store.core.revision).toBe(20)
  })

  it('lets the browser reconnect by itself, showing the state', async () => {
    const t = setup({ vms: [{ revision: 10, items: [] }] }, [['vms', 'vm']])
    await t.sync.start()
    const es = t.sources[0]
    es.open()
    es.fail(false)
    expect(t.store.connection.value.state).toBe('connecting')
    es.fail(false)
    expect(t.store.connection.value.state).toBe('offline')
    es.open()
    expect(t.store.connection.value.state).toBe('live')
    expect(t.sources).toHaveLength(1) // no new EventSource: the browser's own retry
  })

  it('opens a new stream from the store revision when the browser gives up', async () => {
    const t = setup({ vms: [{ revision: 10, items: [] }] }, [['vms', 'vm']])
    await t.sync.start()
    const es = t.sources[0]
    es.open()
    es.send('ping', { revision: 33 }, 33)
    es.fail(true)
    expect(t.store.connection.value.state).toBe('offline')
    expect(es.closed).toBe(true)
    t.failProbe(true)
    t.timers.shift()!()
    await tick()
    expect(t.sources).toHaveLength(1) // the probe failed: wait again
    t.failProbe(false)
    t.timers.shift()!()
    await tick()
    expect(t.sources).toHaveLength(2)
    expect(t.sources[1].since).toBe(33)
  })

  it('reloads the snapshot on reset and reopens from its revision', async () => {
    const pages = { vms: [{ revision: 10, items: [vm('a', 5)] }] as Page[] }
    const t = setup(pages, [['vms', 'vm']])
    await t.sync.start()
    const first = t.sources[0]
    first.open()
    pages.vms = [{ revision: 900, items: [vm('z', 880)] }]
    first.send('reset', { revision: 900, horizon: 800, since: 10 }, 900)
    await tick()
    expect(first.closed).toBe(true)
    expect(t.store.core.has('vm', 'a')).toBe(false)
    expect(t.store.core.has('vm', 'z')).toBe(true)
    expect(t.sources).toHaveLength(2)
    expect(t.sources[1].since).toBe(900)
    // the old stream is ignored from now on
    first.send('put', { type: 'vm', id: 'old', rev: 901, data: vm('old', 901) })
    t.store.flush()
    expect(t.store.core.has('vm', 'old')).toBe(false)
  })

  it('retries the snapshot when it cannot be loaded', async () => {
    let calls = 0
    const t = setup({ vms: [{ revision: 10, items: [] }] }, [['vms', 'vm']])
    const original = t.deps.fetchPage.bind(t.deps)
    t.deps.fetchPage = async (...args) => {
      if (calls++ === 0) throw new TypeError('Failed to fetch')
      return original(...args)
    }
    await t.sync.start()
    expect(t.store.connection.value.state).toBe('offline')
    expect(t.sources).toHaveLength(0)
    t.timers.shift()!()
    await tick()
    expect(t.sources).toHaveLength(1)
  })

  it('stops: closes the stream and ignores what comes after', async () => {
    const t = setup({ vms: [{ revision: 10, items: [] }] }, [['vms', 'vm']])
    await t.sync.start()
    t.sync.stop()
    expect(t.sources[0].closed).toBe(true)
  })
})

describe('Sync.ensure (parts of a collection loaded for one page)', () => {
  it('loads once, follows the type on the stream and reloads the part with the rest', async () => {
    const pages: Record<string, Page[]> = {
      vms: [{ revision: 10, items: [] }],
      vifs: [{ revision: 12, items: [{ id: 'i1', type: 'vif', rev: 11, $vm: 'a' }] }],
    }
    const filters: (string | undefined)[] = []
    const t = setup(pages, [['vms', 'vm']])
    const original = t.deps.fetchPage.bind(t.deps)
    t.deps.fetchPage = (c, cursor, signal, filter) => {
      if (c === 'vifs') filters.push(filter)
      return original(c, cursor, signal, filter)
    }
    await t.sync.start()
    expect(t.sources[0].types).toEqual(['vm', 'vif'])
    await t.sync.ensure('vifs', 'vif', '$vm:a')
    await t.sync.ensure('vifs', 'vif', '$vm:a') // once
    expect(filters).toEqual(['$vm:a'])
    expect(t.store.core.get('vif', 'i1')?.$vm).toBe('a')
    expect(t.store.isLoaded('vif')).toBe(false) // a part, not the collection
    // a reset reloads the part too, and follows from the smallest revision
    pages.vms = [{ revision: 50, items: [] }]
    pages.vifs = [{ revision: 40, items: [{ id: 'i2', type: 'vif', rev: 39, $vm: 'a' }] }]
    t.sources[0].send('reset', { revision: 50 })
    await tick()
    expect(filters).toEqual(['$vm:a', '$vm:a'])
    expect(t.store.core.has('vif', 'i1')).toBe(false)
    expect(t.store.core.has('vif', 'i2')).toBe(true)
    expect(t.sources[1].since).toBe(40)
  })
})

describe('Sync and the browser saying it is offline', () => {
  it('shows offline, then live again when the stream outlived the outage', async () => {
    const t = setup({ vms: [{ revision: 10, items: [] }] }, [['vms', 'vm']])
    await t.sync.start()
    const es = t.sources[0]
    es.open()
    t.sync.browserOffline()
    expect(t.store.connection.value.state).toBe('offline')
    t.sync.retryNow() // the browser is online again; the stream is still open
    expect(t.store.connection.value.state).toBe('live')
    expect(t.sources).toHaveLength(1)
  })

  it('takes an event after an error as proof that the stream is back', async () => {
    const t = setup({ vms: [{ revision: 10, items: [] }] }, [['vms', 'vm']])
    await t.sync.start()
    const es = t.sources[0]
    es.open()
    es.fail(false)
    expect(t.store.connection.value.state).toBe('connecting')
    es.readyState = 1
    es.send('ping', { revision: 12 }, 12)
    expect(t.store.connection.value.state).toBe('live')
  })
})
