// The Vue side of `LiveList`: a shallowRef of ids, rebuilt when the options change (at once)
// and when events change the list (at most every `throttleMs`).

import { onBeforeUnmount, shallowRef, watch, type Ref } from 'vue'
import { store } from '@/store'
import { LiveList, type LiveListOptions } from './liveList'

export function useLiveList(options: Ref<LiveListOptions>, throttleMs = 250) {
  const ids = shallowRef<string[]>([])
  const list = new LiveList(store.core, options.value)
  let timer: ReturnType<typeof setTimeout> | null = null
  let last = 0

  function rebuild() {
    if (timer) clearTimeout(timer)
    timer = null
    last = performance.now()
    ids.value = list.rebuild()
  }

  function later() {
    if (timer) return
    const wait = Math.max(0, throttleMs - (performance.now() - last))
    timer = setTimeout(rebuild, wait)
  }

  watch(
    options,
    (o) => {
      list.options = o
      rebuild()
    },
    { immediate: true },
  )

  const off = store.onChanges((changes) => {
    if (list.affectedBy(changes)) later()
  })

  onBeforeUnmount(() => {
    off()
    if (timer) clearTimeout(timer)
  })

  return { ids, rebuild }
}
