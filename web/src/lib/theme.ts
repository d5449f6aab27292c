// Light and dark themes: CSS custom properties under `html[data-theme]`. The default follows
// `prefers-color-scheme`; the toggle's choice is kept in localStorage (`xorca.theme`).

import { ref, watch } from 'vue'

export type Theme = 'light' | 'dark'
const KEY = 'xorca.theme'

function saved(): Theme | null {
  try {
    const v = localStorage.getItem(KEY)
    return v === 'light' || v === 'dark' ? v : null
  } catch {
    return null
  }
}

function preferred(): Theme {
  return typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'
}

export const theme = ref<Theme>(saved() ?? preferred())

function applyTheme(t: Theme) {
  document.documentElement.dataset.theme = t
  document.documentElement.style.colorScheme = t
  const meta = document.querySelector('meta[name="theme-color"]')
  meta?.setAttribute('content', t === 'dark' ? '#12161c' : '#f6f7f9')
}

export function initTheme(): void {
  applyTheme(theme.value)
  watch(theme, applyTheme)
  if (typeof matchMedia === 'function') {
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', (e) => {
      if (!saved()) theme.value = e.matches ? 'dark' : 'light'
    })
  }
}

export function toggleTheme(): void {
  theme.value = theme.value === 'dark' ? 'light' : 'dark'
  try {
    localStorage.setItem(KEY, theme.value)
  } catch {
    // private mode: the choice lasts for this page only
  }
}
