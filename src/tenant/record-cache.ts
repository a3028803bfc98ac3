/**
 * The KV copies of finished task records, written only by the tenant's ledger object. With one
 * writer, a deletion is ordered after any write: a deleted task is never written again, and a
 * removal waits for a write under way, so no route ever serves a deleted task from KV.
 */
import { kvTaskKey, TASK_RETENTION_SECONDS } from '../lib/storage-keys'
import type { TaskRecord } from '../schemas/records'
import type { TaskState } from './contract'

export class RecordCache {
  /** Writes under way, by taskUUID. */
  private readonly writes = new Map<string, Promise<unknown>>()

  constructor(private readonly kv: KVNamespace) {}

  async write({ task, results }: TaskState): Promise<void> {
    const put = this.kv.put(kvTaskKey(task.tenant, task.taskUUID), JSON.stringify({ ...task, results }), {
      expirationTtl: TASK_RETENTION_SECONDS,
    })
    this.writes.set(
      task.taskUUID,
      put.catch(() => undefined),
    )
    try {
      await put
    } finally {
      this.writes.delete(task.taskUUID)
    }
  }

  /** Deletes the record once any write of it under way has landed. */
  async remove(task: TaskRecord): Promise<void> {
    await this.writes.get(task.taskUUID)
    await this.kv.delete(kvTaskKey(task.tenant, task.taskUUID))
  }
}
