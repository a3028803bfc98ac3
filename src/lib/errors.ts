/** Runware-style error objects and the one error class the gateway throws. */

export interface RunwareError {
  code: string
  message: string
  parameter?: string | string[]
  taskType?: string
  taskUUID?: string
  allowedValues?: readonly unknown[]
  /** Only on getResponse errors, as Runware marks them. */
  status?: 'error'
  /** insufficientCredits: which budget refused (the key's own, or its tenant's), and when its period resets. */
  budget?: 'key' | 'tenant'
  resetsAt?: string
  /** A page about this error: Runware's own, or the gateway's /docs/errors. */
  documentation?: string
}

export type ErrorStatus = 400 | 401 | 402 | 403 | 404 | 409 | 413 | 415 | 416 | 422 | 426 | 429 | 500 | 501 | 502 | 503 | 504

/** An error with an HTTP status, rendered as `{"errors":[…]}` by the app's onError. */
export class ApiError extends Error {
  constructor(
    readonly status: ErrorStatus,
    readonly detail: RunwareError,
    readonly headers: Record<string, string> = {},
    /** Further errors reported with this one: every invalid parameter of a request, not just the first. */
    readonly more: readonly ApiError[] = [],
  ) {
    super(detail.message)
    this.name = 'ApiError'
  }

  /** The same error, tagged with the task it belongs to, its taskUUID spelled as the task spelled it. */
  forTask(taskType: string | undefined, taskUUID: string | undefined): ApiError {
    const detail = { ...this.detail }
    if (taskType !== undefined) detail.taskType ??= taskType
    if (taskUUID !== undefined) detail.taskUUID = echoed(detail.taskUUID, taskUUID)
    return new ApiError(this.status, detail, this.headers)
  }
}

/**
 * The taskUUID to answer with: the client's own spelling of it when `id` is the same id in
 * another case (lookups ignore case; Runware's SDKs match answers by exact string).
 */
export const echoed = (id: unknown, sent: string): string =>
  id === undefined || (typeof id === 'string' && id.toLowerCase() === sent.toLowerCase()) ? sent : String(id)

/**
 * The error as a client sees it: pointing at the gateway's page for its code (public/docs/errors.html,
 * built from tools/errors/catalog.ts), unless it already points at a page (Runware's, passed through).
 */
export const documented = (detail: RunwareError, origin: string): RunwareError =>
  detail.documentation ? detail : { ...detail, documentation: `${origin}/docs/errors#${detail.code}` }

/** The error for a failure the client cannot fix: no detail of it leaves the gateway. */
export const internalError = () =>
  new ApiError(500, { code: 'internalServerError', message: 'Internal error; retry later' }, { 'retry-after': '5' })

// Worst first: the response status of a request with several errors follows the worst one.
const SEVERITY: readonly number[] = [500, 502, 503, 504, 429, 402, 409, 404, 403, 401, 413, 415, 416, 426, 400]

/** The HTTP status for a response that carries only these errors. */
export function worstStatus(errors: readonly ApiError[]): ErrorStatus {
  let worst: ErrorStatus = 400
  for (const e of errors) if (SEVERITY.indexOf(e.status) < SEVERITY.indexOf(worst)) worst = e.status
  return worst
}
