// Keeps a store in step with the API: the snapshot of every collection the UI shows
// (`GET /api/v1/{collection}?limit=10000`, following `next` pages), then one event stream
// (`GET /api/v1/events?since=<R>&access_token=…`) from the smallest revision of those answers.
//
// The browser's EventSource reconnects by itself after a network loss and sends Last-Event-ID
// (the server resumes from it). When it gives up (the server refused the stream), this class
// checks the token (a 401 sends the user to the login screen), waits a little and opens a new
// stream from the revision the store is complete up to. A `reset` event (the revision is older
// than the server's horizon) reloads the snapshot and reopens from its revision.
//
// No framework here: the store is reached through a `SyncSink` (the reactive wrapper batches the
// events it receives), the network through `SyncDeps` (the tests give fakes).

import type { StoreEvent, XObject } from './core'

export type ConnectionState = 'connecting' | 'live' | 'offline'

/**
 * The collections the UI loads at once, and the type of their objects. The small ones come
 * first (the dashboard's pools, hosts and tasks show at once), then the VMs: a gateway that
 * answers 10,000 VMs does not keep the small answers waiting.
 */
export const UI_COLLECTIONS: readonly (readonly [collection: string, type: string])[] = [
  ['pool-statuses', 'pool-status'],
  ['pools', 'pool'],
  ['hosts', 'host'],
  ['srs', 'sr'],
  ['networks', 'network'],
  ['tasks', 'task'],
  ['messages', 'message'],
  ['pifs', 'pif'],
  ['vm-snapshots', 'vm-snapshot'],
  ['vms', 'vm'],
]

/** collections asked for after the others have answered */
export const LATER: ReadonlySet<string> = new Set(['vms', 'vm-snapshots'])

/**
 * Big collections first asked for with only the fields the dashboard and the lists show (a
 * third of the bytes and of the gateway's time), then whole: with 10,000 VMs the counts and
 * the inventory show in about a second, the VM pages a few seconds later.
 */
export const PREVIEWS: Readonly<Record<string, string>> = {
  vms: 'name_label,power_state,$pool,$host,$container,cpus.usage,cpus.number,memory.actual,memory.static_max,main_address,tags,allowed_operations',
}

/**
 * Types followed on the stream but loaded only where a page needs them (`Sync.ensure`): the
 * VIFs of one VM or one network (two per VM: loading them all would double the first load).
 */
export const LAZY_TYPES: readonly string[] = ['vif']

/** A part of a collection a page asked for: kept live by the stream, reloaded with the rest. */
export interface LazyQuery {
  collection: string
  type: string
  filter: string
}

export const PAGE_LIMIT = 10_000

export interface Page {
  revision: number
  items: XObject[]
  next?: string | null
}

/** The smallest of the snapshot's revisions: following from it misses nothing. */
export function followRevision(revisions: Iterable<number>): number {
  let min = Infinity
  for (const r of revisions) if (r < min) min = r
  return Number.isFinite(min) ? min : 0
}

/** What an EventSource offers that this class uses (a fake in the tests). */
export interface EventSourceLike {
  readonly readyState: number
  onopen: ((ev: Event) => unknown) | null
  onerror: ((ev: Event) => unknown) | null
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void
  close(): void
}

export interface SyncDeps {
  /** one page of a collection, filtered or not, some fields or all (throws on an HTTP error; a 401 also logs out) */
  fetchPage(
    collection: string,
    cursor: string | null,
    signal: AbortSignal,
    filter?: string,
    fields?: string,
  ): Promise<Page>
  /** a new event stream from `since` for `types` */
  openEvents(since: number, types: string[]): EventSourceLike
  /** resolves when the API answers with this token (throws when it does not) */
  probe(): Promise<void>
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export interface SyncSink {
  /** one event of the stream, in order */
  push(event: StoreEvent): void
  /** apply what was pushed and not applied yet */
  flush(): void
  /** replace every object of `type` (`complete`: the whole collection, not a part) */
  load(type: string, items: XObject[], complete?: boolean): void
  /** add objects fetched while the stream runs */
  upsert(type: string, items: XObject[]): void
  /** the revision the store is complete up to */
  revision(): number
  setRevision(revision: number): void
  /** the connection state changed */
  state(state: ConnectionState, detail: string): void
}

const EVENT_NAMES = ['put', 'patch', 'del', 'ping', 'reset'] as const
const BACKOFF = [500, 1000, 2000, 5000, 10_000]
const OPEN = 1
const CLOSED = 2

export class Sync {
  private source: EventSourceLike | null = null
  private timer: unknown = null
  private aborter: AbortController | null = null
  private failures = 0
  private errorsSinceOpen = 0
  private stopped = true
  private reloading = false
  private reloaded: Promise<void> = Promise.resolve()
  private readonly types: string[]
  private readonly lazy = new Map<string, LazyQuery>()
  private current: ConnectionState = 'connecting'
  private previewed = false

  constructor(
    private readonly deps: SyncDeps,
    private readonly sink: SyncSink,
    private readonly collections = UI_COLLECTIONS,
    lazyTypes: readonly string[] = LAZY_TYPES,
    private readonly previews: Readonly<Record<string, string>> = PREVIEWS,
  ) {
    this.types = [...collections.map(([, type]) => type), ...lazyTypes]
  }

  /**
   * Loads the objects of `collection` matching `filter` (once; the stream keeps them true, and a
   * reload loads them again).
   */
  async ensure(collection: string, type: string, filter: string): Promise<void> {
    const k = `${collection}?${filter}`
    if (this.lazy.has(k)) return
    this.lazy.set(k, { collection, type, filter })
    await this.reloaded
    if (this.stopped) return
    const aborter = new AbortController()
    try {
      const { items } = await this.fetchAll(collection, aborter.signal, filter)
      if (this.stopped) return
      this.sink.flush() // the events before, so that their patches wait for these objects
      this.sink.upsert(type, items)
    } catch (error) {
      this.lazy.delete(k) // asked again by the next page that needs it
      throw error
    }
  }

  /** Loads the snapshot, then follows the stream. */
  async start(): Promise<void> {
    this.stopped = false
    this.failures = 0
    await this.reload()
  }

  stop(): void {
    this.stopped = true
    this.closeSource()
    this.aborter?.abort()
    this.aborter = null
    if (this.timer !== null) this.deps.clearTimeout(this.timer)
    this.timer = null
  }

  /** Tries again now (the browser says the network is back). */
  retryNow(): void {
    if (this.stopped || this.reloading) return
    if (this.source && this.source.readyState === OPEN) {
      this.setState('live', '') // the stream outlived the outage
      return
    }
    if (this.source && this.source.readyState !== CLOSED) return
    if (this.timer !== null) this.deps.clearTimeout(this.timer)
    this.timer = null
    void this.reconnect()
  }

  /** Loads every collection (each page by page), then opens the stream from their smallest revision. */
  reload(): Promise<void> {
    const done = this.reloadNow()
    this.reloaded = done.catch(() => {})
    return done
  }

  private async reloadNow(): Promise<void> {
    if (this.stopped) return
    this.reloading = true
    this.closeSource()
    this.sink.flush()
    this.setState('connecting', 'loading')
    this.aborter?.abort()
    const aborter = new AbortController()
    this.aborter = aborter
    try {
      const lazy = [...this.lazy.values()]
      const load = (first: boolean) =>
        Promise.all(
          this.collections
            .filter(([collection]) => LATER.has(collection) !== first)
            .map(([collection, type]) => this.loadCollection(collection, type, aborter.signal)),
        )
      const early = await load(true)
      if (!this.previewed) {
        // the first load only: later reloads keep showing what they have meanwhile
        this.previewed = true
        await Promise.all(
          this.collections
            .filter(([collection]) => this.previews[collection])
            .map(async ([collection, type]) => {
              const { items } = await this.fetchAll(collection, aborter.signal, undefined, this.previews[collection])
              if (!aborter.signal.aborted) this.sink.load(type, items, false)
            }),
        )
      }
      const [late, parts] = await Promise.all([
        load(false),
        Promise.all(lazy.map((q) => this.fetchAll(q.collection, aborter.signal, q.filter))),
      ])
      const revisions = [...early, ...late]
      if (this.stopped || aborter.signal.aborted) return
      const byType = new Map<string, XObject[]>()
      lazy.forEach((q, i) => byType.set(q.type, [...(byType.get(q.type) ?? []), ...parts[i].items]))
      for (const [type, items] of byType) this.sink.load(type, items, false)
      this.sink.setRevision(followRevision([...revisions, ...parts.map((p) => p.revision)]))
      this.failures = 0
      this.open()
    } catch (error) {
      if (this.stopped || aborter.signal.aborted) return
      this.setState('offline', describe(error))
      this.schedule(() => void this.reload())
    } finally {
      this.reloading = false
    }
  }

  private async loadCollection(collection: string, type: string, signal: AbortSignal): Promise<number> {
    const { items, revision } = await this.fetchAll(collection, signal)
    if (!signal.aborted) this.sink.load(type, items, true)
    return revision
  }

  private async fetchAll(
    collection: string,
    signal: AbortSignal,
    filter?: string,
    fields?: string,
  ): Promise<{ items: XObject[]; revision: number }> {
    const items: XObject[] = []
    let revision: number | null = null
    let cursor: string | null = null
    for (;;) {
      const page: Page = await this.deps.fetchPage(collection, cursor, signal, filter, fields)
      revision ??= page.revision // later pages are snapshots of their own: follow the first
      items.push(...page.items)
      cursor = page.next ?? null
      if (!cursor || page.items.length === 0) break
    }
    return { items, revision }
  }

  private open(): void {
    if (this.stopped) return
    this.closeSource()
    this.errorsSinceOpen = 0
    const source = this.deps.openEvents(this.sink.revision(), this.types)
    this.source = source
    source.onopen = () => {
      if (this.source !== source) return
      this.failures = 0
      this.errorsSinceOpen = 0
      this.setState('live', '')
    }
    source.onerror = () => {
      if (this.source !== source) return
      this.errorsSinceOpen++
      if (source.readyState === CLOSED) {
        // the browser gave up (an HTTP error, a wrong answer): check, wait, open a new one
        this.setState('offline', 'the event stream was refused')
        this.closeSource()
        this.schedule(() => void this.reconnect())
      } else {
        // the browser reconnects by itself, with Last-Event-ID
        this.setState(this.errorsSinceOpen > 1 ? 'offline' : 'connecting', 'reconnecting')
      }
    }
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (message: MessageEvent) => {
        if (this.source !== source) return
        this.receive(name, message)
      })
    }
  }

  private receive(name: (typeof EVENT_NAMES)[number], message: MessageEvent): void {
    let data: unknown
    try {
      data = JSON.parse(String(message.data))
    } catch {
      return // not ours
    }
    // an event is proof of life (after an error the browser reconnected without `open`)
    if (this.current !== 'live' && this.source?.readyState === OPEN) this.setState('live', '')
    const id = message.lastEventId ? Number(message.lastEventId) : undefined
    if (name === 'reset') {
      void this.reload()
      return
    }
    this.sink.push({ event: name, data, id: Number.isFinite(id) ? id : undefined } as StoreEvent)
  }

  private async reconnect(): Promise<void> {
    if (this.stopped) return
    try {
      await this.deps.probe()
    } catch (error) {
      if (this.stopped) return
      this.setState('offline', describe(error))
      this.schedule(() => void this.reconnect())
      return
    }
    this.sink.flush()
    this.open()
  }

  private schedule(fn: () => void): void {
    if (this.stopped) return
    if (this.timer !== null) this.deps.clearTimeout(this.timer)
    const delay = BACKOFF[Math.min(this.failures, BACKOFF.length - 1)]
    this.failures++
    this.timer = this.deps.setTimeout(() => {
      this.timer = null
      fn()
    }, delay)
  }

  private setState(state: ConnectionState, detail: string): void {
    this.current = state
    this.sink.state(state, detail)
  }

  /** The browser says it is offline: say so until the stream proves otherwise. */
  browserOffline(): void {
    if (!this.stopped) this.setState('offline', 'the browser is offline')
  }

  private closeSource(): void {
    if (this.source) {
      const source = this.source
      this.source = null
      source.onopen = null
      source.onerror = null
      source.close()
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
