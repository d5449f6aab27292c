// One polite live region for the whole application: screen readers hear task progress, results
// and errors without the focus moving.

import { ref } from 'vue'

export const announcement = ref('')
let timer: ReturnType<typeof setTimeout> | null = null

export function announce(text: string): void {
  // cleared first, so that the same sentence twice is read twice
  announcement.value = ''
  if (timer) clearTimeout(timer)
  timer = setTimeout(() => {
    announcement.value = text
  }, 50)
}
