// The API token: kept in localStorage (`xorca.token`); a 401 anywhere forgets it and sends the
// user to the login screen (the router registers that handler).

const TOKEN_KEY = 'xorca.token'

let unauthorized: () => void = () => {}

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage
  } catch {
    return null
  }
}

export function getToken(): string | null {
  return storage()?.getItem(TOKEN_KEY) || null
}

export function setToken(token: string): void {
  storage()?.setItem(TOKEN_KEY, token)
}

export function clearToken(): void {
  storage()?.removeItem(TOKEN_KEY)
}

export function onUnauthorized(handler: () => void): void {
  unauthorized = handler
}

/** The token was refused: forget it and go to the login screen. */
export function signalUnauthorized(): void {
  clearToken()
  unauthorized()
}
