// The application's one store and its one event stream.

import { apiUrl } from '@/api/config'
import { getToken } from '@/api/auth'
import { get } from '@/api/client'
import { ReactiveStore } from './reactive'
import { followTaskTargets } from '@/lib/taskTargets'
import { PAGE_LIMIT, Sync, type Page } from './sync'

export const store = new ReactiveStore()
followTaskTargets(store)

const makeSync = () =>
  new Sync(
    {
      fetchPage(collection, cursor, signal, filter, fields) {
        const params = new URLSearchParams({ limit: String(PAGE_LIMIT) })
        if (cursor) params.set('cursor', cursor)
        if (filter) params.set('filter', filter)
        if (fields) params.set('fields', fields)
        return get<Page>(`/${collection}?${params}`, signal)
      },
      openEvents(since, types) {
        const params = new URLSearchParams({ since: String(since), types: types.join(',') })
        params.set('access_token', getToken() ?? '')
        return new EventSource(apiUrl(`/events?${params}`))
      },
      async probe() {
        await get('/pool-statuses?limit=1&fields=id')
      },
      setTimeout: (fn, ms) => window.setTimeout(fn, ms),
      clearTimeout: (handle) => window.clearTimeout(handle as number),
    },
    store,
  )
let sync = makeSync()

let running = false

/** Starts following the API (after a login, or at boot with a saved token). */
export function startSync(): void {
  if (running) return
  running = true
  void sync.start()
}

/**
 * Loads the objects of a lazily followed collection that match `filter` (the VIFs of a VM):
 * once, then the stream keeps them true.
 */
export function ensureLoaded(collection: string, type: string, filter: string): void {
  sync.ensure(collection, type, filter).catch(() => {
    // shown as missing; the next page that needs them asks again
  })
}

/** Stops and forgets everything (logout, 401). */
export function stopSync(): void {
  running = false
  sync.stop()
  sync = makeSync()
  store.clear()
  store.state('offline', 'signed out')
}

if (typeof window !== 'undefined') {
  window.addEventListener('online', () => sync.retryNow())
  window.addEventListener('offline', () => {
    if (running) sync.browserOffline()
  })
}

export type { XObject } from './core'
