import { describe, expect, it } from 'vitest'
import {
  andFilters,
  buildFilter,
  fieldTerm,
  normaliseFilter,
  parseChoices,
  quoteValue,
  quoteWord,
  togglePowerState,
  toggleTag,
} from '../src/filter/build'
import { matches, parseFilter } from '../src/filter/query'

const keep = (filter: string, obj: Record<string, unknown>) => matches(parseFilter(filter), obj)

describe('building filters from UI choices', () => {
  it('quotes values so that they match exactly that text', () => {
    expect(quoteValue('prod')).toBe('prod')
    expect(quoteValue('web 01')).toBe('"web 01"')
    expect(quoteValue('backup*')).toBe('"backup\\*"')
    expect(quoteValue('a..b')).toBe('"a..b"')
    expect(quoteValue('say "hi"')).toBe('"say \\"hi\\""')
    expect(quoteValue('')).toBe('""')
    for (const text of ['web 01', 'backup*', 'a..b', 'say "hi"', '(old)?', '>5', 'x|y', 'c:\\temp', '*']) {
      expect(keep(`name_label:${quoteValue(text)}`, { name_label: text })).toBe(true)
      expect(keep(`name_label:${quoteValue(text)}`, { name_label: text + 'x' })).toBe(false)
    }
  })

  it('quotes bare words that would read as operators', () => {
    expect(quoteWord('web')).toBe('web')
    expect(quoteWord('or')).toBe('"or"')
    expect(quoteWord('a:b')).toBe('"a:b"')
    expect(quoteWord('-x')).toBe('"-x"')
    expect(keep(quoteWord('a:b'), { name_label: 'xa:by' })).toBe(true)
  })

  it('builds a filter from a text, power state chips and tags', () => {
    expect(buildFilter({ text: '', powerStates: [], tags: [] })).toBe('')
    expect(buildFilter({ text: 'web', powerStates: ['Running'], tags: [] })).toBe('web power_state:Running')
    expect(buildFilter({ text: '', powerStates: ['Running', 'Paused'], tags: ['prod', 'my tag'] })).toBe(
      '(power_state:Running or power_state:Paused) tags:prod tags:"my tag"',
    )
    // a text with a top-level `or` is grouped before anything is added to it
    expect(buildFilter({ text: 'a or b', powerStates: ['Halted'], tags: [] })).toBe('(a or b) power_state:Halted')
    expect(fieldTerm('$host', 'abc-1')).toBe('$host:abc-1')
  })

  it('reads the chips back from a filter', () => {
    expect(parseChoices('web (power_state:Running or power_state:Paused) tags:prod')).toEqual({
      text: 'web',
      powerStates: ['Running', 'Paused'],
      tags: ['prod'],
    })
    expect(parseChoices('power_state:Halted')).toEqual({ text: '', powerStates: ['Halted'], tags: [] })
    // wildcards are not chips
    expect(parseChoices('power_state:Run* tags:p*')).toEqual({
      text: 'power_state:Run* tags:p*',
      powerStates: [],
      tags: [],
    })
    // a filter that does not parse stays text
    expect(parseChoices('(web')).toEqual({ text: '(web', powerStates: [], tags: [] })
    expect(parseChoices('')).toEqual({ text: '', powerStates: [], tags: [] })
  })

  it('round-trips: building the parsed choices filters the same way', () => {
    const objects = [
      { id: '1', name_label: 'web-1', power_state: 'Running', tags: ['prod'] },
      { id: '2', name_label: 'web-2', power_state: 'Halted', tags: [] },
      { id: '3', name_label: 'db', power_state: 'Paused', tags: ['prod', 'x y'] },
    ]
    for (const f of [
      'web power_state:Running',
      '(power_state:Running or power_state:Paused) tags:prod',
      'tags:"x y" db',
      'a or b',
      '-tags:prod power_state:Halted',
    ]) {
      const rebuilt = buildFilter(parseChoices(f))
      expect(objects.filter((o) => keep(rebuilt, o))).toEqual(objects.filter((o) => keep(f, o)))
    }
  })

  it('toggles power states and tags in a filter', () => {
    let f = 'web'
    f = togglePowerState(f, 'Running')
    expect(f).toBe('web power_state:Running')
    f = togglePowerState(f, 'Paused')
    expect(f).toBe('web (power_state:Running or power_state:Paused)')
    f = togglePowerState(f, 'Running')
    expect(f).toBe('web power_state:Paused')
    f = toggleTag(f, 'prod')
    expect(f).toBe('web power_state:Paused tags:prod')
    f = toggleTag(togglePowerState(f, 'Paused'), 'prod')
    expect(f).toBe('web')
  })

  it('ANDs two filters, grouping `or`s', () => {
    expect(andFilters('', 'b')).toBe('b')
    expect(andFilters('a', '')).toBe('a')
    expect(andFilters('a or b', '$host:x')).toBe('(a or b) $host:x')
  })

  it('normalises a filter as the server prints it', () => {
    expect(normaliseFilter('not tags:test AND  power_state:running')).toBe('-tags:test power_state:running')
    expect(normaliseFilter('(oops')).toBe('(oops')
  })
})
