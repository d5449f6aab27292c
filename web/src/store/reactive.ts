// The store for Vue: a thin reactive layer over the plain `ObjectStore`.
//
// - Objects stay plain (never deep-reactive): 10,000 VMs cost 10,000 plain objects, no proxies.
// - Each type has one `shallowRef` counter; reading through `all(type)`, `get(type, id)`,
//   `size(type)` or `groupBy(type, field)` depends on it, and it is triggered once per flush when
//   an object of that type changed.
// - Events are queued as they arrive and applied together once per animation frame (with a
//   timer as a fallback, since a hidden tab gets no frames): 100 changes a second cost one
//   render per frame, not one per change.
// - Listeners get each flush's `Changes` (types and ids), for lists that re-filter only what
//   changed.

import { shallowRef, triggerRef, type ShallowRef } from 'vue'
import { ObjectStore, type Changes, type ObjectOf, type ObjectType, type StoreEvent, type XObject } from './core'
import type { ConnectionState, SyncSink } from './sync'

export interface Scheduler {
  /** run `fn` soon (once per frame); returns a handle for `cancel` */
  schedule(fn: () => void): void
}

/** requestAnimationFrame, or a timer when frames do not come (hidden tab, tests). */
export function frameScheduler(fallbackMs = 250): Scheduler {
  return {
    schedule(fn) {
      let done = false
      const run = () => {
        if (done) return
        done = true
        fn()
      }
      if (typeof requestAnimationFrame === 'function') requestAnimationFrame(run)
      setTimeout(run, fallbackMs)
    },
  }
}

export interface Connection {
  state: ConnectionState
  detail: string
  since: number
}

export class ReactiveStore implements SyncSink {
  readonly core: ObjectStore
  /** the connection to the event stream (header badge) */
  readonly connection: ShallowRef<Connection>
  /** true once the first snapshot is in */
  readonly ready = shallowRef(false)
  /** frames flushed and events applied (for the curious and the tests) */
  readonly counters = { flushes: 0, events: 0 }

  private queue: StoreEvent[] = []
  private scheduled = false
  private refs = new Map<string, ShallowRef<number>>()
  private listeners = new Set<(changes: Changes) => void>()
  private loaded = new Set<string>()

  constructor(
    core: ObjectStore = new ObjectStore(),
    private readonly scheduler: Scheduler = frameScheduler(),
  ) {
    this.core = core
    this.connection = shallowRef<Connection>({ state: 'connecting', detail: '', since: Date.now() })
  }

  // ------------------------------------------------------------------------- reading (reactive)

  /** Depend on a type: the caller re-runs when an object of it changes. */
  track(type: string): void {
    void this.ref(type).value
  }

  all<T extends ObjectType>(type: T): readonly ObjectOf<T>[]
  all(type: string): readonly XObject[]
  all(type: string): readonly XObject[] {
    this.track(type)
    return this.core.list(type)
  }

  get<T extends ObjectType>(type: T, id: string | undefined | null): ObjectOf<T> | undefined
  get(type: string, id: string | undefined | null): XObject | undefined
  get(type: string, id: string | undefined | null): XObject | undefined {
    this.track(type)
    return id ? this.core.get(type, id) : undefined
  }

  size(type: string): number {
    this.track(type)
    return this.core.size(type)
  }

  groupBy<T extends ObjectType>(type: T, field: string): Map<string, ObjectOf<T>[]>
  groupBy(type: string, field: string): Map<string, XObject[]>
  groupBy(type: string, field: string): Map<string, XObject[]> {
    this.track(type)
    return this.core.groupBy(type, field)
  }

  /** Whether the snapshot of `type` has been loaded (reactive). */
  isLoaded(type: string): boolean {
    this.track(type)
    return this.loaded.has(type)
  }

  onChanges(listener: (changes: Changes) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  // ------------------------------------------------------------------------------ SyncSink

  push(event: StoreEvent): void {
    this.queue.push(event)
    if (!this.scheduled) {
      this.scheduled = true
      this.scheduler.schedule(() => this.flush())
    }
  }

  /** Applies every queued event now, then notifies once. */
  flush(): void {
    this.scheduled = false
    const queue = this.queue
    this.queue = []
    if (queue.length) {
      this.core.applyAll(queue)
      this.counters.events += queue.length
    }
    this.publish()
  }

  load(type: string, items: XObject[], complete = true): void {
    this.core.load(type, items)
    if (complete) this.loaded.add(type)
    this.publish()
    if (!this.ready.value && this.loaded.size >= 1) this.ready.value = true
  }

  upsert(type: string, items: XObject[]): void {
    this.core.upsert(type, items)
    this.publish()
  }

  revision(): number {
    return this.core.revision
  }

  setRevision(revision: number): void {
    this.core.revision = revision
  }

  state(state: ConnectionState, detail: string): void {
    const current = this.connection.value
    if (current.state === state && current.detail === detail) return
    this.connection.value = { state, detail, since: Date.now() }
  }

  /** Forgets everything (logout). */
  clear(): void {
    this.queue = []
    this.core.clear()
    this.loaded.clear()
    this.ready.value = false
    this.publish()
  }

  // ------------------------------------------------------------------------------ internals

  private publish(): void {
    const changes = this.core.takeChanges()
    if (!changes.reset && changes.types.size === 0) return
    this.counters.flushes++
    for (const type of changes.types) {
      const ref = this.refs.get(type)
      if (ref) triggerRef(ref)
    }
    for (const listener of this.listeners) listener(changes)
  }

  private ref(type: string): ShallowRef<number> {
    let ref = this.refs.get(type)
    if (!ref) {
      ref = shallowRef(0)
      this.refs.set(type, ref)
    }
    return ref
  }
}
