// The "molecule" map's graph: pools, hosts, VMs, SRs and networks as nodes, their links as
// edges, built from the store. Above a threshold, a host's VMs become one node per power state
// ("42 running") so that the picture stays smooth with 10,000 VMs.

import type { XObject } from '@/store/core'
import type { LiveListSource } from './liveList'
import { nameOf, stateOf } from './objects'

export type NodeKind = 'pool' | 'host' | 'vm' | 'vms' | 'sr' | 'network'

export interface MapNode {
  key: string
  kind: NodeKind
  /** the object's id (for `vms`: the container's) */
  id: string
  type: string
  label: string
  state: string
  /** how many VMs an aggregate stands for */
  count: number
  r: number
  // d3-force's fields
  x?: number
  y?: number
  vx?: number
  vy?: number
  fx?: number | null
  fy?: number | null
  index?: number
}

export interface MapLink {
  source: string | MapNode
  target: string | MapNode
  kind: 'member' | 'runs' | 'uses'
}

export interface MapGraph {
  nodes: MapNode[]
  links: MapLink[]
  aggregated: boolean
}

/** more VMs than this: one node per host and power state */
export const AGGREGATE_ABOVE = 1500

const RADIUS: Record<NodeKind, number> = { pool: 16, host: 10, vm: 4, vms: 6, sr: 7, network: 7 }

function node(kind: NodeKind, obj: XObject, state: string, label = nameOf(obj)): MapNode {
  return { key: `${kind}:${obj.id}`, kind, id: obj.id, type: obj.type, label, state, count: 1, r: RADIUS[kind] }
}

export function buildGraph(source: Pick<LiveListSource, 'list'>, aggregateAbove = AGGREGATE_ABOVE): MapGraph {
  const nodes: MapNode[] = []
  const links: MapLink[] = []
  const keys = new Set<string>()
  const add = (n: MapNode) => {
    if (keys.has(n.key)) return
    keys.add(n.key)
    nodes.push(n)
  }
  const link = (a: string, b: string, kind: MapLink['kind']) => {
    if (keys.has(a) && keys.has(b)) links.push({ source: a, target: b, kind })
  }

  const statusOf = new Map<string, string>()
  for (const s of source.list('pool-status')) if (s.$pool) statusOf.set(s.$pool, s.state ?? 'unknown')

  for (const pool of source.list('pool')) add(node('pool', pool, statusOf.get(pool.id) ?? 'unknown'))
  for (const host of source.list('host')) {
    // a host of a pool that is not synced is stale: never shown as healthy
    const poolState = statusOf.get(host.$pool ?? '') ?? 'unknown'
    add(node('host', host, poolState === 'synced' ? stateOf(host) : 'stale'))
    link(`host:${host.id}`, `pool:${host.$pool}`, 'member')
  }
  for (const sr of source.list('sr')) {
    add(node('sr', sr, stateOf(sr)))
    const hosts = sr.$hosts ?? []
    if (sr.shared !== false || hosts.length !== 1) link(`sr:${sr.id}`, `pool:${sr.$pool}`, 'member')
    else link(`sr:${sr.id}`, `host:${hosts[0]}`, 'member')
  }
  for (const net of source.list('network')) {
    add(node('network', net, 'idle'))
    link(`network:${net.id}`, `pool:${net.$pool}`, 'member')
  }

  const vms = source.list('vm')
  const aggregated = vms.length > aggregateAbove
  if (aggregated) {
    const groups = new Map<string, MapNode>()
    for (const vm of vms) {
      const container = vm.$container ?? vm.$pool ?? ''
      const state = stateOf(vm)
      const key = `vms:${container}:${state}`
      let group = groups.get(key)
      if (!group) {
        group = { key, kind: 'vms', id: container, type: 'vm', label: '', state, count: 0, r: RADIUS.vms }
        groups.set(key, group)
      }
      group.count++
    }
    for (const g of groups.values()) {
      g.label = `${g.count} ${g.state.toLowerCase()}`
      g.r = Math.min(30, RADIUS.vms + Math.sqrt(g.count) * 1.2)
      add(g)
      link(g.key, keys.has(`host:${g.id}`) ? `host:${g.id}` : `pool:${g.id}`, 'runs')
    }
  } else {
    const networkOfVif = new Map<string, string>()
    for (const vif of source.list('vif')) if (vif.$network) networkOfVif.set(vif.id, vif.$network)
    for (const vm of vms) {
      add(node('vm', vm, stateOf(vm)))
      const k = `vm:${vm.id}`
      if (vm.$host) link(k, `host:${vm.$host}`, 'runs')
      else link(k, `pool:${vm.$pool}`, 'runs')
      const srs = new Set<string>()
      for (const d of vm.disks ?? []) if (d.$sr) srs.add(d.$sr)
      for (const sr of srs) link(k, `sr:${sr}`, 'uses')
      const nets = new Set<string>()
      for (const n of vm.nics ?? []) {
        const net = networkOfVif.get(n.$vif)
        if (net) nets.add(net)
      }
      for (const net of nets) link(k, `network:${net}`, 'uses')
    }
  }
  return { nodes, links, aggregated }
}

/** The key of a link's end: d3-force turns the key it is built with into the node. */
export const endKey = (end: string | MapNode): string => (typeof end === 'string' ? end : end.key)

/** The node at a link's end, once d3-force has put it there. */
export const endNode = (end: string | MapNode): MapNode | undefined => (typeof end === 'string' ? undefined : end)

/** A signature of the graph's shape (nodes and links), to know when to restart the layout. */
export function shapeOf(graph: MapGraph): string {
  const ends = (l: MapLink) => `${endKey(l.source)}>${endKey(l.target)}`
  return `${graph.nodes.map((n) => n.key).join(',')}|${graph.links.map(ends).join(',')}`
}
