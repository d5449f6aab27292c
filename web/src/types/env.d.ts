/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** where the API lives, when the UI is served elsewhere (default: same origin, `/api/v1`) */
  readonly VITE_API_BASE?: string
}

interface ImportMeta {
  readonly env: ImportMetaEnv
}

declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}
