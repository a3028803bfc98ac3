/** Outbound calls: the upload PUT and the webhook POST, with Runware's documented retry policy. */
import { roll, type FaultRule } from './faults.ts'
import type { Log, Stats } from './types.ts'
import { Background, redactUrl, sleep } from './util.ts'

const WEBHOOK_ATTEMPTS = 6
const WEBHOOK_FIRST_BACKOFF_MS = 250
const WEBHOOK_MAX_BACKOFF_MS = 8_000
// Runware expects an answer within about 5 s before it counts the attempt as failed.
const WEBHOOK_TIMEOUT_MS = 5_000
const UPLOAD_TIMEOUT_MS = 30_000

/** Backoff before retry `n` (1-based): 250 ms doubling, capped at 8 s, with ±20 % jitter. */
export function webhookBackoffMs(n: number): number {
  const base = Math.min(WEBHOOK_FIRST_BACKOFF_MS * 2 ** (n - 1), WEBHOOK_MAX_BACKOFF_MS)
  return Math.min(Math.round(base * (0.8 + Math.random() * 0.4)), WEBHOOK_MAX_BACKOFF_MS)
}

/** Performs uploads and webhooks, counting outcomes; background work stops when `signal` aborts. */
export class Delivery {
  readonly uploads: Stats['uploads'] = { ok: 0, failed: 0 }
  readonly webhooks: Stats['webhooks'] = { sent: 0, failed: 0 }
  private readonly background: Background

  constructor(
    private readonly signal: AbortSignal,
    private readonly log: Log,
  ) {
    this.background = new Background((error) => this.log(`webhook error: ${String(error)}`))
  }

  /** PUTs raw bytes; a failure is logged and counted, never thrown, as the result still succeeds. */
  async upload(url: string, bytes: Buffer, contentType: string | undefined, rule: FaultRule | undefined): Promise<void> {
    if (roll(rule?.failUploadRate)) {
      this.uploads.failed += 1
      this.log(`upload to ${redactUrl(url)} failed (injected)`)
      return
    }
    // Runware documents no Content-Type for the PUT (readings.ts picks one); fetch adds Content-Length itself.
    const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {}
    try {
      const res = await fetch(url, {
        method: 'PUT',
        headers,
        // A copy typed as Uint8Array<ArrayBuffer>: DOM-style BodyInit rejects Node's Buffer type.
        body: new Uint8Array(bytes),
        signal: AbortSignal.any([this.signal, AbortSignal.timeout(UPLOAD_TIMEOUT_MS)]),
      })
      await res.body?.cancel()
      if (res.ok) {
        this.uploads.ok += 1
        return
      }
      this.uploads.failed += 1
      this.log(`upload to ${redactUrl(url)} failed: HTTP ${res.status}`)
    } catch (error) {
      this.uploads.failed += 1
      this.log(`upload to ${redactUrl(url)} failed: ${errorMessage(error)}`)
    }
  }

  /** Starts webhook delivery in the background (copies, drops and delay come from the rule). */
  webhook(url: string, body: object, rule: FaultRule | undefined): void {
    const copies = Math.max(1, Math.floor(rule?.webhookCopies ?? 1)) + (roll(rule?.duplicateWebhookRate) ? 1 : 0)
    // A late webhook arrives after later results' webhooks: out of order, as Runware's can.
    const delay = (rule?.webhookDelayMs ?? 0) + (roll(rule?.lateWebhookRate) ? (rule?.lateWebhookMs ?? 2000) : 0)
    for (let i = 0; i < copies; i += 1) {
      if (roll(rule?.dropWebhookRate)) {
        this.log(`webhook to ${redactUrl(url)} dropped (injected)`)
        continue
      }
      this.background.run(this.deliver(url, JSON.stringify(body), delay))
    }
  }

  /** Waits for in-flight webhooks; after an abort they finish quickly. */
  drain(): Promise<void> {
    return this.background.drain()
  }

  private async deliver(url: string, json: string, delayMs: number): Promise<void> {
    await sleep(delayMs, this.signal)
    for (let attempt = 1; attempt <= WEBHOOK_ATTEMPTS && !this.signal.aborted; attempt += 1) {
      if (attempt > 1) await sleep(webhookBackoffMs(attempt - 1), this.signal)
      if (this.signal.aborted) return
      const outcome = await this.post(url, json)
      if (outcome === 'ok') {
        this.webhooks.sent += 1
        return
      }
      this.webhooks.failed += 1
      this.log(`webhook to ${redactUrl(url)} attempt ${attempt}/${WEBHOOK_ATTEMPTS} failed: ${outcome}`)
    }
  }

  private async post(url: string, json: string): Promise<string> {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: json,
        signal: AbortSignal.any([this.signal, AbortSignal.timeout(WEBHOOK_TIMEOUT_MS)]),
      })
      await res.body?.cancel()
      return res.ok ? 'ok' : `HTTP ${res.status}`
    } catch (error) {
      return errorMessage(error)
    }
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
