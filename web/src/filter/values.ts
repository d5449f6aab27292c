// The values of the filter language (docs/filter.md): numbers with units, booleans, ISO dates
// and wildcard patterns, read from filter text and written back to it. The same rules as the
// server's `xorca.api.core.query_values`.
//
// A *pattern* is kept in one canonical form, whatever quoting the user wrote: `*` and `?` are
// wildcards, `\*`, `\?` and `\\` stand for those characters, every other character for itself.

/** words that are operators unless quoted */
export const KEYWORDS = new Set(['or', 'and', 'not'])

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
}

const NUMBER = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:e([+-]?\d{1,3}))?(kib|mib|gib|tib|kb|mb|gb|tb|[bkmgt%])?$/i
const BOOLS: Record<string, boolean> = {
  true: true,
  yes: true,
  '1': true,
  false: false,
  no: false,
  '0': false,
}
const DATE = /^\d{4}-\d{2}(?:-\d{2}(?:T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?)?Z?$/i
const PLAIN_SAFE = /^[^\s()|"\\]+$/

/** `text` as a number (`4G`, `1.5GiB`, `500MB`, `80%`, `-1`, `2e3`), or null. */
export function parseNumber(text: string): number | null {
  const found = NUMBER.exec(text)
  if (!found) return null
  const [, mantissa, exponent, unit] = found
  const body = mantissa.replace(/^[+-]/, '')
  const [digits, decimals = ''] = body.split('.')
  let scale = Number(exponent ?? 0) - decimals.length
  let numerator = Number(digits + decimals || '0')
  if (unit === '%') scale -= 2
  else numerator *= UNITS[(unit ?? '').toLowerCase()]
  const value = scale >= 0 ? numerator * 10 ** scale : numerator / 10 ** -scale
  if (!Number.isFinite(value)) return null
  return mantissa.startsWith('-') ? -value : value
}

/** Text that `parseNumber` reads back as `value`: whole MiB, GiB, TiB with their unit (`4G`). */
export function renderNumber(value: number): string {
  if (!Number.isInteger(value)) return String(value)
  for (const unit of ['T', 'G', 'M']) {
    const size = UNITS[unit.toLowerCase()]
    if (value !== 0 && value % size === 0 && Math.abs(value / size) < 1_000_000) {
      return `${value / size}${unit}`
    }
  }
  const text = String(value)
  if (!/^-?\d+$/.test(text)) return text // beyond exact integers: JavaScript's own form
  const stripped = text.replace(/0+$/, '')
  const zeros = text.length - stripped.length
  return zeros > 3 ? `${stripped}e${zeros}` : text
}

/** `true`/`false`, `yes`/`no`, `1`/`0` (any case), or null. */
export function parseBool(text: string): boolean | null {
  const found = BOOLS[text.toLowerCase()]
  return found === undefined ? null : found
}

/** An ISO 8601 UTC date or datetime in the form objects write it without their final `Z`. */
export function parseDate(text: string): string | null {
  if (!DATE.test(text)) return null
  let date = text.toUpperCase().replace(/Z$/, '')
  if (date.includes('.')) date = date.replace(/0+$/, '').replace(/\.$/, '')
  return date
}

/** A compiled wildcard pattern: `(text) => boolean`, case-insensitive, whole text. */
export type Matcher = (text: string) => boolean

interface Piece {
  chars: string[] // lower-cased characters; `null` marks are `?`
  any: boolean[] // true where the character is a `?` wildcard
}

function splitPieces(pattern: string): Piece[] {
  const pieces: Piece[] = []
  let current: Piece = { chars: [], any: [] }
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '\\') {
      const next = i + 1 < pattern.length ? pattern[++i] : '\\'
      current.chars.push(next.toLowerCase())
      current.any.push(false)
    } else if (c === '*') {
      pieces.push(current)
      current = { chars: [], any: [] }
    } else {
      current.chars.push(c.toLowerCase())
      current.any.push(c === '?')
    }
  }
  pieces.push(current)
  return pieces
}

function pieceAt(text: string, at: number, piece: Piece): boolean {
  if (at < 0 || at + piece.chars.length > text.length) return false
  for (let j = 0; j < piece.chars.length; j++) {
    if (!piece.any[j] && text[at + j] !== piece.chars[j]) return false
  }
  return true
}

/**
 * A matcher for the texts `pattern` matches (whole text, ignoring case). Each piece between two
 * `*` is found at its leftmost place and kept there, as the server does: linear, no
 * backtracking into earlier pieces.
 */
export function globMatcher(pattern: string): Matcher {
  const pieces = splitPieces(pattern)
  if (pieces.length === 1) {
    const [only] = pieces
    return (text) => {
      const t = text.toLowerCase()
      return t.length === only.chars.length && pieceAt(t, 0, only)
    }
  }
  const first = pieces[0]
  const last = pieces[pieces.length - 1]
  const middle = pieces.slice(1, -1).filter((p) => p.chars.length > 0)
  return (text) => {
    const t = text.toLowerCase()
    if (!pieceAt(t, 0, first)) return false
    let at = first.chars.length
    for (const piece of middle) {
      let found = -1
      for (let k = at; k + piece.chars.length <= t.length; k++) {
        if (pieceAt(t, k, piece)) {
          found = k
          break
        }
      }
      if (found < 0) return false
      at = found + piece.chars.length
    }
    const lastAt = t.length - last.chars.length
    return lastAt >= at && pieceAt(t, lastAt, last)
  }
}

/** The text a pattern without wildcards stands for, or null when it has some. */
export function literalText(pattern: string): string | null {
  let out = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '\\') out += i + 1 < pattern.length ? pattern[++i] : '\\'
    else if (c === '*' || c === '?') return null
    else out += c
  }
  return out
}

/** A piece of plain text as a pattern: its `*`, `?` and `\` escaped. */
export function escapePattern(text: string): string {
  return text.replace(/[\\*?]/g, (c) => '\\' + c)
}

/**
 * A pattern as filter text that reads back as it: unquoted when it can be, else quoted.
 * Unquoted text must not read as an operator: not `*` alone, no `..`, no leading `<` or `>`;
 * for a bare word also no `:`, no leading `-` or `!`, not a keyword.
 */
export function quotePattern(pattern: string, bare: boolean): string {
  let plain =
    pattern.length > 0 &&
    PLAIN_SAFE.test(pattern) &&
    pattern !== '*' &&
    !pattern.includes('..') &&
    !'<>'.includes(pattern[0])
  if (plain && bare) {
    plain = !pattern.includes(':') && !'-!'.includes(pattern[0]) && !KEYWORDS.has(pattern.toLowerCase())
  }
  return plain ? pattern : '"' + pattern.replace(/"/g, '\\"') + '"'
}
