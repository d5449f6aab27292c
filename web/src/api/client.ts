// fetch for the API: the token as a Bearer header, JSON in and out, and every error as an
// `ApiProblem` carrying the server's problem+json (RFC 9457): its `detail` is a sentence.

import { apiUrl } from './config'
import { getToken, signalUnauthorized } from './auth'

export interface ProblemBody {
  type?: string
  title?: string
  status?: number
  detail?: string
  code?: string
  params?: string[]
  errors?: { field: string; message: string }[]
}

export class ApiProblem extends Error {
  readonly status: number
  readonly problem: ProblemBody

  constructor(status: number, problem: ProblemBody) {
    super(problem.detail || problem.title || `HTTP ${status}`)
    this.name = 'ApiProblem'
    this.status = status
    this.problem = problem
  }
}

/** A sentence for people from anything thrown by the API calls. */
export function errorText(error: unknown): string {
  if (error instanceof ApiProblem) return error.message
  if (error instanceof TypeError) return 'The server cannot be reached (network error).'
  if (error instanceof Error) return error.message
  return String(error)
}

export interface RequestOptions {
  method?: string
  body?: unknown
  signal?: AbortSignal
  /** do not send the user to the login screen on 401 (the login form checks a token itself) */
  token?: string
}

export interface Answer<T> {
  status: number
  data: T
  headers: Headers
}

export async function request<T = unknown>(path: string, options: RequestOptions = {}): Promise<Answer<T>> {
  const token = options.token ?? getToken()
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (token) headers.Authorization = `Bearer ${token}`
  let body: string | undefined
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(options.body)
  }
  const response = await fetch(apiUrl(path), {
    method: options.method ?? 'GET',
    headers,
    body,
    signal: options.signal,
  })
  const text = await response.text()
  let data: unknown = undefined
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = text
    }
  }
  if (!response.ok) {
    const problem: ProblemBody =
      typeof data === 'object' && data !== null
        ? data
        : { detail: typeof data === 'string' ? data : data === undefined ? '' : JSON.stringify(data) }
    if (response.status === 401 && options.token === undefined) signalUnauthorized()
    throw new ApiProblem(response.status, problem)
  }
  return { status: response.status, data: data as T, headers: response.headers }
}

export async function get<T = unknown>(path: string, signal?: AbortSignal): Promise<T> {
  return (await request<T>(path, { signal })).data
}

export async function post<T = unknown>(path: string, body?: unknown): Promise<Answer<T>> {
  return request<T>(path, { method: 'POST', body: body ?? {} })
}
