// noVNC ships no types: the part of its API the console uses (docs/API.md of @novnc/novnc).
declare module '@novnc/novnc' {
  export interface RFBOptions {
    shared?: boolean
    credentials?: { username?: string; password?: string; target?: string }
    repeaterID?: string
    wsProtocols?: string[]
  }
  /** The events the console listens to, with their `detail` (docs/API.md, "Events"). */
  export interface RFBEventMap {
    connect: CustomEvent<Record<string, never>>
    disconnect: CustomEvent<{ clean: boolean }>
    securityfailure: CustomEvent<{ status: number; reason?: string }>
  }
  export default class RFB extends EventTarget {
    constructor(target: HTMLElement, urlOrChannel: string | WebSocket, options?: RFBOptions)
    addEventListener<K extends keyof RFBEventMap>(type: K, listener: (event: RFBEventMap[K]) => void): void
    addEventListener(type: string, listener: EventListenerOrEventListenerObject | null): void
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
