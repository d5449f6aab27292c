// A filtered, sorted list of ids that stays true as events arrive, at a bounded cost:
// - each change is checked alone: does the object still pass the filter, did its sort key change?
// - only then is the list rebuilt (filter + sort of every object), at most once per `throttleMs`;
// - rows read their object live from the store, so a metric that moves shows at once even when
//   the order waits for the next rebuild.
// Plain TypeScript (tested with Vitest); `useLiveList` below is the Vue side.

import type { Changes, ObjectOf, ObjectType, XObject } from '@/store/core'

export type SortKey = string | number

export interface LiveListSource {
  list<T extends ObjectType>(type: T): readonly ObjectOf<T>[]
  list(type: string): readonly XObject[]
  get(type: string, id: string): XObject | undefined
}

export interface LiveListOptions {
  type: string
  /** keeps an object (null: every object) */
  predicate: ((obj: XObject) => boolean) | null
  /** the value to sort on (missing values: '' or -Infinity sort first) */
  sortKey: (obj: XObject) => SortKey
  desc: boolean
  /** other types the predicate or the sort key read (a host's name for VMs sorted by host) */
  dependsOn?: string[]
}

export function compareKeys(a: SortKey, b: SortKey): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  if (typeof a === 'number') return -1
  if (typeof b === 'number') return 1
  return a < b ? -1 : a > b ? 1 : 0
}

export class LiveList {
  ids: string[] = []
  /** rebuilds done (for the tests and the curious) */
  rebuilds = 0
  private members = new Set<string>()
  private keys = new Map<string, SortKey>()

  constructor(
    private readonly source: LiveListSource,
    public options: LiveListOptions,
  ) {}

  /** Filters and sorts every object of the type. */
  rebuild(): string[] {
    const { type, predicate, sortKey, desc } = this.options
    const rows: { id: string; key: SortKey; name: string }[] = []
    this.members = new Set()
    this.keys = new Map()
    for (const obj of this.source.list(type)) {
      if (predicate && !predicate(obj)) continue
      const key = sortKey(obj)
      this.members.add(obj.id)
      this.keys.set(obj.id, key)
      rows.push({ id: obj.id, key, name: ('name_label' in obj ? obj.name_label : undefined) ?? obj.id })
    }
    rows.sort((a, b) => {
      const c = compareKeys(a.key, b.key)
      const order = desc ? -c : c
      // ties: by name then id, always ascending (a stable, predictable order)
      return order || (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1)
    })
    this.ids = rows.map((r) => r.id)
    this.rebuilds++
    return this.ids
  }

  /** Whether these changes alter the list (membership or order): then it needs a rebuild. */
  affectedBy(changes: Changes): boolean {
    const { type, predicate, sortKey } = this.options
    if (changes.reset) return true
    if (this.options.dependsOn?.some((t) => changes.types.has(t))) return true
    if (!changes.types.has(type)) return false
    const ids = changes.ids.get(type)
    if (!ids) return true
    for (const id of ids) {
      const obj = this.source.get(type, id)
      const member = !!obj && (!predicate || predicate(obj))
      if (member !== this.members.has(id)) return true
      if (member && obj && sortKey(obj) !== this.keys.get(id)) return true
    }
    return false
  }
}
