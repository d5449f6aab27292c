// The columns of the inventory list, per type: what each shows, how it sorts, how wide it is,
// and whether it stays on a phone.

import type { ObjectOf, ObjectType, XObject } from '@/store/core'
import type { ReactiveStore } from '@/store/reactive'
import { bytes, percent } from './format'
import { nameOf, stateOf, tagsOf } from './objects'
import type { SortKey } from './liveList'

/**
 * One column of a type's list. Its functions are methods, so that the columns of VMs (reading
 * `ObjectOf<'vm'>`) are columns like any other: a list calls them with objects of its type only.
 */
export interface Column<O extends XObject = XObject> {
  key: string
  label: string
  /** grid track size */
  width: string
  /** shown on narrow screens */
  phone: boolean
  kind: 'name' | 'state' | 'text' | 'tags' | 'usage'
  sortKey(obj: O, store: ReactiveStore): SortKey
  text?(obj: O, store: ReactiveStore): string
  /** for `usage`: a 0..1 ratio */
  ratio?(obj: O): number | undefined
  align?: 'end'
}

type Columns<T extends ObjectType> = Column<ObjectOf<T>>[]

const lower = (v: string | undefined) => v?.toLowerCase() ?? ''
const numOr = (v: number | undefined) => v ?? -Infinity
const count = (v: number | undefined) => String(v ?? '—')

/** An IPv4 sorts by its numbers (10.0.0.9 before 10.0.0.10); anything else as text. */
export function ipKey(ip: string | undefined): string {
  if (ip === undefined) return ''
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip)
  if (!m) return `~${ip}`
  return m
    .slice(1)
    .map((n) => n.padStart(3, '0'))
    .join('.')
}

const hostName = (obj: ObjectOf<'vm'>, store: ReactiveStore) =>
  obj.$host ? nameOf(store.core.get('host', obj.$host)) : ''
const poolName = (obj: XObject, store: ReactiveStore) => (obj.$pool ? nameOf(store.core.get('pool', obj.$pool)) : '')

const name: Column = {
  key: 'name',
  label: 'Name',
  width: 'minmax(140px, 2fr)',
  phone: true,
  kind: 'name',
  sortKey: (o) => lower('name_label' in o ? o.name_label : undefined),
}

const vm: Columns<'vm'> = [
  name,
  {
    key: 'power_state',
    label: 'State',
    width: '110px',
    phone: true,
    kind: 'state',
    sortKey: (o) => lower(o.power_state),
  },
  {
    key: 'host',
    label: 'Host',
    width: 'minmax(120px, 1fr)',
    phone: false,
    kind: 'text',
    sortKey: (o, s) => lower(hostName(o, s)),
    text: (o, s) => hostName(o, s) || '—',
  },
  {
    key: 'cpu',
    label: 'CPU',
    width: '110px',
    phone: false,
    kind: 'usage',
    sortKey: (o) => numOr(cpuUsage(o)),
    ratio: cpuUsage,
    text: (o) => {
      const n = o.cpus?.number || o.cpus?.at_startup
      const u = cpuUsage(o)
      return u === undefined ? `${n ?? '—'} vCPU` : `${percent(u)} of ${n ?? '?'}`
    },
  },
  {
    key: 'memory',
    label: 'Memory',
    width: '96px',
    phone: false,
    kind: 'text',
    align: 'end',
    sortKey: (o) => numOr(o.memory?.actual) || numOr(o.memory?.static_max),
    text: (o) => bytes(o.memory?.actual || o.memory?.static_max),
  },
  {
    key: 'ip',
    label: 'IP',
    width: '130px',
    phone: false,
    kind: 'text',
    sortKey: (o) => ipKey(o.main_address),
    text: (o) => o.main_address ?? '—',
  },
  {
    key: 'tags',
    label: 'Tags',
    width: 'minmax(80px, 1fr)',
    phone: false,
    kind: 'tags',
    sortKey: (o) => tagsOf(o).join(' ').toLowerCase(),
  },
]

const host: Columns<'host'> = [
  name,
  { key: 'state', label: 'State', width: '100px', phone: true, kind: 'state', sortKey: (o) => stateOf(o) },
  {
    key: 'pool',
    label: 'Pool',
    width: 'minmax(100px, 1fr)',
    phone: false,
    kind: 'text',
    sortKey: (o, s) => lower(poolName(o, s)),
    text: (o, s) => poolName(o, s) || '—',
  },
  {
    key: 'memory',
    label: 'Memory used',
    width: '130px',
    phone: false,
    kind: 'usage',
    sortKey: (o) => memUse(o) ?? -Infinity,
    ratio: memUse,
    text: (o) => `${bytes(usedMemory(o))} / ${bytes(o.memory?.total)}`,
  },
  {
    key: 'vms',
    label: 'VMs',
    width: '70px',
    phone: false,
    kind: 'text',
    align: 'end',
    sortKey: (o) => numOr(o.resident_vm_count),
    text: (o) => count(o.resident_vm_count),
  },
  {
    key: 'cpus',
    label: 'CPUs',
    width: '70px',
    phone: false,
    kind: 'text',
    align: 'end',
    sortKey: (o) => numOr(o.cpus?.count),
    text: (o) => count(o.cpus?.count),
  },
  {
    key: 'version',
    label: 'Version',
    width: '120px',
    phone: false,
    kind: 'text',
    sortKey: (o) => lower(o.product_version),
    text: (o) => `${o.product_brand ?? ''} ${o.product_version ?? ''}`.trim() || '—',
  },
]

const sr: Columns<'sr'> = [
  name,
  { key: 'state', label: 'State', width: '100px', phone: true, kind: 'state', sortKey: (o) => stateOf(o) },
  {
    key: 'sr_type',
    label: 'Type',
    width: '90px',
    phone: false,
    kind: 'text',
    sortKey: (o) => lower(o.sr_type),
    text: (o) => o.sr_type ?? '—',
  },
  {
    key: 'pool',
    label: 'Pool',
    width: 'minmax(100px, 1fr)',
    phone: false,
    kind: 'text',
    sortKey: (o, s) => lower(poolName(o, s)),
    text: (o, s) => poolName(o, s) || '—',
  },
  {
    key: 'usage',
    label: 'Usage',
    width: '150px',
    phone: false,
    kind: 'usage',
    sortKey: (o) => numOr(o.usage),
    ratio: (o) => o.usage,
    text: (o) => `${bytes(o.physical_utilisation)} / ${bytes(o.physical_size)}`,
  },
  {
    key: 'vdis',
    label: 'Disks',
    width: '70px',
    phone: false,
    kind: 'text',
    align: 'end',
    sortKey: (o) => numOr(o.vdi_count),
    text: (o) => count(o.vdi_count),
  },
]

const network: Columns<'network'> = [
  name,
  {
    key: 'pool',
    label: 'Pool',
    width: 'minmax(100px, 1fr)',
    phone: true,
    kind: 'text',
    sortKey: (o, s) => lower(poolName(o, s)),
    text: (o, s) => poolName(o, s) || '—',
  },
  {
    key: 'bridge',
    label: 'Bridge',
    width: '100px',
    phone: false,
    kind: 'text',
    sortKey: (o) => lower(o.bridge),
    text: (o) => o.bridge ?? '—',
  },
  {
    key: 'mtu',
    label: 'MTU',
    width: '70px',
    phone: false,
    kind: 'text',
    align: 'end',
    sortKey: (o) => numOr(o.mtu),
    text: (o) => count(o.mtu),
  },
  {
    key: 'vifs',
    label: 'VIFs',
    width: '70px',
    phone: false,
    kind: 'text',
    align: 'end',
    sortKey: (o) => numOr(o.vif_count),
    text: (o) => count(o.vif_count),
  },
]

const snapshot: Columns<'vm-snapshot'> = [
  name,
  {
    key: 'of',
    label: 'Snapshot of',
    width: 'minmax(100px, 1fr)',
    phone: false,
    kind: 'text',
    sortKey: (o, s) => lower(nameOf(s.core.get('vm', o.$snapshot_of ?? ''), '')),
    text: (o, s) => nameOf(s.core.get('vm', o.$snapshot_of ?? '')),
  },
  {
    key: 'time',
    label: 'Taken',
    width: '170px',
    phone: true,
    kind: 'text',
    sortKey: (o) => o.snapshot_time ?? '',
    text: (o) => (o.snapshot_time ? new Date(o.snapshot_time).toLocaleString() : '—'),
  },
  {
    key: 'pool',
    label: 'Pool',
    width: 'minmax(100px, 1fr)',
    phone: false,
    kind: 'text',
    sortKey: (o, s) => lower(poolName(o, s)),
    text: (o, s) => poolName(o, s) || '—',
  },
]

export const COLUMNS: Readonly<Record<string, readonly Column[]>> = {
  vm,
  host,
  sr,
  network,
  'vm-snapshot': snapshot,
}

/** a VM's CPU usage while it has a domain (a halted VM keeps its last metrics: history) */
function cpuUsage(o: ObjectOf<'vm'>): number | undefined {
  if (o.power_state !== 'Running' && o.power_state !== 'Paused') return undefined
  return o.cpus?.usage
}

function usedMemory(o: ObjectOf<'host'>): number | undefined {
  const total = o.memory?.total
  const free = o.memory?.free
  return total !== undefined && free !== undefined ? total - free : undefined
}

function memUse(o: ObjectOf<'host'>): number | undefined {
  const total = o.memory?.total
  const used = usedMemory(o)
  return total && used !== undefined ? used / total : undefined
}

/** Types whose names a column's sort key reads (sorting VMs by host reads hosts). */
export function columnDependsOn(type: string, key: string): string[] {
  if (type === 'vm' && key === 'host') return ['host']
  if (key === 'pool') return ['pool']
  if (type === 'vm-snapshot' && key === 'of') return ['vm']
  return []
}
