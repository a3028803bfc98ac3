/**
 * Produces client deliveries: a webhook event per finished result (when the task has a
 * webhookURL) and an upload copy per stored image (when it has an uploadEndpoint). Called by
 * the single writer of each result; at finalization it re-checks, so an event lost between a
 * result's claim and its send still goes out. Duplicates are harmless: ids are stable.
 */
import { ALERT_LOG, eventId, parseEventId } from '../lib/storage-keys'
import type { DeliveryKind, DeliveryMessage } from '../schemas/deliveries'
import type { ResultRecord, TaskRecord } from '../schemas/records'
import { newDeliveryRecord, type DeliveryLog } from './delivery-log'

export class EventPublisher {
  constructor(
    private readonly queue: Queue<DeliveryMessage>,
    private readonly log: DeliveryLog,
  ) {}

  /** The deliveries one result calls for. */
  private wanted(task: TaskRecord, result: ResultRecord): { kind: DeliveryKind; url: string }[] {
    const out: { kind: DeliveryKind; url: string }[] = []
    if (task.webhookURL) out.push({ kind: 'webhook', url: task.webhookURL })
    if (task.uploadEndpoint && result.ok) out.push({ kind: 'upload', url: task.uploadEndpoint })
    return out
  }

  async publish(task: TaskRecord, results: readonly ResultRecord[], skip: ReadonlySet<string> = new Set()): Promise<void> {
    const now = new Date().toISOString()
    const jobs = results.flatMap((result) =>
      this.wanted(task, result)
        .filter(({ kind }) => !skip.has(eventId(kind, task.taskUUID, result.index)))
        .map(({ kind, url }) => ({ kind, url, result })),
    )
    if (!jobs.length) return
    // Send first, then log: a crash in between leaves an unlogged event, which finalization re-sends.
    await this.queue.sendBatch(
      jobs.map(({ kind, result }) => ({ body: { v: 1, kind, tenant: task.tenant, taskUUID: task.taskUUID, index: result.index } })),
    )
    await Promise.all(
      jobs.map(({ kind, url, result }) => this.log.create(task.tenant, newDeliveryRecord(kind, task.taskUUID, result, url, now))),
    )
  }

  /** At finalization: publishes whatever a crashed writer never sent. */
  async publishMissing(task: TaskRecord, results: readonly ResultRecord[]): Promise<void> {
    if (!task.webhookURL && !task.uploadEndpoint) return
    await this.publish(task, results, await this.log.ids(task.tenant, task.taskUUID))
  }

  /** Sends a logged event again, at a client's request; false when the tenant has no such event. */
  async replay(tenant: string, id: string): Promise<boolean> {
    if (id.startsWith('bud_')) {
      // A budget alert: its record keeps the message it went out as.
      const record = await this.log.get(tenant, ALERT_LOG, id)
      if (!record?.message) return false
      await this.queue.send({ ...record.message, replay: true })
      await this.log.put(tenant, { ...record, status: 'queued' })
      return true
    }
    const parts = parseEventId(id)
    const record = parts ? await this.log.get(tenant, parts.taskUUID, id) : null
    if (!parts || !record) return false
    await this.queue.send({ v: 1, kind: parts.kind, tenant, taskUUID: parts.taskUUID, index: parts.index, replay: true })
    await this.log.put(tenant, { ...record, status: 'queued' })
    return true
  }
}
