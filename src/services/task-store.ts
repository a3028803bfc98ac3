/**
 * Task state. R2 holds the strongly consistent, write-once truth (the task claim, one claim
 * per result, one finalization claim); KV holds the fast, edge-cached copy that reads use first.
 * KV is eventually consistent and takes one write per second per key, so no KV key is ever
 * written by two writers: R2's conditional put decides who writes. The KV task key is written
 * once, at finalization; until then reads find the task through its R2 claim.
 */
import { ApiError } from '../lib/errors'
import * as keys from '../lib/storage-keys'
import type { ResultRecord, TaskRecord } from '../schemas/records'

const WRITE_ONCE = { onlyIf: { etagDoesNotMatch: '*' } } as const
const KV_OPTIONS = { expirationTtl: keys.TASK_RETENTION_SECONDS }

export class TaskStore {
  constructor(
    private readonly kv: KVNamespace,
    private readonly bucket: R2Bucket,
  ) {}

  /** Creates the task, or returns the record already claimed under its taskUUID. */
  async create(record: TaskRecord): Promise<'created' | TaskRecord> {
    const key = keys.stateTaskKey(record.tenant, record.taskUUID)
    const marker = keys.inflightKey(record.createdAt, record.tenant, record.taskUUID)
    // The marker first: a task must never exist without one, or a lost webhook would go unnoticed.
    // A marker without its task (the claim below lost) is dropped by the reconciler.
    await this.bucket.put(marker, '')
    // Twice at most: a claim can vanish between our put and get when a racing dispatch fails.
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await this.bucket.put(key, JSON.stringify(record), WRITE_ONCE)) return 'created'
      const existing = await this.claimedTask(record.tenant, record.taskUUID)
      if (existing) {
        // Two requests in the same millisecond share a marker key: then it is the winner's too.
        if (existing.createdAt !== record.createdAt) await this.bucket.delete(marker)
        return existing
      }
    }
    throw new ApiError(
      503,
      { code: 'serviceUnavailable', message: 'The task is being retried by another request; retry shortly' },
      { 'retry-after': '1' },
    )
  }

  /** Forgets a task whose dispatch failed, so a re-send starts it afresh. */
  async abandon(record: TaskRecord): Promise<void> {
    await this.bucket.delete([
      keys.stateTaskKey(record.tenant, record.taskUUID),
      keys.inflightKey(record.createdAt, record.tenant, record.taskUUID),
    ])
  }

  /** Whether the task's claim still exists (R2, strongly consistent). */
  async exists(task: TaskRecord): Promise<boolean> {
    return (await this.bucket.head(keys.stateTaskKey(task.tenant, task.taskUUID))) !== null
  }

  /** In-flight markers, oldest first. */
  async inflight(limit: number): Promise<{ createdAt: number; tenant: string; taskUUID: string; key: string }[]> {
    const page = await this.bucket.list({ prefix: keys.INFLIGHT_PREFIX, limit })
    return page.objects.flatMap((o) => {
      const parts = keys.parseInflightKey(o.key)
      return parts ? [{ ...parts, key: o.key }] : []
    })
  }

  async dropInflight(markerKey: string): Promise<void> {
    await this.bucket.delete(markerKey)
  }

  /** The task, from KV, or from R2 when KV has not caught up. */
  async get(tenant: string, taskUUID: string): Promise<TaskRecord | null> {
    const cached = await this.kv.get<TaskRecord>(keys.kvTaskKey(tenant, taskUUID), 'json')
    return cached ?? this.claimedTask(tenant, taskUUID)
  }

  private async claimedTask(tenant: string, taskUUID: string): Promise<TaskRecord | null> {
    const object = await this.bucket.get(keys.stateTaskKey(tenant, taskUUID))
    return object ? object.json<TaskRecord>() : null
  }

  /** Every recorded result, by index. Finished tasks answer from their record alone. */
  async results(task: TaskRecord): Promise<ResultRecord[]> {
    if (task.results) return task.results
    const resultKeys = task.children.map((_, i) => keys.kvResultKey(task.tenant, task.taskUUID, i))
    const cached = await this.kv.get<ResultRecord>(resultKeys, 'json')
    const found = [...cached.values()].filter((r): r is ResultRecord => r !== null)
    if (found.length === task.children.length) return sortByIndex(found)
    // KV lags or a writer stopped between its claim and its KV write: R2 knows for sure.
    return this.claimedResults(task)
  }

  /** Claims result `record.index`; false when another writer recorded it first. */
  async claimResult(task: TaskRecord, record: ResultRecord): Promise<boolean> {
    const key = keys.stateResultKey(task.tenant, task.taskUUID, record.index)
    const put = await this.bucket.put(key, '', { ...WRITE_ONCE, customMetadata: { r: JSON.stringify(record) } })
    return put !== null
  }

  /** The results claimed so far, read from R2 (strongly consistent) in one list call. */
  async claimedResults(task: TaskRecord): Promise<ResultRecord[]> {
    const page = await this.bucket.list({
      prefix: keys.stateResultPrefix(task.tenant, task.taskUUID),
      include: ['customMetadata'],
    })
    return sortByIndex(page.objects.flatMap((o) => (o.customMetadata?.r ? [JSON.parse(o.customMetadata.r) as ResultRecord] : [])))
  }

  putResult(task: TaskRecord, record: ResultRecord): Promise<void> {
    return this.kv.put(keys.kvResultKey(task.tenant, task.taskUUID, record.index), JSON.stringify(record), KV_OPTIONS)
  }

  /**
   * Records the final state once: only the writer that wins the R2 claim writes KV. With
   * `repair`, a lost claim still writes KV: the reconciler uses it when a finalizer stopped
   * between its claim and its KV write (the in-flight marker, deleted last, shows that).
   */
  async finalize(task: TaskRecord, results: ResultRecord[], now = Date.now(), repair = false): Promise<TaskRecord | null> {
    const claimed = await this.bucket.put(keys.stateFinalKey(task.tenant, task.taskUUID), '', WRITE_ONCE)
    if (!claimed && !repair) return null
    const final: TaskRecord = {
      ...task,
      status: results.some((r) => r.ok) ? 'succeeded' : 'failed',
      finishedAt: now,
      results,
    }
    await this.kv.put(keys.kvTaskKey(task.tenant, task.taskUUID), JSON.stringify(final), KV_OPTIONS)
    await this.bucket.delete(keys.inflightKey(task.createdAt, task.tenant, task.taskUUID))
    return final
  }

  /**
   * Deletes the task's state and images. The R2 task claim stays as a tombstone, so the
   * taskUUID cannot start a second generation that Runware would see as a reused UUID.
   */
  async delete(task: TaskRecord): Promise<void> {
    const tombstone: TaskRecord = { ...task, deleted: true, results: undefined }
    const stateKeys = [
      keys.stateFinalKey(task.tenant, task.taskUUID),
      keys.inflightKey(task.createdAt, task.tenant, task.taskUUID),
      ...task.children.map((_, i) => keys.stateResultKey(task.tenant, task.taskUUID, i)),
    ]
    await Promise.all([
      this.bucket.put(keys.stateTaskKey(task.tenant, task.taskUUID), JSON.stringify(tombstone)),
      this.bucket.delete(stateKeys),
      this.kv.delete(keys.kvTaskKey(task.tenant, task.taskUUID)),
      ...task.children.map((_, i) => this.kv.delete(keys.kvResultKey(task.tenant, task.taskUUID, i))),
    ])
  }
}

const sortByIndex = (results: ResultRecord[]) => results.sort((a, b) => a.index - b.index)
