import { describe, expect, it } from 'vitest'
import fixture from './fixtures/filter-cases.json'
import {
  FilterError,
  compileFilter,
  formatQuery,
  matches,
  parseFilter,
  queryFields,
  tryParseFilter,
} from '../src/filter/query'
import { globMatcher, parseDate, parseNumber, quotePattern, renderNumber } from '../src/filter/values'

type Case = { filter: string; matches: string[]; text: string } | { filter: string; error: string; position: number }

const objects = fixture.objects as Record<string, unknown>[]
const cases = fixture.cases as Case[]

// tests/fixtures/filter-cases.json is written by web/scripts/filter_fixture.py with the server's
// own implementation (xorca.api.core.query_parse): the browser must agree with it
describe('the filter language, as the server reads it', () => {
  const good = cases.filter((c): c is Extract<Case, { matches: string[] }> => 'matches' in c)
  const bad = cases.filter((c): c is Extract<Case, { error: string }> => 'error' in c)

  it.each(good.map((c) => [c.filter, c] as const))('%s', (_, c) => {
    const query = parseFilter(c.filter)
    expect(objects.filter((o) => matches(query, o)).map((o) => o.id)).toEqual(c.matches)
    expect(formatQuery(query)).toBe(c.text)
    // what it prints reads back to the same filter
    const again = parseFilter(formatQuery(query))
    expect(objects.filter((o) => matches(again, o)).map((o) => o.id)).toEqual(c.matches)
  })

  it.each(bad.map((c) => [c.filter, c] as const))('refuses %s', (_, c) => {
    let error: unknown = null
    try {
      parseFilter(c.filter)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(FilterError)
    expect((error as FilterError).reason).toBe(c.error)
    expect((error as FilterError).position).toBe(c.position)
    expect((error as FilterError).message).toContain(`(at character ${c.position + 1})`)
  })

  it('covers the cases of the fixture', () => {
    expect(good.length).toBeGreaterThan(80)
    expect(bad.length).toBeGreaterThan(20)
  })
})

describe('filter values', () => {
  it('reads numbers with units', () => {
    expect(parseNumber('4G')).toBe(4 * 1024 ** 3)
    expect(parseNumber('1.5GiB')).toBe(1610612736)
    expect(parseNumber('500MB')).toBe(500_000_000)
    expect(parseNumber('80%')).toBeCloseTo(0.8)
    expect(parseNumber('-1')).toBe(-1)
    expect(parseNumber('2e3')).toBe(2000)
    expect(parseNumber('.5')).toBe(0.5)
    expect(parseNumber('big')).toBeNull()
    expect(parseNumber('2026')).toBe(2026)
  })

  it('writes numbers back with units', () => {
    expect(renderNumber(4 * 1024 ** 3)).toBe('4G')
    expect(renderNumber(3 * 1024 ** 2)).toBe('3M')
    expect(renderNumber(1e9)).toBe('1e9')
    expect(renderNumber(1234)).toBe('1234')
    expect(renderNumber(0.8)).toBe('0.8')
  })

  it('reads dates at any precision', () => {
    expect(parseDate('2026-11')).toBe('2026-11')
    expect(parseDate('2026-11-01t09:30z')).toBe('2026-11-01T09:30')
    expect(parseDate('2026-11-01T09:30:15.500Z')).toBe('2026-11-01T09:30:15.5')
    expect(parseDate('2026')).toBeNull()
  })

  it('matches wildcards on the whole text, ignoring case', () => {
    expect(globMatcher('web*')('WEB-01')).toBe(true)
    expect(globMatcher('web*')('my-web')).toBe(false)
    expect(globMatcher('*db*')('prod-db-1')).toBe(true)
    expect(globMatcher('web-0?')('web-01')).toBe(true)
    expect(globMatcher('web-0?')('web-010')).toBe(false)
    expect(globMatcher('backup\\*')('backup*')).toBe(true)
    expect(globMatcher('backup\\*')('backup1')).toBe(false)
    expect(globMatcher('*a*a*b')('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac')).toBe(false)
    expect(globMatcher('a*b*c')('abc')).toBe(true)
    expect(globMatcher('a*bc*c')('abcc')).toBe(true)
    expect(globMatcher('ab*ba')('aba')).toBe(false)
  })

  it('quotes what would read as an operator', () => {
    expect(quotePattern('web', false)).toBe('web')
    expect(quotePattern('web 01', false)).toBe('"web 01"')
    expect(quotePattern('>5', false)).toBe('">5"')
    expect(quotePattern('a..b', false)).toBe('"a..b"')
    expect(quotePattern('', false)).toBe('""')
    expect(quotePattern('or', true)).toBe('"or"')
    expect(quotePattern('-x', true)).toBe('"-x"')
    expect(quotePattern('a:b', true)).toBe('"a:b"')
    expect(quotePattern('a:b', false)).toBe('a:b')
    expect(quotePattern('say "hi"', false)).toBe('"say \\"hi\\""')
  })
})

describe('filter helpers', () => {
  it('compiles a predicate', () => {
    const running = compileFilter('power_state:Running')
    expect(running({ id: 'x', power_state: 'running' })).toBe(true)
    expect(running({ id: 'x' })).toBe(false)
  })

  it('returns the error instead of throwing when asked', () => {
    const r = tryParseFilter('(a')
    expect(r.query).toBeNull()
    expect(r.error?.position).toBe(0)
    expect(tryParseFilter('a').error).toBeNull()
  })

  it('names the fields a filter reads', () => {
    expect([...queryFields(parseFilter('power_state:Running memory.actual:>1G -$host:*'))].sort()).toEqual([
      '$host',
      'memory',
      'power_state',
    ])
    expect([...queryFields(parseFilter('web'))].sort()).toEqual(['id', 'name_description', 'name_label'])
  })

  it('refuses a filter that is too long or too deep', () => {
    expect(() => parseFilter('a'.repeat(2001))).toThrow(/too long/)
    expect(() => parseFilter('('.repeat(40) + 'a' + ')'.repeat(40))).toThrow(/nested too deeply/)
  })

  it('evaluates 10,000 objects quickly', () => {
    const vms = Array.from({ length: 10_000 }, (_, i) => ({
      id: `id-${i}`,
      name_label: `vm-${i}`,
      power_state: i % 3 ? 'Running' : 'Halted',
      tags: i % 2 ? ['prod'] : [],
      memory: { actual: i * 1024 ** 2 },
    }))
    const q = parseFilter('(power_state:Running or power_state:Paused) tags:prod memory.actual:>1G -name_label:*9')
    const t0 = performance.now()
    const kept = vms.filter((v) => matches(q, v))
    expect(performance.now() - t0).toBeLessThan(200)
    expect(kept.length).toBeGreaterThan(1000)
  })
})
