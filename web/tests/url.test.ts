import { describe, expect, it } from 'vitest'
import {
  defaultSearch,
  loadNamedSearches,
  parseSearch,
  parseSort,
  scopeFilter,
  searchHref,
  serialiseSearch,
  storeNamedSearches,
} from '../src/filter/url'

describe('saved searches in the URL', () => {
  it('reads a route query, with defaults for what is missing or wrong', () => {
    expect(parseSearch({})).toEqual(defaultSearch())
    expect(parseSearch({ q: 'power_state:Running', type: 'host', sort: '-memory', scope: 'pool:p1' })).toEqual({
      q: 'power_state:Running',
      type: 'host',
      sort: { key: 'memory', desc: true },
      scope: { type: 'pool', id: 'p1' },
    })
    expect(parseSearch({ type: 'nonsense', sort: '-<script>', scope: 'vm:x' })).toEqual(defaultSearch())
    expect(parseSearch({ q: ['a', 'b'] }).q).toBe('a')
  })

  it('writes a search without its defaults, and reads it back', () => {
    expect(serialiseSearch(defaultSearch())).toEqual({})
    const search = {
      q: 'tags:"my tag" -power_state:Halted',
      type: 'vm' as const,
      sort: { key: 'cpu', desc: true },
      scope: { type: 'host' as const, id: 'h-1' },
    }
    const query = serialiseSearch(search)
    expect(query).toEqual({ q: search.q, sort: '-cpu', scope: 'host:h-1' })
    expect(parseSearch(query)).toEqual(search)
  })

  it('makes hash URLs that survive URL encoding', () => {
    const search = { ...defaultSearch(), q: 'name_label:"a b" + 100% | x' }
    const href = searchHref(search)
    expect(href.startsWith('#/inventory?q=')).toBe(true)
    const params = new URLSearchParams(href.slice('#/inventory?'.length))
    expect(parseSearch(Object.fromEntries(params)).q).toBe(search.q)
    expect(searchHref(defaultSearch())).toBe('#/inventory')
  })

  it('sorts ascending by default', () => {
    expect(parseSort('name')).toEqual({ key: 'name', desc: false })
    expect(parseSort(null)).toEqual({ key: 'name', desc: false })
  })

  it('turns a scope into a filter', () => {
    expect(scopeFilter({ type: 'host', id: 'h1' })).toBe('$host:h1')
    expect(scopeFilter(null)).toBe('')
  })

  it('keeps named searches', () => {
    const data = new Map<string, string>()
    const storage = {
      getItem: (k: string) => data.get(k) ?? null,
      setItem: (k: string, v: string) => void data.set(k, v),
    }
    expect(loadNamedSearches(storage)).toEqual([])
    storeNamedSearches([{ name: 'prod', query: { q: 'tags:prod' } }], storage)
    expect(loadNamedSearches(storage)).toEqual([{ name: 'prod', query: { q: 'tags:prod' } }])
    data.set('xorca.searches', 'not json')
    expect(loadNamedSearches(storage)).toEqual([])
  })
})
