/**
 * The upstream client: one POST per call, retried on 429, 5xx, timeouts and network errors
 * with bounded backoff. Every attempt re-sends the same body, so the same taskUUIDs.
 * A per-isolate circuit stops it hammering an upstream that is down.
 */
import { childTraceparent } from '../lib/trace'
import { Circuit } from '../lib/circuit'
import { backoffDelayMs, parseRetryAfterMs, sleep, type BackoffPolicy } from '../lib/retry'
import type { Config } from '../config/schema'
import { parseUpstreamBody, type UpstreamBody, type UpstreamError } from '../schemas/upstream'
import { memo } from '../lib/memo'

/** Runware's own hosts, and the configured upstream's: the only places images are copied from. */
export function copyAllowed(config: Config): (url: URL) => boolean {
  const upstream = new URL(config.RUNWARE_API_URL)
  return (url) =>
    url.host === upstream.host || (url.protocol === 'https:' && (url.hostname === 'runware.ai' || url.hostname.endsWith('.runware.ai')))
}

export type UpstreamResult =
  | ({ kind: 'ok' } & UpstreamBody)
  /** Runware refused the request itself (4xx): not worth retrying. */
  | ({ kind: 'rejected'; status: number } & UpstreamBody)
  /** Still 429/5xx/unreachable after retries, or the circuit is open; `retryAfterMs` is for the client. */
  | { kind: 'unavailable'; status: number | null; retryAfterMs: number; taskErrors?: UpstreamError[] }
  /** No answer in time: the work may or may not have been accepted. */
  | { kind: 'timeout' }

export interface SendOptions {
  /** The caller's whole time limit, retries included. */
  budgetMs: number
  /** The most one attempt may take; the budget's remainder by default. */
  attemptTimeoutMs?: number
  /**
   * A slow answer is expected (Runware may hold a sync request until its images are done): an
   * attempt that times out is taken as "dispatched", not retried, and not held against the
   * upstream, so one tenant's slow generations cannot open the circuit for every tenant.
   */
  slowIsNormal?: boolean
  /** The task's trace: each attempt carries it on as a hop of its own (lib/trace). */
  traceparent?: string
}

export interface RunwareClientOptions {
  url: string
  apiKey: string
  maxRetries?: number
  backoff?: BackoffPolicy
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504])
const DEFAULT_BACKOFF: BackoffPolicy = { baseDelayMs: 500, maxDelayMs: 8000, jitter: 0.3 }

// One circuit per upstream URL per isolate: isolates learn independently, which still cuts
// the load on a failing upstream in proportion, without a global coordinator.
const circuits = new Map<string, Circuit>()
const circuitFor = (url: string) => memo(circuits, url, () => new Circuit({ threshold: 8, openMs: 30_000 }))

type Attempt = { result: UpstreamResult; retryAfterMs: number | null }

export class RunwareClient {
  private readonly maxRetries: number
  private readonly backoff: BackoffPolicy
  private readonly circuit: Circuit

  constructor(private readonly options: RunwareClientOptions) {
    this.maxRetries = options.maxRetries ?? 3
    this.backoff = options.backoff ?? DEFAULT_BACKOFF
    this.circuit = circuitFor(options.url)
  }

  /** Sends `tasks` (one JSON array), retrying within the budget. */
  async send(tasks: readonly object[], options: SendOptions): Promise<UpstreamResult> {
    const deadline = Date.now() + options.budgetMs
    const body = JSON.stringify(tasks)
    const verdicts: UpstreamError[] = []
    // An attempt that timed out may have been accepted: then the outcome is "maybe dispatched".
    let timedOut = false
    let wait = 1000
    for (let attempt = 0; attempt <= this.maxRetries; attempt++) {
      const blockedMs = this.circuit.blockedForMs()
      if (blockedMs > 0) return timedOut ? { kind: 'timeout' } : { kind: 'unavailable', status: null, retryAfterMs: blockedMs }
      const remaining = deadline - Date.now()
      if (remaining <= 0) break
      const { result, retryAfterMs } = await this.attempt(
        body,
        Math.min(remaining, options.attemptTimeoutMs ?? remaining),
        options.traceparent,
      )
      if (result.kind === 'ok' || result.kind === 'rejected') {
        this.circuit.success()
        return withVerdicts(result, verdicts)
      }
      if (result.kind === 'timeout' && options.slowIsNormal) return result
      this.circuit.failure(retryAfterMs ?? 0)
      if (result.kind === 'timeout') timedOut = true
      else verdicts.push(...(result.taskErrors ?? []))
      wait = retryAfterMs ?? backoffDelayMs(this.backoff, attempt)
      // Waiting past the budget helps nobody: hand the delay to the client instead.
      if (attempt === this.maxRetries || Date.now() + wait >= deadline) break
      await sleep(wait)
    }
    return timedOut ? { kind: 'timeout' } : { kind: 'unavailable', status: null, retryAfterMs: Math.max(wait, 1000) }
  }

  private async attempt(body: string, timeoutMs: number, traceparent?: string): Promise<Attempt> {
    let response: Response
    try {
      response = await fetch(this.options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${this.options.apiKey}`,
          ...(traceparent ? { traceparent: childTraceparent(traceparent) } : {}),
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (error) {
      const timedOut = error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError')
      return { result: timedOut ? { kind: 'timeout' } : { kind: 'unavailable', status: null, retryAfterMs: 0 }, retryAfterMs: null }
    }
    const parsed = parseUpstreamBody(await response.json().catch(() => null))
    if (response.ok) return { result: { kind: 'ok', ...parsed }, retryAfterMs: null }
    // getResponse may carry a failed task's own error with that error's status (a 500 for
    // internalServerError): an answer about the tasks, not an outage, so neither retried nor
    // counted against the circuit.
    if (parsed.errors.length && parsed.errors.every((e) => e.taskUUID && e.status === 'error')) {
      return { result: { kind: 'rejected', status: response.status, ...parsed }, retryAfterMs: null }
    }
    if (RETRYABLE.has(response.status)) {
      const retryAfterMs = parseRetryAfterMs(response.headers.get('retry-after'))
      const taskErrors = parsed.errors.filter((e) => e.taskUUID)
      return { result: { kind: 'unavailable', status: response.status, retryAfterMs: retryAfterMs ?? 0, taskErrors }, retryAfterMs }
    }
    return { result: { kind: 'rejected', status: response.status, ...parsed }, retryAfterMs: null }
  }
}

/**
 * A 5xx may carry a task's own failure (a failed generation), and the retry then meets only
 * conflictTaskUUID, because Runware has seen the task. The earlier answer is the verdict:
 * report it instead of the conflict, so the result is recorded as failed rather than lost.
 */
function withVerdicts(result: Extract<UpstreamResult, { kind: 'ok' | 'rejected' }>, verdicts: UpstreamError[]): UpstreamResult {
  if (!verdicts.length) return result
  const conflicted = new Set(result.errors.filter((e) => e.code === 'conflictTaskUUID').map((e) => e.taskUUID))
  const known = verdicts.filter((v) => conflicted.has(v.taskUUID))
  if (!known.length) return result
  if (result.kind === 'rejected' && conflicted.size < result.errors.length) return result
  return { kind: 'ok', items: result.items, errors: [...known, ...result.errors] }
}
