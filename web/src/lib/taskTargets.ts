// Which object a task acts on. XAPI's task does not say; the object does, while the task runs
// (its `current_operations` maps the task to the operation). What was seen is remembered, so
// that a finished task still names its object.

import { shallowReactive } from 'vue'
import type { Changes } from '@/store/core'
import type { ReactiveStore } from '@/store/reactive'
import { operationsOf } from './objects'

export interface TaskTarget {
  type: string
  id: string
  operation: string
}

const TYPES = ['vm', 'host', 'sr', 'pool', 'network', 'vm-snapshot']
const MAX = 5000

export const taskTargets = shallowReactive(new Map<string, TaskTarget>())

function record(store: ReactiveStore, type: string, id: string) {
  for (const [task, operation] of Object.entries(operationsOf(store.core.get(type, id)))) {
    if (task.startsWith('OpaqueRef:') || taskTargets.get(task)?.id === id) continue
    taskTargets.set(task, { type, id, operation })
    const oldest = taskTargets.keys().next()
    if (taskTargets.size > MAX && !oldest.done) taskTargets.delete(oldest.value)
  }
}

/** Follows the store: every object's running operations, as they appear. */
export function followTaskTargets(store: ReactiveStore): () => void {
  const scan = (changes: Changes) => {
    for (const type of TYPES) {
      if (changes.reset) {
        for (const obj of store.core.list(type)) record(store, type, obj.id)
      } else {
        for (const id of changes.ids.get(type) ?? []) record(store, type, id)
      }
    }
  }
  scan({ reset: true, types: new Set(), ids: new Map() })
  return store.onChanges(scan)
}
