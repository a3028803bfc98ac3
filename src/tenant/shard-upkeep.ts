/**
 * A shard's recurring work, each step proportional to what is due rather than to the history:
 * the alarm hands due tasks to the reconcile queue (by the `tasks_due` index), and at most once
 * an hour forgets a bounded batch of history past retention (by the creation-time indexes).
 * Alarm times are rounded up to ALARM_GRAIN_MS, so a burst of new tasks sets one alarm, not one each.
 */
import { ConfigError, readConfig } from '../config/config'
import { TASK_RETENTION_SECONDS } from '../lib/storage-keys'
import type { ReconcileMessage } from '../schemas/reconcile'
import { dropDetail, OPEN, unpackUUID } from './shard-rows'

/** How many due tasks one alarm hands to the reconcile queue (a sendBatch holds 100). */
const SWEEP_LIMIT = 100
/** How often a shard forgets history past retention, at most. */
export const PRUNE_EVERY_MS = 3_600_000
/** The most tasks (and uploads) one prune forgets; the rest wait for the next, a minute on. */
export const PRUNE_BATCH = 500
const ALARM_GRAIN_MS = 5_000
/** RECONCILE_AFTER_SECONDS when the configuration cannot be read. */
const DEFAULT_RECHECK_MS = 120_000

/** How long after a look a task is looked at again: RECONCILE_AFTER_SECONDS. */
export function recheckMsOf(env: Env): number {
  const config = readConfig(env)
  return config instanceof ConfigError ? DEFAULT_RECHECK_MS : config.RECONCILE_AFTER_SECONDS * 1000
}

export class Upkeep {
  /** The alarm as this object last set it (only this object sets it); undefined until read. */
  private alarmAt: number | null | undefined
  /** When this instance last pruned (0: not since it woke). */
  private prunedAt = 0

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly sql: SqlStorage,
    private readonly queue: Queue<ReconcileMessage>,
    private readonly recheckMs: () => number,
  ) {}

  /**
   * Tasks due for reconciliation at `now`, oldest first. Each is due again one RECONCILE_AFTER
   * later, so a task still open after its check (or whose message was lost) is checked again;
   * finishing a task clears it, unless it has client deliveries to verify or owes its account.
   */
  sweep(now: number, tenant: string): ReconcileMessage[] {
    const due = this.sql
      .exec<{ id: number; uuid: ArrayBuffer }>('SELECT id, uuid FROM tasks WHERE due_at <= ? ORDER BY due_at LIMIT ?', now, SWEEP_LIMIT)
      .toArray()
    for (const { id } of due) this.sql.exec('UPDATE tasks SET due_at = ? WHERE id = ?', now + this.recheckMs(), id)
    return due.map(({ uuid }) => ({ v: 1, tenant, taskUUID: unpackUUID(uuid) }))
  }

  async alarm(tenant: string): Promise<void> {
    const now = Date.now()
    this.alarmAt = null
    const due = this.sweep(now, tenant)
    if (due.length) await this.queue.sendBatch(due.map((body) => ({ body })))
    let more = false
    if (now - this.prunedAt >= PRUNE_EVERY_MS) {
      this.prunedAt = now
      more = this.prune(now - TASK_RETENTION_SECONDS * 1000)
    }
    const next = this.sql.exec<{ v: number | null }>('SELECT MIN(due_at) AS v FROM tasks WHERE due_at IS NOT NULL').toArray()[0]?.v ?? null
    const oldest = this.sql.exec<{ v: number | null }>('SELECT MIN(created_at) AS v FROM tasks').toArray()[0]?.v ?? null
    // History to forget wakes the shard no sooner than the next prune is allowed.
    const pruneAt = more
      ? now + 60_000
      : oldest === null
        ? null
        : Math.max(oldest + TASK_RETENTION_SECONDS * 1000, this.prunedAt + PRUNE_EVERY_MS)
    const at = [next, pruneAt].filter((t): t is number => t !== null)
    if (more) this.prunedAt = 0
    // A full sweep leaves more due now (a backlog after an outage): drain it at once, not a grain later.
    if (due.length === SWEEP_LIMIT) await this.ctx.storage.setAlarm((this.alarmAt = now))
    else await this.wakeBy(at.length ? Math.min(...at) : null)
  }

  /** Forgets up to PRUNE_BATCH finished or deleted tasks created before `horizon`, and old uploads; true when more remain. */
  private prune(horizon: number): boolean {
    const old = this.sql
      .exec<{ id: number }>(
        'SELECT id FROM tasks WHERE created_at < ? AND state != ? ORDER BY created_at LIMIT ?',
        horizon,
        OPEN,
        PRUNE_BATCH,
      )
      .toArray()
    for (const { id } of old) {
      this.sql.exec('DELETE FROM results WHERE task = ?', id)
      dropDetail(this.sql, id)
      this.sql.exec('DELETE FROM tasks WHERE id = ?', id)
    }
    const uploads = this.sql.exec(
      'DELETE FROM uploads WHERE uuid IN (SELECT uuid FROM uploads WHERE created_at < ? ORDER BY created_at LIMIT ?)',
      horizon,
      PRUNE_BATCH,
    ).rowsWritten
    return old.length === PRUNE_BATCH || uploads === PRUNE_BATCH
  }

  /** Makes sure the alarm fires no later than `at` (null: leave it as it is). */
  async wakeBy(at: number | null): Promise<void> {
    if (at === null) return
    const rounded = Math.ceil(at / ALARM_GRAIN_MS) * ALARM_GRAIN_MS
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm()
    if (this.alarmAt !== null && this.alarmAt <= rounded) return
    this.alarmAt = rounded
    await this.ctx.storage.setAlarm(rounded)
  }
}
