import { describe, expect, it } from 'vitest'
import { ObjectStore, type ObjectOf, type StoreEvent, type XObject } from '../src/store/core'
import type { Vm } from '../src/types/objects'

const vm = (id: string, rev: number, extra: Partial<Vm> = {}): ObjectOf<'vm'> => ({
  id,
  type: 'vm',
  rev,
  name_label: `vm-${id}`,
  power_state: 'Running',
  memory: { actual: 1024, static_max: 2048 },
  ...extra,
})

const put = (obj: XObject, id?: number): StoreEvent => ({
  event: 'put',
  data: { type: obj.type, id: obj.id, rev: obj.rev!, data: obj },
  id,
})
const patch = (type: string, oid: string, rev: number, p: Record<string, unknown>, id?: number): StoreEvent => ({
  event: 'patch',
  data: { type, id: oid, rev, patch: p },
  id,
})
const del = (type: string, oid: string, rev: number, id?: number): StoreEvent => ({
  event: 'del',
  data: { type, id: oid, rev },
  id,
})

describe('ObjectStore', () => {
  it('loads a snapshot by type and id', () => {
    const s = new ObjectStore()
    s.load('vm', [vm('a', 1), vm('b', 2)])
    expect(s.size('vm')).toBe(2)
    expect(s.get('vm', 'b')?.name_label).toBe('vm-b')
    expect(s.list('vm').map((o) => o.id)).toEqual(['a', 'b'])
    expect(s.get('host', 'a')).toBeUndefined()
  })

  it('applies put: new objects and replacements', () => {
    const s = new ObjectStore()
    expect(s.apply(put(vm('a', 5)))).toBe('changed')
    expect(s.get('vm', 'a')?.rev).toBe(5)
    s.apply(put(vm('a', 6, { name_label: 'renamed' })))
    expect(s.get('vm', 'a')?.name_label).toBe('renamed')
    expect(s.size('vm')).toBe(1)
  })

  it('applies patch as an RFC 7386 merge patch, making a new object', () => {
    const s = new ObjectStore()
    s.load('vm', [vm('a', 1)])
    const before = s.get('vm', 'a')!
    expect(s.apply(patch('vm', 'a', 2, { power_state: 'Halted', memory: { actual: null }, tags: ['x'] }))).toBe(
      'changed',
    )
    const after = s.get('vm', 'a')!
    expect(after).not.toBe(before)
    expect(before.power_state).toBe('Running')
    expect(after).toMatchObject({ power_state: 'Halted', memory: { static_max: 2048 }, tags: ['x'], rev: 2 })
    expect(after.memory?.actual).toBeUndefined()
  })

  it('ignores a patch of an object it does not have', () => {
    const s = new ObjectStore()
    expect(s.apply(patch('vm', 'ghost', 3, { a: 1 }))).toBe('unchanged')
    expect(s.size('vm')).toBe(0)
    expect(s.stats.orphanPatches).toBe(1)
  })

  it('applies del', () => {
    const s = new ObjectStore()
    s.load('vm', [vm('a', 1), vm('b', 1)])
    expect(s.apply(del('vm', 'a', 2))).toBe('changed')
    expect(s.has('vm', 'a')).toBe(false)
    expect(s.list('vm').map((o) => o.id)).toEqual(['b'])
    expect(s.apply(del('vm', 'zzz', 3))).toBe('unchanged')
  })

  it('skips events older than the object (a replay after a later snapshot)', () => {
    const s = new ObjectStore()
    s.load('vm', [vm('a', 10, { name_label: 'new' })])
    expect(s.apply(patch('vm', 'a', 8, { name_label: 'old' }))).toBe('unchanged')
    expect(s.apply(patch('vm', 'a', 10, { name_label: 'same rev' }))).toBe('unchanged')
    expect(s.apply(put(vm('a', 9, { name_label: 'older' })))).toBe('unchanged')
    expect(s.apply(del('vm', 'a', 9))).toBe('unchanged')
    expect(s.get('vm', 'a')?.name_label).toBe('new')
    expect(s.stats.stale).toBe(4)
  })

  it('does not let an older put bring back a deleted object', () => {
    const s = new ObjectStore()
    s.apply(put(vm('a', 3)))
    s.apply(del('vm', 'a', 7))
    expect(s.apply(put(vm('a', 5)))).toBe('unchanged')
    expect(s.has('vm', 'a')).toBe(false)
    expect(s.apply(put(vm('a', 8)))).toBe('changed')
    expect(s.has('vm', 'a')).toBe(true)
  })

  it('tracks the revision from event ids and pings, never backwards', () => {
    const s = new ObjectStore()
    s.revision = 100
    s.apply(put(vm('a', 101)))
    expect(s.revision).toBe(100) // no id: the revision is not complete yet
    s.apply(patch('vm', 'a', 102, { x: 1 }, 102))
    expect(s.revision).toBe(102)
    s.apply({ event: 'ping', data: { revision: 150 }, id: 150 })
    expect(s.revision).toBe(150)
    s.apply({ event: 'ping', data: { revision: 120 } })
    expect(s.revision).toBe(150)
  })

  it('asks for a reload on reset, and clear forgets everything', () => {
    const s = new ObjectStore()
    s.load('vm', [vm('a', 1)])
    s.revision = 42
    expect(s.apply({ event: 'reset', data: { revision: 500, horizon: 400, since: 42 } })).toBe('reset')
    expect(s.has('vm', 'a')).toBe(true) // reset only asks; the caller reloads
    s.clear()
    expect(s.size('vm')).toBe(0)
    expect(s.revision).toBe(0)
    expect(s.apply(put(vm('a', 1)))).toBe('changed')
  })

  it('applyAll stops at a reset', () => {
    const s = new ObjectStore()
    const result = s.applyAll([put(vm('a', 1)), { event: 'reset', data: { revision: 9 } }, put(vm('b', 2))])
    expect(result).toBe('reset')
    expect(s.has('vm', 'a')).toBe(true)
    expect(s.has('vm', 'b')).toBe(false)
  })

  it('reports what changed, by type and id', () => {
    const s = new ObjectStore()
    s.load('vm', [vm('a', 1), vm('b', 1)])
    expect(s.takeChanges().reset).toBe(true)
    s.apply(patch('vm', 'a', 2, { x: 1 }))
    s.apply(put({ id: 'h', type: 'host', rev: 3 }))
    s.apply(patch('vm', 'zzz', 4, { x: 1 }))
    const changes = s.takeChanges()
    expect(changes.reset).toBe(false)
    expect([...changes.types].sort()).toEqual(['host', 'vm'])
    expect([...changes.ids.get('vm')!]).toEqual(['a'])
    expect(s.takeChanges().types.size).toBe(0)
  })

  it('keeps list() and groupBy() until the type changes', () => {
    const s = new ObjectStore()
    s.load('vm', [vm('a', 1, { $host: 'h1' }), vm('b', 1, { $host: 'h2' }), vm('c', 1, { $host: 'h1' })])
    const list = s.list('vm')
    expect(s.list('vm')).toBe(list)
    const byHost = s.groupBy('vm', '$host')
    expect(byHost.get('h1')!.map((o) => o.id)).toEqual(['a', 'c'])
    expect(s.groupBy('vm', '$host')).toBe(byHost)
    const v = s.version('vm')
    s.apply(patch('vm', 'c', 2, { $host: 'h2' }))
    expect(s.version('vm')).toBeGreaterThan(v)
    expect(s.list('vm')).not.toBe(list)
    expect(
      s
        .groupBy('vm', '$host')
        .get('h2')!
        .map((o) => o.id),
    ).toEqual(['b', 'c'])
  })

  it('groups by every element of a list of links', () => {
    const s = new ObjectStore()
    s.load('sr', [{ id: 's', type: 'sr', rev: 1, $hosts: ['h1', 'h2'] }])
    expect(
      s
        .groupBy('sr', '$hosts')
        .get('h2')!
        .map((o) => o.id),
    ).toEqual(['s'])
  })

  it('moves an object between types (a VM made into a template)', () => {
    const s = new ObjectStore()
    s.load('vm', [vm('a', 1)])
    s.applyAll([del('vm', 'a', 5), put({ ...vm('a', 5), type: 'vm-template' }, 5)])
    expect(s.has('vm', 'a')).toBe(false)
    expect(s.get('vm-template', 'a')?.type).toBe('vm-template')
    expect(s.revision).toBe(5)
  })

  it('applies 10,000 VMs and 1,000 patches quickly', () => {
    const s = new ObjectStore()
    const items = Array.from({ length: 10_000 }, (_, i) => vm(String(i), 1))
    const t0 = performance.now()
    s.load('vm', items)
    for (let i = 0; i < 1000; i++) s.apply(patch('vm', String(i * 7), 2 + i, { cpus: { usage: i / 1000 } }))
    s.list('vm')
    expect(performance.now() - t0).toBeLessThan(500)
    expect(s.get('vm', '7')!.cpus).toEqual({ usage: 0.001 })
  })
})

describe('ObjectStore.upsert (objects fetched while the stream runs)', () => {
  it('adds objects and applies the patches that came before them', () => {
    const s = new ObjectStore()
    s.apply(patch('vif', 'i1', 12, { ips: ['10.0.0.2'] }))
    s.apply(patch('vif', 'i1', 9, { mtu: 9000 })) // older than the fetched object: not applied
    s.upsert('vif', [{ id: 'i1', type: 'vif', rev: 10, mtu: 1500, ips: [] }])
    expect(s.get('vif', 'i1')).toMatchObject({ rev: 12, mtu: 1500, ips: ['10.0.0.2'] })
  })

  it('keeps what the store has at a later revision, and what was deleted later', () => {
    const s = new ObjectStore()
    s.apply(put({ id: 'i1', type: 'vif', rev: 20, mtu: 1 }))
    s.apply(del('vif', 'i2', 30))
    s.upsert('vif', [
      { id: 'i1', type: 'vif', rev: 15, mtu: 2 },
      { id: 'i2', type: 'vif', rev: 25 },
      { id: 'i3', type: 'vif', rev: 5 },
    ])
    expect(s.get('vif', 'i1')!.mtu).toBe(1)
    expect(s.has('vif', 'i2')).toBe(false)
    expect(s.has('vif', 'i3')).toBe(true)
  })
})
