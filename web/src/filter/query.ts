// The filter language (docs/filter.md) in the browser: text to a tree, the tree evaluated over
// client objects, and the tree written back as text. It follows the server's
// `xorca.api.core.query_parse` / `query_eval`, so that the live list stays filtered as events
// arrive exactly as the server would filter it.

import {
  KEYWORDS,
  globMatcher,
  literalText,
  parseBool,
  parseDate,
  parseNumber,
  quotePattern,
  renderNumber,
  type Matcher,
} from './values'

export const MAX_LENGTH = 2000
export const MAX_DEPTH = 32
/** the fields a bare word searches */
export const BARE_FIELDS = ['name_label', 'name_description', 'id'] as const

/** A filter that cannot be read: `position` is the offset (from 0) of the faulty character. */
export class FilterError extends Error {
  constructor(
    readonly reason: string,
    readonly position: number,
  ) {
    super(`${reason} (at character ${position + 1})`)
    this.name = 'FilterError'
  }
}

// ------------------------------------------------------------------------------------- tree

export type Bound = number | string // a number, or a date (string)

export type Predicate =
  | { kind: 'exists' }
  | { kind: 'equals'; pattern: string; match: Matcher; number: number | null; boolean: boolean | null }
  | { kind: 'compare'; op: '>' | '>=' | '<' | '<='; bound: Bound }
  | { kind: 'range'; lo: Bound | null; hi: Bound | null }

export type Query =
  | { kind: 'all' } // the empty filter
  | { kind: 'field'; path: string[]; test: Predicate }
  | { kind: 'bare'; pattern: string; match: Matcher }
  | { kind: 'not'; item: Query }
  | { kind: 'and'; items: Query[] }
  | { kind: 'or'; items: Query[] }

export const MATCH_ALL: Query = { kind: 'all' }

export function equals(pattern: string): Predicate {
  const literal = literalText(pattern)
  return {
    kind: 'equals',
    pattern,
    match: globMatcher(pattern),
    number: literal === null ? null : parseNumber(literal),
    boolean: literal === null ? null : parseBool(literal),
  }
}

export function bare(pattern: string): Query {
  return { kind: 'bare', pattern, match: globMatcher(`*${pattern}*`) }
}

export function allOf(items: Query[]): Query {
  const flat: Query[] = []
  for (const item of items) {
    if (item.kind === 'and') flat.push(...item.items)
    else flat.push(item)
  }
  if (flat.length === 0) return MATCH_ALL
  return flat.length === 1 ? flat[0] : { kind: 'and', items: flat }
}

export function anyOf(items: Query[]): Query {
  const flat: Query[] = []
  for (const item of items) {
    if (item.kind === 'or') flat.push(...item.items)
    else flat.push(item)
  }
  return flat.length === 1 ? flat[0] : { kind: 'or', items: flat }
}

// ------------------------------------------------------------------------------------ lexer

type CharKind = 'plain' | 'quoted' | 'escaped'
interface Char {
  char: string
  kind: CharKind
  position: number
}
interface Token {
  kind: '(' | ')' | 'or' | 'and' | 'not' | 'word'
  position: number
  chars: Char[]
}

const isSpace = (c: string) => /\s/.test(c)

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let index = 0
  while (index < text.length) {
    const c = text[index]
    if (isSpace(c)) {
      index++
    } else if (c === '(' || c === ')') {
      tokens.push({ kind: c, position: index, chars: [] })
      index++
    } else if (c === '|') {
      tokens.push({ kind: 'or', position: index, chars: [] })
      index++
    } else if (c === '-' || c === '!') {
      const after = text.slice(index + 1, index + 2)
      if (!after || isSpace(after) || ')|'.includes(after)) {
        throw new FilterError(`\`${c}\` must be followed directly by a term to negate`, index)
      }
      tokens.push({ kind: 'not', position: index, chars: [] })
      index++
    } else {
      const start = index
      const [chars, next] = readWord(text, index)
      index = next
      const word = chars.map((ch) => ch.char).join('')
      if (chars.every((ch) => ch.kind === 'plain') && KEYWORDS.has(word.toLowerCase())) {
        tokens.push({ kind: word.toLowerCase() as 'or' | 'and' | 'not', position: start, chars: [] })
      } else {
        tokens.push({ kind: 'word', position: start, chars })
      }
    }
  }
  return tokens
}

function readWord(text: string, start: number): [Char[], number] {
  const chars: Char[] = []
  let index = start
  const end = text.length
  while (index < end) {
    const c = text[index]
    if (isSpace(c) || c === '(' || c === ')' || c === '|') break
    if (c === '\\') {
      if (index + 1 === end) throw new FilterError('`\\` at the end: nothing to escape', index)
      chars.push({ char: text[index + 1], kind: 'escaped', position: index + 1 })
      index += 2
    } else if (c === '"') {
      const opening = index
      index++
      chars.push({ char: '', kind: 'quoted', position: opening })
      for (;;) {
        if (index === end) throw new FilterError('unterminated quote: `"` has no closing `"`', opening)
        const q = text[index]
        if (q === '"') {
          index++
          break
        }
        if (q === '\\') {
          if (index + 1 === end) {
            throw new FilterError('unterminated quote: `"` has no closing `"`', opening)
          }
          chars.push({ char: text[index + 1], kind: 'escaped', position: index + 1 })
          index += 2
        } else {
          chars.push({ char: q, kind: 'quoted', position: index })
          index++
        }
      }
    } else {
      chars.push({ char: c, kind: 'plain', position: index })
      index++
    }
  }
  return [chars, index]
}

// ----------------------------------------------------------------------------------- parser

class Parser {
  index = 0
  constructor(readonly tokens: Token[]) {}

  peek(): Token | undefined {
    return this.tokens[this.index]
  }

  take(): Token {
    return this.tokens[this.index++]
  }

  anyOf(depth: number): Query {
    const items = [this.allOf(depth)]
    let token: Token | undefined
    while ((token = this.peek()) !== undefined && token.kind === 'or') {
      this.take()
      const after = this.peek()
      if (after === undefined || after.kind === 'or' || after.kind === 'and' || after.kind === ')') {
        throw new FilterError('`or` needs a term after it', token.position)
      }
      items.push(this.allOf(depth))
    }
    return anyOf(items)
  }

  allOf(depth: number): Query {
    const items: Query[] = []
    let token: Token | undefined
    while ((token = this.peek()) !== undefined && token.kind !== 'or' && token.kind !== ')') {
      if (token.kind === 'and') {
        this.take()
        if (items.length === 0) throw new FilterError('`and` needs a term before it', token.position)
        const after = this.peek()
        if (after === undefined || after.kind === 'or' || after.kind === 'and' || after.kind === ')') {
          throw new FilterError('`and` needs a term after it', token.position)
        }
      }
      items.push(this.unary(depth))
    }
    if (items.length === 0) {
      const next = this.peek()!
      if (next.kind === ')') throw new FilterError('unmatched `)`: no `(` opens it', next.position)
      throw new FilterError(`\`${next.kind}\` needs a term before it`, next.position)
    }
    return allOf(items)
  }

  unary(depth: number): Query {
    const token = this.take()
    if (token.kind === 'not' || token.kind === '(') {
      if (depth >= MAX_DEPTH) {
        throw new FilterError(`nested too deeply (over ${MAX_DEPTH} levels)`, token.position)
      }
      const after = this.peek()
      if (token.kind === 'not') {
        if (after === undefined || after.kind === 'or' || after.kind === 'and' || after.kind === ')') {
          throw new FilterError('`not` needs a term after it', token.position)
        }
        return { kind: 'not', item: this.unary(depth + 1) }
      }
      if (after === undefined) {
        throw new FilterError('unclosed parenthesis: `(` has no matching `)`', token.position)
      }
      if (after.kind === ')') throw new FilterError('empty parentheses', token.position)
      const inner = this.anyOf(depth + 1)
      if (this.peek() === undefined) {
        throw new FilterError('unclosed parenthesis: `(` has no matching `)`', token.position)
      }
      this.take()
      return inner
    }
    return term(token.chars)
  }
}

/** The tree of filter `text`; empty text matches everything. Throws `FilterError`. */
export function parseFilter(text: string): Query {
  if (text.length > MAX_LENGTH) {
    throw new FilterError(`the filter is too long (over ${MAX_LENGTH} characters)`, MAX_LENGTH)
  }
  const tokens = tokenize(text)
  if (tokens.length === 0) return MATCH_ALL
  const parser = new Parser(tokens)
  const query = parser.anyOf(0)
  const extra = parser.peek()
  if (extra !== undefined) throw new FilterError('unmatched `)`: no `(` opens it', extra.position)
  return query
}

/** The tree, or the error: for a search box that shows what is wrong as the user types. */
export function tryParseFilter(text: string): { query: Query; error: null } | { query: null; error: FilterError } {
  try {
    return { query: parseFilter(text), error: null }
  } catch (e) {
    if (e instanceof FilterError) return { query: null, error: e }
    throw e
  }
}

const FIELD_SEGMENT = /^[A-Za-z0-9_$-]+$/
const OPERATORS = ['>=', '<=', '>', '<'] as const

function term(chars: Char[]): Query {
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]
    if (c.char === ':' && c.kind === 'plain') {
      return {
        kind: 'field',
        path: fieldPath(chars.slice(0, i), c.position),
        test: predicate(chars.slice(i + 1), c.position),
      }
    }
  }
  return bare(pattern(chars))
}

function fieldPath(chars: Char[], colon: number): string[] {
  if (chars.length === 0) throw new FilterError('empty field name before `:`', colon)
  for (const c of chars) {
    if (c.kind !== 'plain') throw new FilterError('a field name cannot be quoted or escaped', c.position)
  }
  const segments: string[] = []
  let start = chars[0].position
  for (const segment of chars
    .map((c) => c.char)
    .join('')
    .split('.')) {
    if (!segment) throw new FilterError('empty segment in field path (`a..b`, `.a` or `a.`)', start)
    if (!FIELD_SEGMENT.test(segment)) {
      const bad = [...segment].find((ch) => !/[A-Za-z0-9_$-]/.test(ch))!
      throw new FilterError(
        `\`${bad}\` cannot be in a field name (letters, digits, \`_\`, \`-\`, \`$\`)`,
        start + segment.indexOf(bad),
      )
    }
    segments.push(segment)
    start += segment.length + 1
  }
  return segments
}

function pattern(chars: Char[]): string {
  let out = ''
  for (const c of chars) {
    out += c.kind === 'escaped' && '*?\\'.includes(c.char) && c.char !== '' ? '\\' + c.char : c.char
  }
  return out
}

function predicate(chars: Char[], colon: number): Predicate {
  if (chars.length === 0) {
    throw new FilterError('no value after `:` (`field:*` tests that a field exists)', colon)
  }
  if (chars.some((c) => c.kind !== 'plain')) return equals(pattern(chars))
  const text = chars.map((c) => c.char).join('')
  const start = chars[0].position
  if (text === '*') return { kind: 'exists' }
  for (const op of OPERATORS) {
    if (text.startsWith(op)) {
      const b = bound(text.slice(op.length), start + op.length)
      if (b === null) throw new FilterError(`\`${op}\` needs a number or a date after it`, start)
      return { kind: 'compare', op, bound: b }
    }
  }
  if (text.includes('..')) return range(text, start)
  return equals(text)
}

function bound(text: string, position: number): Bound | null {
  if (!text) return null
  const number = parseNumber(text)
  if (number !== null) return number
  const date = parseDate(text)
  if (date !== null) return date
  throw new FilterError(
    `\`${text}\` is neither a number (\`4G\`, \`80%\`) nor a date (\`2026-11-01\`); quote the value to match it as text`,
    position,
  )
}

function range(text: string, position: number): Predicate {
  const at = text.indexOf('..')
  const lowText = text.slice(0, at)
  const highText = text.slice(at + 2)
  const lo = bound(lowText, position)
  const hi = bound(highText, position + lowText.length + 2)
  if (lo === null && hi === null) {
    throw new FilterError('a range needs at least one end (`1G..4G`, `1G..`, `..4G`)', position)
  }
  if (lo !== null && hi !== null && typeof lo !== typeof hi) {
    throw new FilterError('a range is between two numbers or two dates, not one of each', position)
  }
  return { kind: 'range', lo, hi }
}

// ------------------------------------------------------------------------------- evaluation

type Json = unknown

const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The values at a dotted path; a list of objects on the way is entered element by element. */
export function resolve(obj: Record<string, Json>, path: string[]): Json[] {
  let values: Json[] = [obj]
  for (const key of path) {
    const found: Json[] = []
    for (const value of values) {
      if (Array.isArray(value)) {
        for (const item of value) if (isObject(item) && key in item) found.push(item[key])
      } else if (isObject(value) && key in value) {
        found.push(value[key])
      }
    }
    if (found.length === 0) return found
    values = found
  }
  return values
}

function accepts(test: Predicate, value: Json): boolean {
  switch (test.kind) {
    case 'exists':
      if (Array.isArray(value)) return value.length > 0
      if (isObject(value)) return Object.keys(value).length > 0
      return value !== undefined && value !== null
    case 'equals':
      if (typeof value === 'string') return test.match(value)
      if (typeof value === 'boolean') return test.boolean === value
      if (typeof value === 'number') return test.number !== null && value === test.number
      if (Array.isArray(value)) return value.some((v) => accepts(test, v))
      if (isObject(value)) return Object.values(value).some((v) => accepts(test, v))
      return false
    case 'compare':
      return acceptsBound(value, typeof test.bound === 'string', (v) => compare(test.op, v, test.bound))
    case 'range': {
      const dates = typeof (test.lo ?? test.hi) === 'string'
      return acceptsBound(
        value,
        dates,
        (v) => (test.lo === null || compare('>=', v, test.lo)) && (test.hi === null || compare('<=', v, test.hi)),
      )
    }
  }
}

const DATE_LIKE = /^\d{4}-\d{2}/

function acceptsBound(value: Json, dates: boolean, check: (v: number | string) => boolean): boolean {
  if (dates) {
    if (typeof value === 'string') return DATE_LIKE.test(value) && check(value.replace(/Z$/, ''))
  } else if (typeof value === 'number') {
    return check(value)
  }
  if (Array.isArray(value)) return value.some((v) => acceptsBound(v, dates, check))
  if (isObject(value)) return Object.values(value).some((v) => acceptsBound(v, dates, check))
  return false
}

/** `value op bound`; a datetime is cut to the date's length first (compared at that precision). */
function compare(op: string, value: number | string, b: Bound): boolean {
  let v: number | string = value
  if (typeof b === 'string') {
    if (typeof value !== 'string') return false
    v = value.slice(0, b.length)
  } else if (typeof value !== 'number') {
    return false
  }
  switch (op) {
    case '>':
      return v > b
    case '>=':
      return v >= b
    case '<':
      return v < b
    default:
      return v <= b
  }
}

/** Whether `obj` (a client object) passes the filter. */
export function matches(query: Query, obj: Record<string, Json>): boolean {
  switch (query.kind) {
    case 'all':
      return true
    case 'field': {
      const { path, test } = query
      if (path.length === 1) return path[0] in obj && accepts(test, obj[path[0]])
      return resolve(obj, path).some((v) => accepts(test, v))
    }
    case 'bare':
      for (const key of BARE_FIELDS) {
        const value = obj[key]
        if (typeof value === 'string' && query.match(value)) return true
      }
      return false
    case 'not':
      return !matches(query.item, obj)
    case 'and':
      for (const item of query.items) if (!matches(item, obj)) return false
      return true
    case 'or':
      for (const item of query.items) if (matches(item, obj)) return true
      return false
  }
}

/** A predicate over objects for filter `text` (throws `FilterError`). */
export function compileFilter(text: string): (obj: Record<string, Json>) => boolean {
  const query = parseFilter(text)
  return (obj) => matches(query, obj)
}

// --------------------------------------------------------------------------------- printing

function renderBound(b: Bound | null): string {
  if (b === null) return ''
  return typeof b === 'string' ? b : renderNumber(b)
}

function renderPredicate(test: Predicate): string {
  switch (test.kind) {
    case 'exists':
      return '*'
    case 'equals':
      return quotePattern(test.pattern, false)
    case 'compare':
      return test.op + renderBound(test.bound)
    case 'range':
      return `${renderBound(test.lo)}..${renderBound(test.hi)}`
  }
}

/** Filter text that parses back to an equal tree. */
export function formatQuery(query: Query): string {
  switch (query.kind) {
    case 'all':
      return ''
    case 'field':
      return query.path.join('.') + ':' + renderPredicate(query.test)
    case 'bare':
      return quotePattern(query.pattern, true)
    case 'not': {
      const inner = formatQuery(query.item)
      return '-' + (query.item.kind === 'and' || query.item.kind === 'or' ? `(${inner})` : inner)
    }
    case 'and':
      return query.items.map((i) => (i.kind === 'or' ? `(${formatQuery(i)})` : formatQuery(i))).join(' ')
    case 'or':
      return query.items.map(formatQuery).join(' or ')
  }
}

/** The top-level keys of an object that the filter reads. */
export function queryFields(query: Query): Set<string> {
  switch (query.kind) {
    case 'all':
      return new Set()
    case 'field':
      return new Set([query.path[0]])
    case 'bare':
      return new Set(BARE_FIELDS)
    case 'not':
      return queryFields(query.item)
    case 'and':
    case 'or':
      return new Set(query.items.flatMap((i) => [...queryFields(i)]))
  }
}
