// The client store: every object the UI shows, by type and id, kept true by the API's events.
// Plain TypeScript, no framework: `reactive.ts` wraps it for Vue, the tests drive it directly.
//
// - `load(type, items)` fills a type from a snapshot (`GET /api/v1/{collection}`);
// - `apply(event)` applies one server-sent event: `put` (the whole object), `patch` (an RFC 7386
//   merge patch of an object the client has), `del`; `ping` and an event's `id:` advance the
//   revision the store is complete up to; `reset` asks for a reload;
// - objects are never modified in place: a patch makes a new object, so that a list or a row can
//   tell what changed by identity;
// - every object carries its `rev`: an event older than what the store holds is skipped (a
//   snapshot loaded at a later revision than the stream's start replays harmlessly), and a
//   deleted object remembers its revision so that an older `put` cannot bring it back.

import type { ClientObject } from '@/types/objects'
import { mergePatch } from './merge'

/** The type of a client object: `vm`, `vm-template`, `pool-status`… (docs/objects.md). */
export type ObjectType = ClientObject['type']

/**
 * A client object as the store holds it: its `id` and `type` always, its other fields (those of
 * its type in `@/types/objects`, generated from the projection's schema) as far as they are
 * loaded (a preview asks for some of them only, `PREVIEWS` in sync.ts), and the revision the
 * store has it at.
 */
export type Stored<O extends ClientObject> = O extends ClientObject
  ? Pick<O, 'id' | 'type'> & Partial<Omit<O, 'id' | 'type'>> & { rev?: number }
  : never

/** Any object of the store. */
export type XObject = Stored<ClientObject>

type OfType<O, T> = O extends { type: infer U } ? (T extends U ? O : never) : never

/** The stored object of a type: `ObjectOf<'vm-template'>` is a stored `Vm`. */
export type ObjectOf<T extends ObjectType> = Stored<OfType<ClientObject, T>>

export interface PutEvent {
  event: 'put'
  data: { type: string; id: string; rev: number; data: XObject }
  id?: number
}
export interface PatchEvent {
  event: 'patch'
  data: { type: string; id: string; rev: number; patch: Record<string, unknown> }
  id?: number
}
export interface DelEvent {
  event: 'del'
  data: { type: string; id: string; rev: number }
  id?: number
}
export interface ResetEvent {
  event: 'reset'
  data: { revision: number; horizon?: number; since?: number | null }
  id?: number
}
export interface PingEvent {
  event: 'ping'
  data: { revision: number }
  id?: number
}
export type StoreEvent = PutEvent | PatchEvent | DelEvent | ResetEvent | PingEvent

/** What `apply` did: changed an object, nothing (stale, unknown, ping), or asks for a reload. */
export type ApplyResult = 'changed' | 'unchanged' | 'reset'

/** What changed since the last `takeChanges()`: the types, and the ids within each. */
export interface Changes {
  /** everything may have changed (a load or a clear) */
  reset: boolean
  types: Set<string>
  ids: Map<string, Set<string>>
}

function noChanges(): Changes {
  return { reset: false, types: new Set(), ids: new Map() }
}

/** deleted objects remembered (for the replay after a reconnect), at most */
const MAX_TOMBSTONES = 20_000
/** patches of objects the store does not have (yet), kept for `upsert`, at most */
const MAX_ORPHANS = 5_000

const key = (type: string, id: string) => `${type}\u0000${id}`

/** `obj` (a copy of its own) filed under an event's key: the event's type, id and revision win. */
const keyed = (obj: XObject, type: string, id: string, rev: number): XObject => Object.assign(obj, { id, type, rev })

export class ObjectStore {
  /** the revision the store is complete up to (what to follow the stream from) */
  revision = 0
  /** how many events were applied, skipped as stale, or were patches of unknown objects */
  readonly stats = { applied: 0, stale: 0, orphanPatches: 0 }

  private tables = new Map<string, Map<string, XObject>>()
  private tombstones = new Map<string, number>()
  private versions = new Map<string, number>()
  private lists = new Map<string, { version: number; list: XObject[] }>()
  private indexes = new Map<string, { version: number; index: Map<string, XObject[]> }>()
  private changes: Changes = noChanges()
  private orphans = new Map<string, { rev: number; patch: Record<string, unknown> }[]>()
  private orphanCount = 0

  // ------------------------------------------------------------------------------ reading

  // Each table holds the objects of its type only (`load`, `put` and `upsert` file them by the
  // type they are given), so that the overloads with a known type give that type's objects.

  get<T extends ObjectType>(type: T, id: string): ObjectOf<T> | undefined
  get(type: string, id: string): XObject | undefined
  get(type: string, id: string): XObject | undefined {
    return this.tables.get(type)?.get(id)
  }

  has(type: string, id: string): boolean {
    return this.tables.get(type)?.has(id) ?? false
  }

  /** Every object of a type (the same array until the type changes). */
  list<T extends ObjectType>(type: T): readonly ObjectOf<T>[]
  list(type: string): readonly XObject[]
  list(type: string): readonly XObject[] {
    const version = this.version(type)
    const cached = this.lists.get(type)
    if (cached && cached.version === version) return cached.list
    const list = Array.from(this.tables.get(type)?.values() ?? [])
    this.lists.set(type, { version, list })
    return list
  }

  size(type: string): number {
    return this.tables.get(type)?.size ?? 0
  }

  types(): string[] {
    return [...this.tables.keys()]
  }

  /** A number that changes whenever an object of `type` changes. */
  version(type: string): number {
    return this.versions.get(type) ?? 0
  }

  /**
   * The objects of `type` grouped by the value of a link field (`$host`, `$pool`, `$sr`…; a list
   * of links puts the object under each). Kept until the type changes.
   */
  groupBy<T extends ObjectType>(type: T, field: string): Map<string, ObjectOf<T>[]>
  groupBy(type: string, field: string): Map<string, XObject[]>
  groupBy(type: string, field: string): Map<string, XObject[]> {
    const version = this.version(type)
    const name = key(type, field)
    const cached = this.indexes.get(name)
    if (cached && cached.version === version) return cached.index
    const index = new Map<string, XObject[]>()
    const add = (value: unknown, obj: XObject) => {
      if (typeof value !== 'string') return
      const found = index.get(value)
      if (found) found.push(obj)
      else index.set(value, [obj])
    }
    for (const obj of this.tables.get(type)?.values() ?? []) {
      const fields: Readonly<Record<string, unknown>> = obj // read by name: `field` is any field
      const value = fields[field]
      if (Array.isArray(value)) for (const v of value) add(v, obj)
      else add(value, obj)
    }
    this.indexes.set(name, { version, index })
    return index
  }

  // ------------------------------------------------------------------------------ writing

  /** Replaces every object of `type` with `items` (a snapshot). */
  load(type: string, items: readonly XObject[]): void {
    const table = new Map<string, XObject>()
    for (const item of items) table.set(item.id, item)
    this.tables.set(type, table)
    for (const k of [...this.tombstones.keys()]) if (k.startsWith(type + '\u0000')) this.tombstones.delete(k)
    this.bump(type)
    this.changes.reset = true
  }

  /**
   * Adds objects fetched on the side while the stream runs (the VIFs of one VM): each is kept
   * unless the store has it at a later revision or saw it deleted later, and the patches that
   * arrived for it before it was there are applied on top.
   */
  upsert(type: string, items: readonly XObject[]): void {
    for (const item of items) {
      const rev = item.rev ?? 0
      const current = this.get(type, item.id)
      const k = key(type, item.id)
      if (current && (current.rev ?? 0) >= rev) continue
      const buried = this.tombstones.get(k)
      if (buried !== undefined && buried >= rev) continue
      let obj = keyed({ ...item }, type, item.id, rev)
      const pending = this.orphans.get(k)
      if (pending) {
        this.orphans.delete(k)
        this.orphanCount -= pending.length
        for (const p of pending.sort((a, b) => a.rev - b.rev)) {
          if (p.rev <= (obj.rev ?? 0)) continue
          obj = keyed(mergePatch<XObject>(obj, p.patch), type, item.id, p.rev)
        }
      }
      this.table(type).set(item.id, obj)
      this.touch(type, item.id)
    }
  }

  /** Forgets everything (a `reset`, a logout). */
  clear(): void {
    for (const type of this.tables.keys()) this.bump(type)
    this.tables.clear()
    this.tombstones.clear()
    this.orphans.clear()
    this.orphanCount = 0
    this.lists.clear()
    this.indexes.clear()
    this.revision = 0
    this.changes.reset = true
  }

  /** Applies one event. */
  apply(event: StoreEvent): ApplyResult {
    let result: ApplyResult = 'unchanged'
    switch (event.event) {
      case 'put':
        result = this.put(event.data.type, event.data.id, event.data.rev, event.data.data)
        break
      case 'patch':
        result = this.patch(event.data.type, event.data.id, event.data.rev, event.data.patch)
        break
      case 'del':
        result = this.del(event.data.type, event.data.id, event.data.rev)
        break
      case 'reset':
        return 'reset'
      case 'ping':
        this.advance(event.data.revision)
        break
    }
    if (typeof event.id === 'number') this.advance(event.id)
    if (result === 'changed') this.stats.applied++
    return result
  }

  /** Applies events in order; `reset` when one of them asks for a reload (the rest is left). */
  applyAll(events: Iterable<StoreEvent>): ApplyResult {
    let result: ApplyResult = 'unchanged'
    for (const event of events) {
      const one = this.apply(event)
      if (one === 'reset') return 'reset'
      if (one === 'changed') result = 'changed'
    }
    return result
  }

  /** What changed since the last call (and forget it). */
  takeChanges(): Changes {
    const out = this.changes
    this.changes = noChanges()
    return out
  }

  /** Moves the revision forward (never back). */
  advance(revision: number): void {
    if (Number.isFinite(revision) && revision > this.revision) this.revision = revision
  }

  private put(type: string, id: string, rev: number, data: XObject): ApplyResult {
    const current = this.get(type, id)
    if (current && (current.rev ?? 0) > rev) return this.stale()
    const buried = this.tombstones.get(key(type, id))
    if (buried !== undefined && buried >= rev) return this.stale()
    this.tombstones.delete(key(type, id))
    this.table(type).set(id, keyed({ ...data }, type, id, rev))
    this.touch(type, id)
    return 'changed'
  }

  private patch(type: string, id: string, rev: number, patch: Record<string, unknown>): ApplyResult {
    const current = this.get(type, id)
    if (!current) {
      // not (yet) here: kept a while, in case it comes by `upsert`
      this.stats.orphanPatches++
      const k = key(type, id)
      const list = this.orphans.get(k)
      if (list) list.push({ rev, patch })
      else this.orphans.set(k, [{ rev, patch }])
      if (++this.orphanCount > MAX_ORPHANS) {
        const oldest = this.orphans.keys().next().value as string
        this.orphanCount -= this.orphans.get(oldest)!.length
        this.orphans.delete(oldest)
      }
      return 'unchanged'
    }
    if ((current.rev ?? 0) >= rev) return this.stale()
    this.table(type).set(id, keyed(mergePatch<XObject>(current, patch), type, id, rev))
    this.touch(type, id)
    return 'changed'
  }

  private del(type: string, id: string, rev: number): ApplyResult {
    const current = this.get(type, id)
    if (current && (current.rev ?? 0) > rev) return this.stale()
    this.tombstones.set(key(type, id), rev)
    if (this.tombstones.size > MAX_TOMBSTONES) {
      // the oldest first (a Map keeps insertion order): only a replay can need them
      let drop = this.tombstones.size - MAX_TOMBSTONES / 2
      for (const k of this.tombstones.keys()) {
        if (drop-- <= 0) break
        this.tombstones.delete(k)
      }
    }
    if (!current) return 'unchanged'
    this.tables.get(type)!.delete(id)
    this.touch(type, id)
    return 'changed'
  }

  private stale(): ApplyResult {
    this.stats.stale++
    return 'unchanged'
  }

  private table(type: string): Map<string, XObject> {
    let table = this.tables.get(type)
    if (!table) {
      table = new Map()
      this.tables.set(type, table)
    }
    return table
  }

  private bump(type: string): void {
    this.versions.set(type, this.version(type) + 1)
    this.changes.types.add(type)
  }

  private touch(type: string, id: string): void {
    this.bump(type)
    let ids = this.changes.ids.get(type)
    if (!ids) {
      ids = new Set()
      this.changes.ids.set(type, ids)
    }
    ids.add(id)
  }
}
