/** Backoff arithmetic shared by every retry loop: exponential, capped, jittered, Retry-After aware. */

export interface BackoffPolicy {
  baseDelayMs: number
  maxDelayMs: number
  /** Up to this fraction of the delay is added at random, so clients don't retry in lockstep. */
  jitter: number
}

/** The wait before retry number `attempt` (0-based). */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt)
  return Math.round(exp * (1 + policy.jitter * random()))
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfterMs(value: string | null, now = Date.now()): number | null {
  if (!value) return null
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? null : Math.max(0, date - now)
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
