/**
 * Delivers one client event: a signed webhook POST (Standard Webhooks) or an upload copy PUT,
 * with a 15 s timeout, and decides what happens next. 2xx: done. 410: stop. 429/5xx/timeouts:
 * retry with exponential backoff and jitter for at least 24 hours, honouring Retry-After.
 * Other 4xx: a few retries, then stop. Given up: dead-lettered, and visible in the log.
 */
import type { ImageStore } from '../images/image-store'
import type { Presenter } from '../images/presenter'
import { backoffDelayMs, parseRetryAfterMs } from '../lib/retry'
import { ALERT_LOG, eventId } from '../lib/storage-keys'
import { childTraceparent } from '../lib/trace'
import type { AlertMessage, DeliveryAttempt, DeliveryMessage, DeliveryRecord } from '../schemas/deliveries'
import type { ResultRecord, TaskRecord } from '../schemas/records'
import type { TaskState } from '../tenant/contract'
import { ALERT_EVENT, eventName, newAlertRecord, newDeliveryRecord, type DeliveryLog } from './delivery-log'
import { signatureHeader } from './standard-webhooks'
import type { WebhookSecrets } from './webhook-secrets'

export type Decision = { action: 'ack' } | { action: 'retry'; delaySeconds: number } | { action: 'dead' }

export const DELIVERY_TIMEOUT_MS = 15_000
/** Retries of 429/5xx/timeouts go on at least this long. */
export const RETRY_WINDOW_SECONDS = 86_400
/** Other 4xx answers get this many attempts in all. */
export const CLIENT_ERROR_ATTEMPTS = 3
/** How long a KV write may take to show at every location. */
const KV_PROPAGATION_SECONDS = 60

/** Queues accept delays of at most 12 hours. */
const QUEUE_MAX_DELAY_SECONDS = 12 * 3600

export interface DelivererDeps {
  /** Reads a task with its results and delivery URLs (`later`: not readable here yet). */
  tasks: { loadWhole(tenant: string, taskUUID: string): Promise<TaskState | null | 'later'> }
  log: DeliveryLog
  presenter: Presenter
  images: ImageStore
  secrets: WebhookSecrets
  retryBaseSeconds: number
  /** The longest wait between two attempts. */
  retryMaxSeconds: number
  random?: () => number
}

type Sent = { status: number | null; retryAfterMs: number | null; error?: string; durationMs: number }

export class Deliverer {
  constructor(private readonly deps: DelivererDeps) {}

  async deliver(message: DeliveryMessage, now = Date.now()): Promise<Decision> {
    if (message.kind === 'alert') return this.deliverAlert(message, now)
    const state = await this.deps.tasks.loadWhole(message.tenant, message.taskUUID)
    // The record is on its way to this location's KV: no send, no attempt counted, just later.
    if (state === 'later') return { action: 'retry', delaySeconds: KV_PROPAGATION_SECONDS }
    const task = state?.task
    const result = task && !task.deleted ? state.results.find((r) => r.index === message.index) : undefined
    if (!task || !result) return { action: 'ack' } // deleted since: nothing left to send
    const id = eventId(message.kind, task.taskUUID, result.index)
    const url = message.kind === 'webhook' ? task.webhookURL : task.uploadEndpoint
    if (!url) return { action: 'ack' }
    const record =
      (await this.deps.log.get(task.tenant, task.taskUUID, id)) ??
      newDeliveryRecord(message.kind, task.taskUUID, result, url, new Date(now).toISOString())
    if (record.status === 'delivered' && !message.replay) return { action: 'ack' } // a duplicate message
    if (message.replay && record.status !== 'retrying' && record.status !== 'queued') record.windowStart = new Date(now).toISOString()

    const sent =
      message.kind === 'webhook'
        ? await this.post(task.tenant, id, await this.body(task, result), url, eventName('webhook', result), task.traceparent, now)
        : await this.putCopy(result, url)
    return this.conclude(task.tenant, record, sent, now)
  }

  /** A budget's threshold event: its message holds all of it, and the log keeps the message for replays. */
  private async deliverAlert(message: AlertMessage, now: number): Promise<Decision> {
    const at = new Date(now).toISOString()
    const record = (await this.deps.log.get(message.tenant, ALERT_LOG, message.id)) ?? newAlertRecord(message, at)
    if (record.status === 'delivered' && !message.replay) return { action: 'ack' }
    if (message.replay && record.status !== 'retrying' && record.status !== 'queued') record.windowStart = at
    const sent = await this.post(message.tenant, message.id, JSON.stringify(message.event), message.url, ALERT_EVENT, undefined, now)
    return this.conclude(message.tenant, record, sent, now)
  }

  /** Logs an attempt and decides what follows it. */
  private async conclude(tenant: string, record: DeliveryRecord, sent: Sent, now: number): Promise<Decision> {
    const attempt: DeliveryAttempt = {
      at: new Date(now).toISOString(),
      status: sent.status,
      durationMs: sent.durationMs,
      ...(sent.error ? { error: sent.error } : {}),
    }
    const attempts = [...record.attempts, attempt]
    const decision = this.decide(sent, attempts, Date.parse(record.windowStart), now)
    const status =
      decision.action === 'retry' ? 'retrying' : decision.action === 'dead' ? 'dead' : sent.status === 410 ? 'cancelled' : 'delivered'
    await this.deps.log.put(tenant, { ...record, status, attempts })
    return decision
  }

  /** Records that an event reached the dead-letter queue (however it got there). */
  async markDead(message: DeliveryMessage): Promise<void> {
    const [folder, id] =
      message.kind === 'alert' ? [ALERT_LOG, message.id] : [message.taskUUID, eventId(message.kind, message.taskUUID, message.index)]
    const record = await this.deps.log.get(message.tenant, folder, id)
    if (record && record.status !== 'dead' && record.status !== 'delivered')
      await this.deps.log.put(message.tenant, { ...record, status: 'dead' })
  }

  private decide(sent: Sent, attempts: DeliveryAttempt[], windowStart: number, now: number): Decision {
    const status = sent.status
    if (status !== null && status >= 200 && status < 300) return { action: 'ack' }
    if (status === 410) return { action: 'ack' }
    const retryable = status === null || status === 408 || status === 429 || status >= 500
    const recent = attempts.filter((a) => Date.parse(a.at) >= windowStart).length
    if (!retryable && recent >= CLIENT_ERROR_ATTEMPTS) return { action: 'dead' }
    if (retryable && now - windowStart >= RETRY_WINDOW_SECONDS * 1000) return { action: 'dead' }
    const policy = { baseDelayMs: this.deps.retryBaseSeconds * 1000, maxDelayMs: this.deps.retryMaxSeconds * 1000, jitter: 0.3 }
    const waitMs = Math.max(backoffDelayMs(policy, recent - 1, this.deps.random), sent.retryAfterMs ?? 0)
    return { action: 'retry', delaySeconds: Math.min(QUEUE_MAX_DELAY_SECONDS, Math.max(1, Math.ceil(waitMs / 1000))) }
  }

  /** The event body: the sync response's item, or `{"errors":[…]}` for a failed result. */
  private async body(task: TaskRecord, result: ResultRecord): Promise<string> {
    const shown = await this.deps.presenter.render(task, result)
    return JSON.stringify('item' in shown ? shown.item : { errors: [shown.error] })
  }

  /** A POST signed per Standard Webhooks with the tenant's secrets, carrying the task's trace as a hop of its own. */
  private async post(
    tenant: string,
    id: string,
    body: string,
    url: string,
    event: string,
    traceparent: string | undefined,
    now: number,
  ): Promise<Sent> {
    const timestamp = Math.floor(now / 1000)
    const secrets = await this.deps.secrets.forTenant(tenant, now)
    const signature = await signatureHeader(
      [
        secrets.current.secret,
        ...(secrets.previous ? [secrets.previous.secret] : []),
        ...(secrets.beforeRotation ? [secrets.beforeRotation] : []),
      ],
      id,
      timestamp,
      body,
    )
    return send(url, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'imagine-edge-webhooks/1',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
        'webhook-event': event,
        ...(traceparent ? { traceparent: childTraceparent(traceparent) } : {}),
      },
    })
  }

  private async putCopy(result: ResultRecord, url: string): Promise<Sent> {
    if (!result.ok) return { status: 410, retryAfterMs: null, durationMs: 0 }
    const object = await this.deps.images.get(result.objectKey)
    if (!object) return { status: null, retryAfterMs: null, durationMs: 0, error: 'the stored image is missing' }
    return send(url, {
      method: 'PUT',
      body: object.body,
      headers: { 'content-type': object.httpMetadata?.contentType ?? 'application/octet-stream', 'content-length': String(object.size) },
    })
  }
}

async function send(url: string, init: RequestInit): Promise<Sent> {
  const started = Date.now()
  try {
    const res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) })
    await res.body?.cancel()
    return { status: res.status, retryAfterMs: parseRetryAfterMs(res.headers.get('retry-after')), durationMs: Date.now() - started }
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === 'TimeoutError'
    return {
      status: null,
      retryAfterMs: null,
      durationMs: Date.now() - started,
      error: timedOut ? 'timed out after 15 s' : 'network error',
    }
  }
}
