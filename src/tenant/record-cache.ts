/**
 * The KV copies of finished task records with client deliveries, written only by the task's
 * shard object, once, when the task finishes: the deliverer reads them after the shard has kept
 * only the task's lasting part. With one writer, a deletion is ordered after any write: a
 * removal waits for the last write under way, so no deleted task is ever served from KV.
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
    const pending = put.catch(() => undefined)
    this.writes.set(task.taskUUID, pending)
    try {
      await put
    } finally {
      // Another write of the record may have started meanwhile: its entry stays for a removal to wait on.
      if (this.writes.get(task.taskUUID) === pending) this.writes.delete(task.taskUUID)
    }
  }

  /** Deletes the record once any write of it under way has landed. */
  async remove(task: TaskRecord): Promise<void> {
    await this.writes.get(task.taskUUID)
    await this.kv.delete(kvTaskKey(task.tenant, task.taskUUID))
  }
}
