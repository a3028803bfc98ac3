/**
 * What a shard tells others about its tasks: the account object (a limited task's recorded
 * results, so its budget settles) and KV (a finished task's record, when it has client
 * deliveries). Each is told idempotently and, if the telling fails, the task stays due, so the
 * reconciler's look at it (settled()) tells again: nothing is lost, nothing counted twice.
 */
import type { ResultRecord, TaskRecord } from '../schemas/records'
import type { RecordCache } from './record-cache'
import { DELETED, FLAG, unpackUUID, type TaskRow } from './shard-rows'
import type { Upkeep } from './shard-upkeep'
import { chargeOf } from './spend'
import type { TenantAccount } from './tenant-account'

export class Outbox {
  constructor(
    private readonly sql: SqlStorage,
    private readonly records: RecordCache,
    private readonly account: () => DurableObjectStub<TenantAccount>,
    private readonly upkeep: Upkeep,
    private readonly recheckMs: () => number,
  ) {}

  /** Writes a finished task's KV record, once; a failure leaves it for settled() (or throws, when `strict`). */
  async cache(id: number, final: TaskRecord, strict = false): Promise<void> {
    try {
      await this.records.write({ task: final, results: final.results ?? [] })
      this.sql.exec('UPDATE tasks SET flags = flags | ? WHERE id = ?', FLAG.cached, id)
    } catch (error) {
      // The finished task is due: the reconciler's look at it writes the record.
      if (strict) throw error
    }
  }

  /** Deletes a task's KV record, after any write of it under way. */
  uncache(task: TaskRecord): Promise<void> {
    return this.records.remove(task)
  }

  /** Frees a task's reservation; false when the account could not be told. */
  release(taskUUID: string): Promise<boolean> {
    return this.account()
      .release(taskUUID)
      .then(
        () => true,
        () => false,
      )
  }

  /** Tells the account of recorded results (true when it heard); a failure leaves the task owed and due, for settled() to tell again. */
  async settle(row: TaskRow, perResult: number, results: readonly ResultRecord[], now: number): Promise<boolean> {
    const charges = results.map((r) => ({ index: r.index, micros: chargeOf(r, perResult) }))
    try {
      await this.account().settle(unpackUUID(row.uuid), charges, now)
      // Owed no more only if no result was recorded meanwhile (its own telling may have failed).
      this.sql.exec(
        'UPDATE tasks SET flags = flags & ? WHERE id = ? AND (SELECT COUNT(*) FROM results WHERE task = ?) <= ?',
        ~FLAG.owed,
        row.id,
        row.id,
        results.length,
      )
      return true
    } catch {
      // The detail (which holds the price) comes back if a finish dropped it: settled() needs it.
      const due = now + this.recheckMs()
      const marked = this.sql.exec(
        'UPDATE tasks SET flags = flags | ?, due_at = COALESCE(due_at, ?) WHERE id = ? AND state != ?',
        FLAG.owed,
        due,
        row.id,
        DELETED,
      ).rowsWritten
      if (marked && row.detail) this.sql.exec('INSERT OR IGNORE INTO details (id, detail) VALUES (?, ?)', row.id, row.detail)
      await this.upkeep.wakeBy(due)
      return false
    }
  }
}
