// Numbers, sizes and times as people read them.

import type { Message } from '@/types/objects'

const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** 4294967296 → "4 GiB", 1610612736 → "1.5 GiB". */
export function bytes(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—'
  let v = Math.abs(value)
  let unit = 0
  while (v >= 1024 && unit < BINARY.length - 1) {
    v /= 1024
    unit++
  }
  const digits = v >= 100 || unit === 0 ? 0 : v >= 10 ? 1 : 2
  const text = v.toFixed(digits).replace(/\.0+$|(\.\d*[1-9])0+$/, '$1')
  return `${value < 0 ? '-' : ''}${text} ${BINARY[unit]}`
}

/** 0.853 → "85%" (a ratio from 0 to 1). */
export function percent(value: unknown, digits = 0): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—'
  return `${(value * 100).toFixed(digits)}%`
}

/** A ratio clamped to 0..1 (for bars). */
export function ratio(part: unknown, whole: unknown): number {
  if (typeof part !== 'number' || typeof whole !== 'number' || whole <= 0) return 0
  return Math.min(1, Math.max(0, part / whole))
}

/** An ISO datetime as local date and time ("26 Nov 2026, 09:00"). */
export function dateTime(value: unknown): string {
  if (typeof value !== 'string') return '—'
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return value
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  })
}

/** "3 min ago", "in 2 h", from an ISO datetime. */
export function ago(value: unknown, now: number = Date.now()): string {
  if (typeof value !== 'string') return '—'
  const t = new Date(value).getTime()
  if (Number.isNaN(t)) return value
  const s = Math.round((now - t) / 1000)
  const a = Math.abs(s)
  if (a < 5) return 'just now'
  const text =
    a < 45
      ? `${a} s`
      : a < 3600
        ? `${Math.round(a / 60)} min`
        : a < 86400
          ? `${Math.round(a / 3600)} h`
          : `${Math.round(a / 86400)} d`
  return s >= 0 ? `${text} ago` : `in ${text}`
}

/** "1 VM", "3 VMs". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`
}

/** The short form of a uuid (its first group). */
export function shortId(id: unknown): string {
  return typeof id === 'string' ? id.split('-')[0] : '—'
}

/** 32877469.3 → "32.9 M" (a count or rate without a known unit). */
export function compact(value: number): string {
  return new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 }).format(value)
}

/** What an alarm or a message says, in a few words: "cpu usage at 96% (limit 90%)". */
export function describeMessage(m: Partial<Message>): string {
  if (m.alarm === true) {
    const src = (m.alarm_source ?? 'alarm').replace(/_/g, ' ')
    const v = m.alarm_value
    const level = m.alarm_trigger_level
    // a limit from 0 to 1 is a ratio: the value is one too
    const ratioLike = level !== undefined ? level <= 1 : v !== undefined && v >= 0 && v <= 1
    const fmt = (x: number) => (ratioLike ? percent(x) : compact(x))
    return `${src}${v !== undefined ? ` at ${fmt(v)}` : ''}${level !== undefined ? ` (limit ${fmt(level)})` : ''}`
  }
  return (m.name ?? 'message').replace(/_/g, ' ').toLowerCase()
}
