// What the UI says about objects: names, routes, states and their colours.

import type { XObject } from '@/store/core'

export function nameOf(obj: XObject | undefined | null, fallback = '—'): string {
  if (!obj) return fallback
  const name = 'name_label' in obj ? obj.name_label : undefined
  if (name) return name
  if (obj.type === 'pool-status') return obj.registry_id ?? obj.id
  return obj.id.split('-')[0]
}

const ROUTES: Record<string, string> = {
  vm: 'vms',
  host: 'hosts',
  sr: 'srs',
  network: 'networks',
  pool: 'pools',
}

/** The page of an object (`/vms/<id>`; a snapshot's is its VM's), or null when it has none. */
export function routeOf(obj: { type: string; id: string; $snapshot_of?: string }): string | null {
  if (obj.type === 'vm-snapshot' && obj.$snapshot_of) return `/vms/${obj.$snapshot_of}`
  const base = ROUTES[obj.type]
  return base ? `/${base}/${obj.id}` : null
}

export function routeOfType(type: string, id: string): string | null {
  return routeOf({ type, id })
}

/** The state word of an object, whatever its type. */
export function stateOf(obj: XObject | undefined): string {
  if (!obj) return 'unknown'
  switch (obj.type) {
    case 'host':
      if (obj.live === false) return 'dead'
      if (obj.enabled === false) return 'disabled'
      return obj.live === true ? 'live' : 'unknown'
    case 'pool-status':
      return obj.state ?? 'unknown'
    case 'task':
      return obj.status ?? 'unknown'
    case 'sr':
      return obj.attached === false ? 'detached' : 'attached'
    default:
      return ('power_state' in obj ? obj.power_state : undefined) ?? 'unknown'
  }
}

/** The colour family of a state: ok, warn, bad, idle, info. */
export function toneOf(state: string): 'ok' | 'warn' | 'bad' | 'idle' | 'info' {
  switch (state.toLowerCase()) {
    case 'running':
    case 'live':
    case 'synced':
    case 'success':
    case 'attached':
      return 'ok'
    case 'paused':
    case 'suspended':
    case 'degraded':
    case 'connecting':
    case 'disabled':
    case 'cancelling':
    case 'stale':
      return 'warn'
    case 'dead':
    case 'failure':
    case 'error':
    case 'disconnected':
    case 'detached':
      return 'bad'
    case 'pending':
      return 'info'
    default:
      return 'idle'
  }
}

export const POWER_STATES = ['Running', 'Halted', 'Paused', 'Suspended'] as const

/** The operations running on an object: `{task id: operation}` (the tasks it is the object of). */
export function operationsOf(obj: XObject | undefined): Readonly<Record<string, string>> {
  return (obj && 'current_operations' in obj ? obj.current_operations : undefined) ?? {}
}

export function tagsOf(obj: XObject | undefined): readonly string[] {
  return (obj && 'tags' in obj ? obj.tags : undefined) ?? []
}
