/** The delivery log in R2: one record per event, so clients can see attempts and outcomes. */
import { ALERT_LOG, deliveryKey, deliveryPrefix, eventId } from '../lib/storage-keys'
import type { AlertMessage, DeliveryKind, DeliveryRecord } from '../schemas/deliveries'
import type { ResultRecord } from '../schemas/records'

/** Attempts kept per record; older ones are summarised away. */
const MAX_ATTEMPTS_KEPT = 30

/** The target as shown in logs: no query string, where presigned URLs keep their secrets. */
export const redactTarget = (url: string) => {
  const parsed = URL.parse(url)
  return parsed ? `${parsed.origin}${parsed.pathname}` : '[invalid]'
}

/** The event name of a delivery: a result's webhook says how it ended; a copy is an upload. */
export const eventName = (kind: DeliveryKind, result: ResultRecord) =>
  kind === 'upload' ? 'result.upload' : result.ok ? 'result.succeeded' : 'result.failed'

/** A delivery's record before its first attempt. */
export function newDeliveryRecord(kind: DeliveryKind, taskUUID: string, result: ResultRecord, url: string, at: string): DeliveryRecord {
  return {
    id: eventId(kind, taskUUID, result.index),
    kind,
    event: eventName(kind, result),
    taskUUID,
    index: result.index,
    status: 'queued',
    target: redactTarget(url),
    createdAt: at,
    windowStart: at,
    attempts: [],
  }
}

/** The event name of a budget's threshold alert (docs/tenants.md). */
export const ALERT_EVENT = 'budget.threshold'

/** An alert's record before its first attempt: logged beside tasks' deliveries, under `alerts`. */
export function newAlertRecord(message: AlertMessage, at: string): DeliveryRecord {
  return {
    id: message.id,
    kind: 'alert',
    event: ALERT_EVENT,
    taskUUID: ALERT_LOG,
    index: 0,
    status: 'queued',
    target: redactTarget(message.url),
    createdAt: at,
    windowStart: at,
    attempts: [],
    message: { ...message, replay: false },
  }
}

export class DeliveryLog {
  constructor(private readonly bucket: R2Bucket) {}

  async get(tenant: string, taskUUID: string, id: string): Promise<DeliveryRecord | null> {
    const object = await this.bucket.get(deliveryKey(tenant, taskUUID, id))
    return object ? object.json<DeliveryRecord>() : null
  }

  /** Creates the record unless one exists (a consumer may have written it first). */
  async create(tenant: string, record: DeliveryRecord): Promise<void> {
    await this.bucket.put(deliveryKey(tenant, record.taskUUID, record.id), JSON.stringify(record), { onlyIf: { etagDoesNotMatch: '*' } })
  }

  async put(tenant: string, record: DeliveryRecord): Promise<void> {
    const trimmed = { ...record, attempts: record.attempts.slice(-MAX_ATTEMPTS_KEPT) }
    await this.bucket.put(deliveryKey(tenant, record.taskUUID, record.id), JSON.stringify(trimmed))
  }

  /** The ids logged for a task (one list call). */
  async ids(tenant: string, taskUUID: string): Promise<Set<string>> {
    const prefix = deliveryPrefix(tenant, taskUUID)
    const page = await this.bucket.list({ prefix })
    return new Set(page.objects.map((o) => o.key.slice(prefix.length)))
  }

  async list(tenant: string, taskUUID: string): Promise<DeliveryRecord[]> {
    const ids = [...(await this.ids(tenant, taskUUID))].sort()
    const records = await Promise.all(ids.map((id) => this.get(tenant, taskUUID, id)))
    return records.filter((r): r is DeliveryRecord => r !== null)
  }
}
