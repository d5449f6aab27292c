// RFC 7386 JSON merge patch, without touching the target: what changed is new, what did not is
// shared with the target (so that unchanged parts keep their identity).

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** The result of applying merge patch `patch` to `target` (neither is modified). */
export function mergePatch<T = unknown>(target: unknown, patch: unknown): T {
  if (!isObject(patch)) return patch as T
  const base: Record<string, unknown> = isObject(target) ? target : {}
  const out: Record<string, unknown> = { ...base }
  for (const key of Object.keys(patch)) {
    const value = patch[key]
    if (value === null) delete out[key]
    else out[key] = mergePatch(base[key], value)
  }
  return out as T
}
