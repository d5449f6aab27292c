// noVNC ships no types: the part of its API the console uses (docs/API.md of @novnc/novnc).
declare module '@novnc/novnc' {
  export interface RFBOptions {
    shared?: boolean
    credentials?: { username?: string; password?: string; target?: string }
    repeaterID?: string
    wsProtocols?: string[]
  }
  export default class RFB extends EventTarget {
    constructor(target: HTMLElement, urlOrChannel: string | WebSocket, options?: RFBOptions)
    scaleViewport: boolean
    resizeSession: boolean
    clipViewport: boolean
    viewOnly: boolean
    focusOnClick: boolean
    background: string
    disconnect(): void
    sendCtrlAltDel(): void
    focus(options?: FocusOptions): void
    blur(): void
  }
}

declare module 'novnc-logging' {
  export function initLogging(level?: 'debug' | 'info' | 'warn' | 'error' | 'none'): void
}
