import { describe, expect, it } from 'vitest'
import { ago, bytes, describeMessage, percent, ratio } from '../src/lib/format'
import { ipKey } from '../src/lib/columns'
import { stateOf, toneOf } from '../src/lib/objects'

describe('formatting', () => {
  it('writes sizes in binary units', () => {
    expect(bytes(4294967296)).toBe('4 GiB')
    expect(bytes(1610612736)).toBe('1.5 GiB')
    expect(bytes(512)).toBe('512 B')
    expect(bytes(undefined)).toBe('—')
  })

  it('writes ratios as percentages', () => {
    expect(percent(0.853)).toBe('85%')
    expect(ratio(5, 10)).toBe(0.5)
    expect(ratio(5, 0)).toBe(0)
  })

  it('says how long ago', () => {
    const now = Date.parse('2026-11-26T12:00:00Z')
    expect(ago('2026-11-26T11:59:58Z', now)).toBe('just now')
    expect(ago('2026-11-26T11:55:00Z', now)).toBe('5 min ago')
    expect(ago('2026-11-24T12:00:00Z', now)).toBe('2 d ago')
  })

  it('describes alarms', () => {
    expect(
      describeMessage({ alarm: true, alarm_source: 'cpu_usage', alarm_value: 0.96, alarm_trigger_level: 0.9 }),
    ).toBe('cpu usage at 96% (limit 90%)')
    expect(describeMessage({ name: 'VM_STARTED' })).toBe('vm started')
  })

  it('sorts IPv4 addresses by their numbers', () => {
    expect(ipKey('10.0.0.9') < ipKey('10.0.0.10')).toBe(true)
    expect(ipKey(undefined)).toBe('')
  })

  it('says the state of any object and its colour', () => {
    expect(stateOf({ id: 'h', type: 'host', live: false })).toBe('dead')
    expect(stateOf({ id: 's', type: 'pool-status', state: 'synced' })).toBe('synced')
    expect(stateOf({ id: 'v', type: 'vm', power_state: 'Paused' })).toBe('Paused')
    expect(toneOf('synced')).toBe('ok')
    expect(toneOf('disconnected')).toBe('bad')
    expect(toneOf('stale')).toBe('warn')
  })
})
