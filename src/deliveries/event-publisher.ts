/**
 * Produces client deliveries: a webhook event per finished result (when the task has a
 * webhookURL) and an upload copy per stored image (when it has an uploadEndpoint). Called by
 * the single writer of each result; at finalization it re-checks, so an event lost between a
 * result's claim and its send still goes out. Duplicates are harmless: ids are stable.
 */
import { eventId } from '../lib/storage-keys'
import type { DeliveryMessage, DeliveryRecord } from '../schemas/deliveries'
import type { ResultRecord, TaskRecord } from '../schemas/records'
import type { DeliveryLog } from './delivery-log'

/** The target as shown in logs: no query string, where presigned URLs keep their secrets. */
export const redactTarget = (url: string) => {
  const parsed = URL.parse(url)
  return parsed ? `${parsed.origin}${parsed.pathname}` : '[invalid]'
}

export class EventPublisher {
  constructor(
    private readonly queue: Queue<DeliveryMessage>,
    private readonly log: DeliveryLog,
  ) {}

  /** The deliveries one result calls for. */
  private wanted(task: TaskRecord, result: ResultRecord): { kind: 'webhook' | 'upload'; url: string }[] {
    const out: { kind: 'webhook' | 'upload'; url: string }[] = []
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
      jobs.map(({ kind, url, result }) => {
        const record: DeliveryRecord = {
          id: eventId(kind, task.taskUUID, result.index),
          kind,
          event: kind === 'upload' ? 'result.upload' : result.ok ? 'result.succeeded' : 'result.failed',
          taskUUID: task.taskUUID,
          index: result.index,
          status: 'queued',
          target: redactTarget(url),
          createdAt: now,
          windowStart: now,
          attempts: [],
        }
        return this.log.create(task.tenant, record)
      }),
    )
  }

  /** At finalization: publishes whatever a crashed writer never sent. */
  async publishMissing(task: TaskRecord, results: readonly ResultRecord[]): Promise<void> {
    if (!task.webhookURL && !task.uploadEndpoint) return
    await this.publish(task, results, await this.log.ids(task.tenant, task.taskUUID))
  }
}
