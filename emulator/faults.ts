/** Fault injection rules, so tests can make the emulator misbehave the way Runware can. */
import { randomUUID } from 'node:crypto'
import { readingsError, type Readings } from './readings.ts'
import type { ApiError } from './types.ts'

/** Makes a whole `POST /v1` request answer with an error status. */
export interface HttpStatusFault {
  /** 400 | 401 | 402 | 403 | 429 | 500 | 503 | 504 (any 4xx/5xx works). */
  code: number
  /** How many requests it hits before it stops; default unlimited. */
  times?: number
  /** Probability 0..1 that a matching request is hit; default 1. */
  rate?: number
  /** Sets a Retry-After header. */
  retryAfterSeconds?: number
  /** Overrides the Runware error code chosen from the status. */
  errorCode?: string
}

/** One fault rule; a task uses the most recently added rule that matches it. It may also pick readings for its tasks. */
export interface FaultRule extends Partial<Readings> {
  /** Applies only to imageInference tasks whose positivePrompt contains this; absent = every task. */
  match?: string
  /** Simulated generation time per result. */
  latencyMs?: number
  /** Holds the whole POST /v1 answer back this long before handling it (a hanging upstream). */
  responseDelayMs?: number
  /** How many requests `responseDelayMs` hits; default unlimited. */
  responseDelayTimes?: number
  /** One fault, or several rolled in order (e.g. 10 % 503 and 5 % 429). */
  httpStatus?: HttpStatusFault | HttpStatusFault[]
  /** Sends each webhook this many times, concurrently; default 1. */
  webhookCopies?: number
  /** Probability that a webhook is sent one extra time, concurrently. */
  duplicateWebhookRate?: number
  /** Probability that a webhook is held back by `lateWebhookMs` (default 2000), so it arrives out of order. */
  lateWebhookRate?: number
  lateWebhookMs?: number
  /** Probability that a webhook is never sent. */
  dropWebhookRate?: number
  /** Delay before a webhook's first attempt. */
  webhookDelayMs?: number
  /** Probability that an upload fails (the PUT is not made). */
  failUploadRate?: number
  /** Probability that a result fails to generate. */
  failGenerationRate?: number
  /** Results with these seeds fail to generate: the gateway sends one child per result, each with seed S+i. */
  failSeeds?: number[]
  /** Leaves imageURL out of URL results (Runware's behaviour with uploadEndpoint is undocumented). */
  omitImageURL?: boolean
}

/** What a rule is matched against: the task's type and, for imageInference, its prompt. */
export interface FaultTarget {
  taskType: string
  taskUUID?: string
  positivePrompt?: string
}

/** A decided HTTP fault: status, headers and the Runware-style error body. */
export interface HttpFaultHit {
  status: number
  headers: Record<string, string>
  error: ApiError
}

const DEFAULT_CODES: Record<number, string> = {
  400: 'invalidParameter',
  401: 'invalidApiKey',
  402: 'insufficientCredits',
  403: 'insufficientPermissions',
  429: 'rateLimitExceeded',
  500: 'internalServerError',
  503: 'serviceUnavailable',
  504: 'timeoutProvider',
}

/** True with probability `rate`; an absent rate never applies. */
export const roll = (rate: number | undefined): boolean => rate !== undefined && rate > 0 && Math.random() < rate

interface ActiveRule {
  id: string
  rule: FaultRule
  /** Each httpStatus fault with its hits left (Infinity when `times` is absent). */
  http: { fault: HttpStatusFault; left: number }[]
  delaysLeft: number
}

const asList = (http: FaultRule['httpStatus']): HttpStatusFault[] => (http === undefined ? [] : Array.isArray(http) ? http : [http])

/** The active fault rules, newest last. */
export class FaultSet {
  private rules: ActiveRule[] = []

  /** Adds a rule and returns its id. */
  add(rule: FaultRule): string {
    const id = randomUUID()
    this.rules.push({
      id,
      rule,
      http: asList(rule.httpStatus).map((fault) => ({ fault, left: fault.times ?? Number.POSITIVE_INFINITY })),
      delaysLeft: rule.responseDelayTimes ?? Number.POSITIVE_INFINITY,
    })
    return id
  }

  clear(): void {
    this.rules = []
  }

  /** The most recently added rule that matches the target, if any. */
  forTask(target: FaultTarget): FaultRule | undefined {
    return this.activeFor(target)?.rule
  }

  /** How long to hold this request before handling it, consuming one hit. */
  responseDelay(targets: readonly FaultTarget[]): number {
    for (const target of targets) {
      const active = this.activeFor(target)
      if (!active?.rule.responseDelayMs || active.delaysLeft <= 0) continue
      active.delaysLeft -= 1
      return active.rule.responseDelayMs
    }
    return 0
  }

  /** Decides whether this request is answered by an httpStatus fault, consuming one hit. */
  httpFault(targets: readonly FaultTarget[]): HttpFaultHit | undefined {
    for (const target of targets) {
      const hit = this.activeFor(target)?.http.find((h) => h.left > 0 && roll(h.fault.rate ?? 1))
      if (!hit) continue
      hit.left -= 1
      const fault = hit.fault
      return {
        status: fault.code,
        headers: fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {},
        error: {
          code: fault.errorCode ?? DEFAULT_CODES[fault.code] ?? 'internalServerError',
          message: `Injected fault: HTTP ${fault.code}.`,
          // Runware names the offending field on a 400 (the prompt is a plausible one), and a page about it.
          ...(fault.code === 400
            ? { parameter: 'positivePrompt', documentation: 'https://runware.ai/docs/image-inference/api-reference' }
            : {}),
          taskType: target.taskType,
          ...(target.taskUUID !== undefined ? { taskUUID: target.taskUUID } : {}),
        },
      }
    }
    return undefined
  }

  private activeFor(target: FaultTarget): ActiveRule | undefined {
    for (let i = this.rules.length - 1; i >= 0; i -= 1) {
      const active = this.rules[i]
      if (active && matches(active.rule, target)) return active
    }
    return undefined
  }
}

function matches(rule: FaultRule, target: FaultTarget): boolean {
  if (rule.match === undefined) return true
  return target.taskType === 'imageInference' && (target.positivePrompt ?? '').includes(rule.match)
}

/** Parses an untrusted FaultRule from the HTTP control endpoint; returns an error message when bad. */
export function parseFaultRule(value: unknown): FaultRule | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'a FaultRule must be a JSON object'
  const rule = value as Record<string, unknown>
  const numbers = [
    'latencyMs',
    'responseDelayMs',
    'responseDelayTimes',
    'webhookCopies',
    'duplicateWebhookRate',
    'lateWebhookRate',
    'lateWebhookMs',
    'dropWebhookRate',
    'webhookDelayMs',
    'failUploadRate',
    'failGenerationRate',
  ]
  for (const key of numbers) {
    if (rule[key] !== undefined && (typeof rule[key] !== 'number' || (rule[key] as number) < 0))
      return `${key} must be a non-negative number`
  }
  if (rule.match !== undefined && typeof rule.match !== 'string') return 'match must be a string'
  if (rule.failSeeds !== undefined && (!Array.isArray(rule.failSeeds) || !rule.failSeeds.every(Number.isInteger)))
    return 'failSeeds must be an array of integers'
  const bad = readingsError(rule)
  if (bad) return bad
  if (rule.omitImageURL !== undefined && typeof rule.omitImageURL !== 'boolean') return 'omitImageURL must be a boolean'
  for (const http of rule.httpStatus === undefined ? [] : Array.isArray(rule.httpStatus) ? rule.httpStatus : [rule.httpStatus]) {
    if (typeof http !== 'object' || http === null) return 'httpStatus must be an object or an array of them'
    const { code } = http as Record<string, unknown>
    if (typeof code !== 'number' || !Number.isInteger(code) || code < 400 || code > 599)
      return 'httpStatus.code must be a 4xx or 5xx status'
  }
  return rule as FaultRule
}
