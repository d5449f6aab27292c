// Where the API is: same origin (`/api/v1`) by default; `VITE_API_BASE` at build time for a UI
// served elsewhere (the gateway then lists this UI's origin in XORCA_CORS_ORIGINS).

const configured = import.meta.env?.VITE_API_BASE ?? ''

/** The API's base URL, without a final `/` (absolute or relative to the page). */
export const API_BASE = (configured.trim() || '/api/v1').replace(/\/+$/, '')

/** The URL of an API path (`/vms?limit=1` → `/api/v1/vms?limit=1`). */
export function apiUrl(path: string, base: string = API_BASE): string {
  return base + (path.startsWith('/') ? path : `/${path}`)
}

/** The WebSocket URL of an API path: `ws(s)://<host>/api/v1/…`. */
export function wsUrl(path: string, base: string = API_BASE, page: string = location.href): string {
  const url = new URL(apiUrl(path, base), page)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  return url.toString()
}
