// Actions: the catalogue of each collection (`GET /api/v1/{collection}/actions`: name, summary,
// destructive, task, the XAPI call, the arguments' JSON schema), which of them an object allows
// now (XAPI's `allowed_operations`), running them on one object or in bulk, and following what
// they started: each task's progress comes live from the store (type `task`), and a failed
// task's words from `GET /api/v1/tasks/{id}` (`problem.detail`).

import { reactive, shallowRef, type ShallowRef } from 'vue'
import { errorText, get, post } from '@/api/client'
import { announce } from './announce'
import type { ObjectOf, XObject } from '@/store/core'

/** What actions act on: the objects of the collections that have a catalogue (all named). */
export type Actionable = ObjectOf<
  'vm' | 'vm-snapshot' | 'vm-template' | 'host' | 'sr' | 'network' | 'pool' | 'vdi' | 'task'
>

export interface JsonSchema {
  type?: string | string[]
  title?: string
  description?: string
  default?: unknown
  pattern?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  exclusiveMinimum?: number
  properties?: Record<string, JsonSchema>
  required?: string[]
  anyOf?: JsonSchema[]
  examples?: unknown[]
}

export interface ActionSpec {
  name: string
  summary: string
  destructive: boolean
  task: boolean
  /** the XAPI call it makes (`VM.pool_migrate`) */
  xapi: string
  arguments: JsonSchema
}

// ---------------------------------------------------------------------------------- catalogue

const catalogues = new Map<string, ShallowRef<ActionSpec[] | null>>()

/** The actions of a collection (null until loaded; loaded once per page load). */
export function useCatalogue(collection: string): ShallowRef<ActionSpec[] | null> {
  let ref = catalogues.get(collection)
  if (!ref) {
    const created = shallowRef<ActionSpec[] | null>(null)
    ref = created
    catalogues.set(collection, created)
    get<ActionSpec[]>(`/${collection}/actions`)
      .then((list) => {
        created.value = list
      })
      .catch(() => {
        catalogues.delete(collection) // tried again by the next page that asks
        created.value = []
      })
  }
  return ref
}

/** The arguments an action takes, in schema order, with what the form needs of each. */
export interface Argument {
  name: string
  title: string
  description: string
  kind: 'boolean' | 'string' | 'integer' | 'host' | 'sr'
  required: boolean
  default: unknown
  maxLength?: number
}

const UUID_PATTERN = /\[0-9a-fA-F\]\{8\}/
const TITLES: Record<string, string> = {
  name_label: 'New name',
  name_description: 'Description',
  sr: 'Storage',
  live: 'Live migration',
  size: 'Size (bytes)',
}

export function argumentsOf(spec: ActionSpec): Argument[] {
  const props = spec.arguments.properties ?? {}
  const required = new Set(spec.arguments.required ?? [])
  return Object.entries(props).map(([name, schema]) => {
    const variants = schema.anyOf ?? [schema]
    const main = variants.find((v) => v.type && v.type !== 'null') ?? schema
    const type = Array.isArray(main.type) ? main.type.find((t) => t !== 'null') : main.type
    let kind: Argument['kind'] = type === 'boolean' ? 'boolean' : type === 'integer' ? 'integer' : 'string'
    if (kind === 'string' && main.pattern && UUID_PATTERN.test(main.pattern)) {
      kind = name === 'sr' ? 'sr' : 'host'
    }
    return {
      name,
      title: TITLES[name] ?? schema.title ?? name,
      description: schema.description ?? main.description ?? '',
      kind,
      required: required.has(name),
      default: schema.default,
      maxLength: main.maxLength,
    }
  })
}

/** Whether running the action needs a form first (an argument without a default). */
export function needsForm(spec: ActionSpec): boolean {
  return argumentsOf(spec).some((a) => a.required)
}

// ----------------------------------------------------------------------- which are allowed now

/**
 * The XAPI operation an action needs in the object's `allowed_operations`: the name of the call
 * the catalogue says it makes (`VM.pool_migrate` → `pool_migrate`). Null for the calls that XAPI
 * never lists there, which are always offered: the setters of fields (`set_name_label`,
 * `add_tags`, `remove_tags`; of XAPI's setters only `VDI.set_on_boot` is an operation too) and a
 * host's `enable` and `disable`, which follow the host's `enabled` instead.
 */
export function operationOf(spec: ActionSpec): string | null {
  const call = spec.xapi.slice(spec.xapi.indexOf('.') + 1)
  if (/^(set|add|remove)_/.test(call) && spec.xapi !== 'VDI.set_on_boot') return null
  if (spec.xapi === 'host.enable' || spec.xapi === 'host.disable') return null
  return call
}

/** Whether the action can run on `obj` now, as XAPI's `allowed_operations` says. */
export function allowed(spec: ActionSpec, obj: XObject | undefined): boolean {
  if (!obj) return false
  if (obj.type === 'host') {
    if (spec.xapi === 'host.enable') return obj.enabled === false
    if (spec.xapi === 'host.disable') return obj.enabled !== false
  }
  const op = operationOf(spec)
  if (op === null) return true
  const ops = 'allowed_operations' in obj ? obj.allowed_operations : undefined
  return ops ? ops.includes(op) : true
}

// ---------------------------------------------------------------------------------- running

export interface Launch {
  key: number
  collection: string
  action: string
  label: string
  objectIds: string[]
  /** the tasks started (one per object) */
  taskIds: string[]
  /** done at once (a setter), or refused before any task */
  state: 'sending' | 'started' | 'done' | 'failed'
  /** refusals, in words (problem+json `detail`), one per object that was refused */
  errors: string[]
  at: number
}

/** What this browser started, most recent first (the VM page and the bulk bar show theirs). */
export const launches = reactive<Launch[]>([])
let nextKey = 1

interface TaskAccepted {
  task?: { id?: string; ref?: string; status?: string }
  result?: unknown
}
interface BulkAnswer {
  results: { id: string; status: number; task?: { id?: string }; problem?: { detail?: string; title?: string } }[]
}

/** Runs an action on some objects of a collection (one: the object's URL; more: the bulk URL). */
export async function runAction(
  collection: string,
  objects: Actionable[],
  spec: ActionSpec,
  args: Record<string, unknown>,
): Promise<Launch> {
  const label =
    objects.length === 1
      ? `${spec.name} ${objects[0].name_label ?? objects[0].id}`
      : `${spec.name} on ${objects.length} objects`
  launches.unshift({
    key: nextKey++,
    collection,
    action: spec.name,
    label,
    objectIds: objects.map((o) => o.id),
    taskIds: [],
    state: 'sending',
    errors: [],
    at: Date.now(),
  })
  if (launches.length > 50) launches.splice(50)
  const launch = launches[0] // the reactive proxy
  try {
    if (objects.length === 1) {
      const answer = await post<TaskAccepted>(`/${collection}/${objects[0].id}/actions/${spec.name}`, args)
      const id = answer.data?.task?.id
      if (id) launch.taskIds.push(id)
      launch.state = answer.status === 202 ? 'started' : 'done'
    } else {
      const answer = await post<BulkAnswer>(`/${collection}/actions/${spec.name}`, {
        ids: objects.map((o) => o.id),
        args,
      })
      for (const r of answer.data.results) {
        if (r.task?.id) launch.taskIds.push(r.task.id)
        if (r.problem) {
          const name = objects.find((o) => o.id === r.id)?.name_label ?? r.id
          launch.errors.push(`${name}: ${r.problem.detail || r.problem.title || 'refused'}`)
        }
      }
      launch.state = launch.taskIds.length ? 'started' : launch.errors.length ? 'failed' : 'done'
    }
    announce(launch.errors.length ? `${label}: ${launch.errors.join('; ')}` : `${label}: sent`)
  } catch (error) {
    launch.state = 'failed'
    launch.errors.push(errorText(error))
    announce(`${label} failed: ${errorText(error)}`)
  }
  return launch
}

// --------------------------------------------------------------------------- failed task words

const problems = reactive(new Map<string, string>())
const asked = new Set<string>()

/** XAPI's code and the parameters a person can read (no `OpaqueRef:…`), for when words are missing. */
export function rawError(info: readonly string[] | undefined): string {
  if (!info?.length) return 'The task failed.'
  const [code, ...params] = info
  const readable = params.filter((p) => !p.startsWith('OpaqueRef:'))
  return `The task failed: ${code.replace(/_/g, ' ').toLowerCase()}${readable.length ? ` (${readable.join(', ')})` : ''}.`
}

/**
 * Why a task failed, in words: `problem.detail` of `GET /api/v1/tasks/{id}` (asked once per
 * task). Null while the words are on their way (and for a task that did not fail), so that a
 * page never shows XAPI's raw error first.
 */
export function taskError(task: ObjectOf<'task'> | undefined): string | null {
  if (!task || task.status !== 'failure') return null
  const known = problems.get(task.id)
  if (known) return known
  if (!asked.has(task.id)) {
    asked.add(task.id)
    get<{ problem?: { detail?: string; title?: string } }>(`/tasks/${task.id}`)
      .then((t) => problems.set(task.id, t.problem?.detail || t.problem?.title || rawError(task.error_info)))
      .catch(() => problems.set(task.id, rawError(task.error_info)))
  }
  return null
}

/** A readable name for a task's call: `Async.VM.clean_shutdown` → `VM clean shutdown`. */
export function taskName(task: ObjectOf<'task'> | undefined): string {
  const name = task?.name_label ?? ''
  return (
    name
      .replace(/^Async\./, '')
      .replace(/\./g, ' ')
      .replace(/_/g, ' ') || 'task'
  )
}
