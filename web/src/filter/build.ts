// Filter text from UI choices (power state chips, tags, a text box, a scope from the tree) and
// back: the search box shows one filter string, the chips are views of parts of it.

import { allOf, formatQuery, parseFilter, type Query } from './query'
import { escapePattern, literalText, quotePattern } from './values'

/** A value as it must be written after `field:` to match exactly that text (no wildcards). */
export function quoteValue(text: string): string {
  return quotePattern(escapePattern(text), false)
}

/** A bare word that searches for exactly that text (no wildcards). */
export function quoteWord(text: string): string {
  return quotePattern(escapePattern(text), true)
}

/** `field:value`, the value quoted as needed (a plain text match). */
export function fieldTerm(field: string, value: string): string {
  return `${field}:${quoteValue(value)}`
}

export interface Choices {
  /** free text typed in the box, itself filter language (may be empty) */
  text: string
  /** power states to keep (any of them); empty: all */
  powerStates: string[]
  /** tags that must all be present */
  tags: string[]
}

/** The filter text of some choices: the text, then `(power_state:A or power_state:B)`, tags. */
export function buildFilter(choices: Choices): string {
  const parts: string[] = []
  const text = choices.text.trim()
  if (text) {
    // a text with a top-level `or` must be grouped before anything is ANDed to it
    let grouped = text
    try {
      const q = parseFilter(text)
      if (q.kind === 'or' && (choices.powerStates.length || choices.tags.length)) grouped = `(${text})`
    } catch {
      // left as typed: the server names the error
    }
    parts.push(grouped)
  }
  const states = choices.powerStates.map((s) => fieldTerm('power_state', s))
  if (states.length === 1) parts.push(states[0])
  else if (states.length > 1) parts.push(`(${states.join(' or ')})`)
  for (const tag of choices.tags) parts.push(fieldTerm('tags', tag))
  return parts.join(' ')
}

function literalOf(q: Query, field: string): string | null {
  if (q.kind !== 'field' || q.path.length !== 1 || q.path[0] !== field) return null
  if (q.test.kind !== 'equals') return null
  return literalText(q.test.pattern) // null when it has wildcards
}

function powerStatesOf(q: Query): string[] | null {
  const one = literalOf(q, 'power_state')
  if (one !== null) return [one]
  if (q.kind === 'or') {
    const states = q.items.map((i) => literalOf(i, 'power_state'))
    if (states.every((s) => s !== null)) return states
  }
  return null
}

/**
 * The choices a filter is made of: the top-level power state group and `tags:x` terms become
 * chips, the rest stays text. `buildFilter(parseChoices(f))` filters as `f` does. A filter that
 * does not parse is all text.
 */
export function parseChoices(filter: string): Choices {
  let q: Query
  try {
    q = parseFilter(filter)
  } catch {
    return { text: filter, powerStates: [], tags: [] }
  }
  const items = q.kind === 'and' ? q.items : q.kind === 'all' ? [] : [q]
  let powerStates: string[] = []
  const tags: string[] = []
  const rest: Query[] = []
  for (const item of items) {
    const states = powerStatesOf(item)
    const tag = literalOf(item, 'tags')
    if (states !== null && powerStates.length === 0) powerStates = states
    else if (tag !== null && !tags.includes(tag)) tags.push(tag)
    else rest.push(item)
  }
  if (rest.length === 0) return { text: '', powerStates, tags }
  // the text keeps the user's own writing when nothing was taken out of it
  const text = rest.length === items.length ? filter.trim() : formatQuery(allOf(rest))
  return { text, powerStates, tags }
}

/** The filter with `power_state` chips toggled: adds or removes `state`. */
export function togglePowerState(filter: string, state: string): string {
  const c = parseChoices(filter)
  const has = c.powerStates.some((s) => s.toLowerCase() === state.toLowerCase())
  c.powerStates = has ? c.powerStates.filter((s) => s.toLowerCase() !== state.toLowerCase()) : [...c.powerStates, state]
  return buildFilter(c)
}

/** The filter with `tags:tag` added or removed. */
export function toggleTag(filter: string, tag: string): string {
  const c = parseChoices(filter)
  c.tags = c.tags.includes(tag) ? c.tags.filter((t) => t !== tag) : [...c.tags, tag]
  return buildFilter(c)
}

/** `a` AND `b`, each grouped when needed (either may be empty). */
export function andFilters(a: string, b: string): string {
  const x = a.trim()
  const y = b.trim()
  if (!x) return y
  if (!y) return x
  const wrap = (f: string) => {
    try {
      return parseFilter(f).kind === 'or' ? `(${f})` : f
    } catch {
      return f
    }
  }
  return `${wrap(x)} ${wrap(y)}`
}

/** Normalised text of a filter (how the server would print it), or the text when it does not parse. */
export function normaliseFilter(filter: string): string {
  try {
    return formatQuery(parseFilter(filter))
  } catch {
    return filter
  }
}
