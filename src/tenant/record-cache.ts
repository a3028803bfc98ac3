/**
 * The KV copies of finished task records, written only by the tenant's ledger object. With one
 * writer, a deletion is ordered after any write: a deleted task is never written again, and a
 * removal waits for a write under way, so no route ever serves a deleted task from KV.
 */
import { kvTaskKey, TASK_RETENTION_SECONDS } from '../lib/storage-keys'
import type { TaskRecord } from '../schemas/records'
import type { TaskState } from './contract'

const MAX_REMEMBERED = 1000

export class RecordCache {
  /** Writes under way, by taskUUID. */
  private readonly writes = new Map<string, Promise<unknown>>()
  /**
   * Records this object wrote since it woke: readers keep missing a new record for up to a minute
   * while KV propagates, and each asks for it; it is written once (a record never changes).
   */
  private readonly written = new Set<string>()

  constructor(private readonly kv: KVNamespace) {}

  async write({ task, results }: TaskState): Promise<void> {
    if (this.written.has(task.taskUUID)) return
    const pending = this.writes.get(task.taskUUID)
    if (pending) return void (await pending)
    const put = this.kv.put(kvTaskKey(task.tenant, task.taskUUID), JSON.stringify({ ...task, results }), {
      expirationTtl: TASK_RETENTION_SECONDS,
    })
    this.writes.set(
      task.taskUUID,
      put.catch(() => undefined),
    )
    try {
      await put
      if (this.written.size >= MAX_REMEMBERED) this.written.clear()
      this.written.add(task.taskUUID)
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
