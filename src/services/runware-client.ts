/**
 * The upstream client: one POST per dispatch, retried on 429, 5xx, timeouts and network
 * errors with bounded backoff. Every attempt re-sends the same body, so the same taskUUIDs.
 */
import { backoffDelayMs, parseRetryAfterMs, sleep, type BackoffPolicy } from '../lib/retry'
import { parseUpstreamBody, type UpstreamBody, type UpstreamError } from '../schemas/upstream'

export type UpstreamResult =
  | ({ kind: 'ok' } & UpstreamBody)
  /** Runware refused the request itself (4xx): not worth retrying. */
  | ({ kind: 'rejected'; status: number } & UpstreamBody)
  /** Still 429/5xx/unreachable after retries; `retryAfterMs` is what to tell the client. */
  | { kind: 'unavailable'; status: number | null; retryAfterMs: number; taskErrors?: UpstreamError[] }
  /** No answer in time: the work may or may not have been accepted. */
  | { kind: 'timeout' }

export interface RunwareClientOptions {
  url: string
  apiKey: string
  maxRetries?: number
  backoff?: BackoffPolicy
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504])
const DEFAULT_BACKOFF: BackoffPolicy = { baseDelayMs: 500, maxDelayMs: 8000, jitter: 0.3 }

export class RunwareClient {
  private readonly maxRetries: number
  private readonly backoff: BackoffPolicy

  constructor(private readonly options: RunwareClientOptions) {
    this.maxRetries = options.maxRetries ?? 3
    this.backoff = options.backoff ?? DEFAULT_BACKOFF
  }

  /** Sends `tasks` (one JSON array) and retries within `budgetMs`, the caller's whole time limit. */
  async send(tasks: readonly object[], budgetMs: number): Promise<UpstreamResult> {
    const deadline = Date.now() + budgetMs
    const body = JSON.stringify(tasks)
    let last: UpstreamResult = { kind: 'timeout' }
    const verdicts: UpstreamError[] = []
    for (let attempt = 0; attempt <= this.maxRetries; attempt++) {
      const remaining = deadline - Date.now()
      if (remaining <= 0) return last
      const { result, retryAfterMs } = await this.attempt(body, remaining)
      if (result.kind !== 'unavailable') return withVerdicts(result, verdicts)
      verdicts.push(...(result.taskErrors ?? []))
      last = result
      const wait = retryAfterMs ?? backoffDelayMs(this.backoff, attempt)
      // Waiting past the budget helps nobody: hand the delay to the client instead.
      if (attempt === this.maxRetries || Date.now() + wait >= deadline) {
        return { ...result, retryAfterMs: Math.max(wait, 1000) }
      }
      await sleep(wait)
    }
    return last
  }

  private async attempt(body: string, timeoutMs: number): Promise<{ result: UpstreamResult; retryAfterMs: number | null }> {
    let response: Response
    try {
      response = await fetch(this.options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.apiKey}` },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (error) {
      const timedOut = error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError')
      return { result: timedOut ? { kind: 'timeout' } : { kind: 'unavailable', status: null, retryAfterMs: 0 }, retryAfterMs: null }
    }
    const parsed = parseUpstreamBody(await response.json().catch(() => null))
    if (response.ok) return { result: { kind: 'ok', ...parsed }, retryAfterMs: null }
    if (RETRYABLE.has(response.status)) {
      const retryAfterMs = parseRetryAfterMs(response.headers.get('retry-after'))
      const unavailable = {
        kind: 'unavailable',
        status: response.status,
        retryAfterMs: retryAfterMs ?? 0,
        taskErrors: parsed.errors.filter((e) => e.taskUUID),
      } as const
      return { result: unavailable, retryAfterMs }
    }
    return { result: { kind: 'rejected', status: response.status, ...parsed }, retryAfterMs: null }
  }
}

/**
 * A 5xx may carry a task's own failure (a failed generation), and the retry then meets only
 * conflictTaskUUID, because Runware has seen the task. The earlier answer is the verdict:
 * report it instead of the conflict, so the result is recorded as failed rather than lost.
 */
function withVerdicts(result: Exclude<UpstreamResult, { kind: 'unavailable' }>, verdicts: UpstreamError[]): UpstreamResult {
  if (!verdicts.length || result.kind === 'timeout') return result
  const conflicted = new Set(result.errors.filter((e) => e.code === 'conflictTaskUUID').map((e) => e.taskUUID))
  const known = verdicts.filter((v) => conflicted.has(v.taskUUID))
  if (!known.length) return result
  if (result.kind === 'rejected' && conflicted.size < result.errors.length) return result
  return { kind: 'ok', items: result.items, errors: [...known, ...result.errors] }
}
