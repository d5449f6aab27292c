import { describe, expect, it } from 'vitest'
import { ObjectStore, type ObjectType, type XObject } from '../src/store/core'
import { buildGraph, endKey, shapeOf } from '../src/lib/mapGraph'

function inventory(vms: number): ObjectStore {
  const s = new ObjectStore()
  const o = (type: ObjectType, id: string, extra: Record<string, unknown> = {}): XObject => ({
    id,
    type,
    rev: 1,
    name_label: id,
    ...extra,
  })
  s.load('pool', [o('pool', 'p1', { $pool: 'p1' })])
  s.load('pool-status', [o('pool-status', 'demo-1', { $pool: 'p1', state: 'synced' })])
  s.load('host', [o('host', 'h1', { $pool: 'p1', live: true }), o('host', 'h2', { $pool: 'p1', live: false })])
  s.load('sr', [
    o('sr', 's1', { $pool: 'p1', shared: true, $hosts: ['h1', 'h2'] }),
    o('sr', 's2', { $pool: 'p1', shared: false, $hosts: ['h2'] }),
  ])
  s.load('network', [o('network', 'n1', { $pool: 'p1' })])
  s.load('vif', [o('vif', 'if1', { $network: 'n1', $vm: 'vm-0' })])
  s.load(
    'vm',
    Array.from({ length: vms }, (_, i) =>
      o('vm', `vm-${i}`, {
        $pool: 'p1',
        $host: i % 2 ? 'h1' : undefined,
        $container: i % 2 ? 'h1' : 'p1',
        power_state: i % 2 ? 'Running' : 'Halted',
        disks: [{ $sr: 's1' }],
        nics: i === 0 ? [{ $vif: 'if1' }] : [],
      }),
    ),
  )
  return s
}

describe('the map graph', () => {
  it('has a node per object and links for membership and use', () => {
    const g = buildGraph(inventory(4))
    expect(g.aggregated).toBe(false)
    expect(g.nodes.map((n) => n.key).sort()).toEqual(
      [
        'host:h1',
        'host:h2',
        'network:n1',
        'pool:p1',
        'sr:s1',
        'sr:s2',
        'vm:vm-0',
        'vm:vm-1',
        'vm:vm-2',
        'vm:vm-3',
      ].sort(),
    )
    const links = g.links.map((l) => `${endKey(l.source)}>${endKey(l.target)}:${l.kind}`)
    expect(links).toContain('host:h1>pool:p1:member')
    expect(links).toContain('sr:s2>host:h2:member') // a local SR hangs on its host
    expect(links).toContain('sr:s1>pool:p1:member')
    expect(links).toContain('vm:vm-1>host:h1:runs')
    expect(links).toContain('vm:vm-0>pool:p1:runs') // halted: on its pool
    expect(links).toContain('vm:vm-0>sr:s1:uses')
    expect(links).toContain('vm:vm-0>network:n1:uses')
    expect(g.nodes.find((n) => n.key === 'host:h2')!.state).toBe('dead')
    expect(g.nodes.find((n) => n.key === 'pool:p1')!.state).toBe('synced')
  })

  it('groups VMs per host and power state above the threshold', () => {
    const g = buildGraph(inventory(3000))
    expect(g.aggregated).toBe(true)
    const groups = g.nodes.filter((n) => n.kind === 'vms')
    expect(groups).toHaveLength(2)
    expect(groups.reduce((n, x) => n + x.count, 0)).toBe(3000)
    expect(groups.find((x) => x.id === 'h1')!.label).toBe('1500 running')
    expect(g.nodes.length).toBeLessThan(20)
  })

  it('shows the hosts of a pool that is not synced as stale', () => {
    const s = inventory(2)
    s.load('pool-status', [{ id: 'demo-1', type: 'pool-status', rev: 2, $pool: 'p1', state: 'disconnected' }])
    const g = buildGraph(s)
    expect(g.nodes.find((n) => n.key === 'pool:p1')!.state).toBe('disconnected')
    expect(g.nodes.find((n) => n.key === 'host:h1')!.state).toBe('stale')
  })

  it('says when its shape changed', () => {
    const s = inventory(2)
    const a = shapeOf(buildGraph(s))
    expect(shapeOf(buildGraph(s))).toBe(a)
    s.apply({ event: 'del', data: { type: 'vm', id: 'vm-1', rev: 9 } })
    expect(shapeOf(buildGraph(s))).not.toBe(a)
  })
})
