// Saved searches are URLs: `#/inventory?q=<filter>&type=vm&sort=-memory&scope=host:<id>`.
// These helpers read a route's query into a search and write a search back, leaving out
// defaults so that URLs stay short and equal searches give equal URLs.

export const SEARCH_TYPES = ['vm', 'host', 'sr', 'network', 'vm-snapshot'] as const
export type SearchType = (typeof SEARCH_TYPES)[number]

export interface Sort {
  key: string
  desc: boolean
}

export interface Scope {
  type: 'pool' | 'host'
  id: string
}

export interface SavedSearch {
  q: string
  type: SearchType
  sort: Sort
  scope: Scope | null
}

export const DEFAULT_SORT: Sort = { key: 'name', desc: false }

export function defaultSearch(): SavedSearch {
  return { q: '', type: 'vm', sort: { ...DEFAULT_SORT }, scope: null }
}

type QueryValue = string | null | undefined | (string | null)[]
export type RouteQuery = Record<string, QueryValue>

function first(value: QueryValue): string | null {
  if (Array.isArray(value)) return value.find((v) => typeof v === 'string') ?? null
  return typeof value === 'string' ? value : null
}

/** `name` → ascending by name, `-name` → descending. */
export function parseSort(text: string | null): Sort {
  if (!text) return { ...DEFAULT_SORT }
  const desc = text.startsWith('-')
  const key = desc ? text.slice(1) : text
  return /^[a-z_]+$/.test(key) ? { key, desc } : { ...DEFAULT_SORT }
}

export function formatSort(sort: Sort): string {
  return (sort.desc ? '-' : '') + sort.key
}

export function parseScope(text: string | null): Scope | null {
  if (!text) return null
  const at = text.indexOf(':')
  if (at < 0) return null
  const type = text.slice(0, at)
  const id = text.slice(at + 1)
  return (type === 'pool' || type === 'host') && id ? { type, id } : null
}

/** `text` as a search type: the VMs' when it names none. */
export function searchType(text: string | null | undefined): SearchType {
  return SEARCH_TYPES.find((type) => type === text) ?? 'vm'
}

/** The search a route query describes (unknown or missing parts: the defaults). */
export function parseSearch(query: RouteQuery): SavedSearch {
  return {
    q: first(query.q) ?? '',
    type: searchType(first(query.type)),
    sort: parseSort(first(query.sort)),
    scope: parseScope(first(query.scope)),
  }
}

/** The route query of a search, without its defaults. */
export function serialiseSearch(search: SavedSearch): Record<string, string> {
  const out: Record<string, string> = {}
  if (search.q.trim()) out.q = search.q
  if (search.type !== 'vm') out.type = search.type
  if (search.sort.key !== DEFAULT_SORT.key || search.sort.desc !== DEFAULT_SORT.desc) {
    out.sort = formatSort(search.sort)
  }
  if (search.scope) out.scope = `${search.scope.type}:${search.scope.id}`
  return out
}

/** The hash URL of a search (`#/inventory?…`), as a link or a bookmark holds it. */
export function searchHref(search: SavedSearch): string {
  const params = new URLSearchParams(serialiseSearch(search))
  const text = params.toString()
  return '#/inventory' + (text ? `?${text}` : '')
}

/** The filter a scope adds: `$host:<id>` or `$pool:<id>`. */
export function scopeFilter(scope: Scope | null): string {
  if (!scope) return ''
  return `$${scope.type}:${scope.id}`
}

// ------------------------------------------------------------------ named searches (kept locally)

export interface NamedSearch {
  name: string
  query: Record<string, string>
}

const SAVED_KEY = 'xorca.searches'

function isNamedSearch(s: unknown): s is NamedSearch {
  return (
    typeof s === 'object' &&
    s !== null &&
    'name' in s &&
    typeof s.name === 'string' &&
    'query' in s &&
    typeof s.query === 'object'
  )
}

export function loadNamedSearches(storage: Pick<Storage, 'getItem'> = localStorage): NamedSearch[] {
  try {
    const raw: unknown = JSON.parse(storage.getItem(SAVED_KEY) ?? '[]')
    return Array.isArray(raw) ? raw.filter(isNamedSearch) : []
  } catch {
    return []
  }
}

export function storeNamedSearches(searches: NamedSearch[], storage: Pick<Storage, 'setItem'> = localStorage): void {
  storage.setItem(SAVED_KEY, JSON.stringify(searches))
}
