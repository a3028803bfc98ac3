/** The delivery log in R2: one record per event, so clients can see attempts and outcomes. */
import { deliveryKey, deliveryPrefix } from '../lib/storage-keys'
import type { DeliveryRecord } from '../schemas/deliveries'

/** Attempts kept per record; older ones are summarised away. */
const MAX_ATTEMPTS_KEPT = 30

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
