// What the UI says about objects: names, routes, states and their colours.

import type { XObject } from '@/store/core'

export function nameOf(obj: XObject | undefined | null, fallback = '—'): string {
  if (!obj) return fallback
  const name = obj.name_label
  if (typeof name === 'string' && name) return name
  if (obj.type === 'pool-status') return String(obj.registry_id ?? obj.id)
  return obj.id.split('-')[0]
}

const ROUTES: Record<string, string> = {
  vm: 'vms',
  host: 'hosts',
  sr: 'srs',
  network: 'networks',
  pool: 'pools',
}

/** The page of an object (`/vms/<id>`), or null when it has none. */
export function routeOf(obj: Pick<XObject, 'type' | 'id'> & Partial<XObject>): string | null {
  if (obj.type === 'vm-snapshot' && typeof obj.$snapshot_of === 'string') return `/vms/${obj.$snapshot_of}`
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
      return String(obj.state ?? 'unknown')
    case 'task':
      return String(obj.status ?? 'unknown')
    case 'sr':
      return obj.attached === false ? 'detached' : 'attached'
    default:
      return typeof obj.power_state === 'string' ? obj.power_state : 'unknown'
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

/** The object a task acts on: the one whose `current_operations` names it. */
export function operationsOf(obj: XObject | undefined): Record<string, string> {
  const ops = obj?.current_operations
  return ops && typeof ops === 'object' && !Array.isArray(ops) ? (ops as Record<string, string>) : {}
}

export function tagsOf(obj: XObject | undefined): string[] {
  const tags = obj?.tags
  return Array.isArray(tags) ? (tags.filter((t) => typeof t === 'string') as string[]) : []
}

export function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}

/** A nested field: `field(vm, 'memory', 'actual')`. */
export function field(obj: unknown, ...path: string[]): unknown {
  let v: unknown = obj
  for (const key of path) {
    if (!v || typeof v !== 'object') return undefined
    v = (v as Record<string, unknown>)[key]
  }
  return v
}
