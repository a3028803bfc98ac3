/**
 * One Durable Object per tenant: the single, strongly consistent place where its tasks, their
 * results, its budget and its usage are kept. Requests to one object run one at a time and every
 * method below does its SQL synchronously, so "is this taskUUID new?", "was this result already
 * recorded?" and "check the budget, then reserve" cannot interleave — which KV, eventually
 * consistent and without conditional writes, could never promise. Each check is one call.
 *
 * The object also schedules reconciliation: every open task has a due time, and the object's
 * alarm hands due tasks to the reconcile queue, so a lost webhook never leaves a task stuck.
 * Money is kept in micro-dollars (integers), never floats.
 */
import { DurableObject } from 'cloudflare:workers'
import { TASK_RETENTION_SECONDS } from '../lib/storage-keys'
import { ConfigError, readConfig } from '../config/config'
import type { ReconcileMessage } from '../schemas/reconcile'
import { finalStatus, type ResultDraft, type ResultRecord, type TaskRecord } from '../schemas/records'
import { ApiKeys } from '../access/api-keys'
import type { KeyTransition, Limits, OpenOutcome, RecordedResults, TaskState, UsageRow } from './contract'
import { LEDGER_SCHEMA } from './ledger-schema'
import { RecordCache } from './record-cache'
import { addUsage, refusal, usageRows } from './spend'
import { Waiters } from './waiters'

/** How many due tasks one alarm hands to the reconcile queue (a sendBatch holds 100). */
const SWEEP_LIMIT = 100
/** RECONCILE_AFTER_SECONDS when the configuration cannot be read. */
const DEFAULT_RECHECK_MS = 120_000
/** How often the object wakes to forget tasks past retention, when nothing is due sooner. */
const PRUNE_EVERY_MS = 86_400_000

type TaskRow = { record: string; state: 'open' | 'final' | 'deleted' }

export class TenantLedger extends DurableObject<Env> {
  private readonly sql: SqlStorage
  /** The alarm as this object last set it (only this object sets it); undefined until read. */
  private alarmAt: number | null | undefined
  private readonly waiters = new Waiters()
  /** When this instance last forgot history past retention (0: not since it woke). */
  private prunedAt = 0
  private readonly records: RecordCache
  /** The last key transition queued, by key id. */
  private readonly keyQueue = new Map<string, Promise<unknown>>()

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    this.records = new RecordCache(env.TASKS)
    this.sql.exec(LEDGER_SCHEMA)
  }

  /**
   * Creates a task, or returns the one already under its taskUUID. A new task first gets its
   * reservation (estimated cost and an in-flight slot) or is refused, creating nothing.
   */
  async open(task: TaskRecord, perResultMicros: number, limits: Limits, dueAt: number): Promise<OpenOutcome> {
    const existing = this.row(task.taskUUID)
    if (existing) return { kind: 'existing', task: this.parse(existing), results: this.results(task.taskUUID) }
    const refused = refusal(this.sql, task.children.length * perResultMicros, limits, task.createdAt)
    if (refused) return { kind: 'refused', refusal: refused }
    this.sql.exec(
      'INSERT INTO tasks (task, record, created_at, state, due_at) VALUES (?, ?, ?, ?, ?)',
      task.taskUUID,
      JSON.stringify(task),
      task.createdAt,
      'open',
      dueAt,
    )
    this.sql.exec(
      'INSERT INTO reservations (task, per_result, open) VALUES (?, ?, ?)',
      task.taskUUID,
      perResultMicros,
      task.children.length,
    )
    await this.wakeBy(dueAt)
    return { kind: 'created' }
  }

  /** Forgets a task Runware never took (and its reservation), so a re-send starts afresh. */
  abandon(taskUUID: string, createdAt: number): void {
    const gone = this.sql.exec("DELETE FROM tasks WHERE task = ? AND created_at = ? AND state = 'open'", taskUUID, createdAt).rowsWritten
    if (!gone) return
    this.sql.exec('DELETE FROM results WHERE task = ?', taskUUID)
    this.sql.exec('DELETE FROM reservations WHERE task = ?', taskUUID)
    this.waiters.wake(taskUUID)
  }

  read(taskUUID: string): TaskState | null {
    const row = this.row(taskUUID)
    return row ? { task: this.parse(row), results: this.results(taskUUID) } : null
  }

  /**
   * The task once it is settled (every result recorded, or deleted, or gone), or as it stands
   * after `timeoutMs`. One call parks until then, so a waiting sync request costs no polling.
   */
  async awaitSettled(taskUUID: string, timeoutMs: number): Promise<TaskState | null> {
    const state = this.read(taskUUID)
    if (!state || state.task.deleted || state.results.length >= state.task.children.length) return state
    await this.waiters.wait(taskUUID, timeoutMs)
    return this.read(taskUUID)
  }

  /**
   * Records results, each once: the first report of a result wins and later ones change nothing.
   * A recorded success settles its cost into usage; any recorded result frees its share of the
   * reservation. The call that records a task's last result makes the task final.
   */
  recordResults(taskUUID: string, drafts: readonly ResultDraft[], now: number): RecordedResults | null {
    const row = this.row(taskUUID)
    if (!row || row.state === 'deleted') return null
    const task = this.parse(row)
    const price = this.sql.exec<{ per_result: number }>('SELECT per_result FROM reservations WHERE task = ?', taskUUID).toArray()[0]
    const claimed: ResultRecord[] = []
    for (const draft of drafts) {
      const child = task.children[draft.index]
      if (!child) continue
      const record: ResultRecord = draft.ok ? { ...draft, seed: draft.seed ?? child.seed } : draft
      const inserted = this.sql.exec(
        'INSERT OR IGNORE INTO results (task, idx, record) VALUES (?, ?, ?)',
        taskUUID,
        record.index,
        JSON.stringify(record),
      ).rowsWritten
      if (!inserted) continue
      claimed.push(record)
      if (record.ok) this.indexImage(record.imageUUID, record.objectKey, taskUUID, now)
      this.sql.exec('UPDATE reservations SET open = open - 1 WHERE task = ? AND open > 0', taskUUID)
      if (record.ok)
        addUsage(this.sql, now, task.model, record.cost !== undefined ? Math.round(record.cost * 1e6) : (price?.per_result ?? 0))
      else if (record.billed) addUsage(this.sql, now, task.model, price?.per_result ?? 0, 0)
    }
    const results = this.results(taskUUID)
    if (row.state !== 'open' || results.length < task.children.length) return { task, results, claimed, final: null }
    const finished: TaskRecord = { ...task, status: finalStatus(results), finishedAt: now }
    // A task with client deliveries is looked at once more, to send any event a crashed recorder never did.
    const verifyAt = task.webhookURL || task.uploadEndpoint ? now + this.recheckMs() : null
    this.sql.exec(
      "UPDATE tasks SET state = 'final', record = ?, due_at = ?, finished_at = ? WHERE task = ?",
      JSON.stringify(finished),
      verifyAt,
      now,
      taskUUID,
    )
    this.sql.exec('DELETE FROM reservations WHERE task = ?', taskUUID)
    this.waiters.wake(taskUUID)
    return { task, results, claimed, final: { ...finished, results } }
  }

  /**
   * Marks a deleted task: its results go, and the taskUUID stays taken until retention ends. Its
   * KV record goes last, after any write of it this object has under way, so it never comes back.
   */
  async remove(taskUUID: string): Promise<void> {
    const row = this.row(taskUUID)
    this.sql.exec("UPDATE tasks SET state = 'deleted', due_at = NULL WHERE task = ?", taskUUID)
    this.sql.exec('DELETE FROM results WHERE task = ?', taskUUID)
    this.sql.exec('DELETE FROM reservations WHERE task = ?', taskUUID)
    this.sql.exec('DELETE FROM images WHERE task = ?', taskUUID)
    this.waiters.wake(taskUUID)
    if (row) await this.records.remove(this.parse(row))
  }

  /** Writes a finished task's KV record, which a reader found missing (record-cache.ts: one writer). */
  async cacheFinal(taskUUID: string): Promise<void> {
    const row = this.row(taskUUID)
    if (row?.state === 'final') await this.records.write({ task: this.parse(row), results: this.results(taskUUID) })
  }

  /** Indexes an input image (an upload, or an inline reference) under its imageUUID. */
  addImage(imageUUID: string, objectKey: string, now: number): void {
    this.indexImage(imageUUID, objectKey, null, now)
  }

  /**
   * Disables or rotates one of the tenant's API keys. Each transition reads the key's current
   * record and writes the next, so two at once could both start from the same record (two live
   * keys after two rotations); here they run one after another, per key id, in this one place.
   */
  keyTransition(id: string, operation: 'disable' | 'rotate'): Promise<KeyTransition> {
    const config = readConfig(this.env)
    if (config instanceof ConfigError) throw new Error('configuration is invalid')
    const keys = new ApiKeys(this.env.TASKS, config)
    const run = (this.keyQueue.get(id) ?? Promise.resolve()).then(async (): Promise<KeyTransition> => {
      if (operation === 'disable') return { record: await keys.disable(id) }
      const rotated = await keys.rotate(id)
      return rotated ? { record: rotated.record, key: rotated.key } : { record: null }
    })
    const settled = run.catch(() => undefined)
    this.keyQueue.set(id, settled)
    void settled.then(() => {
      if (this.keyQueue.get(id) === settled) this.keyQueue.delete(id)
    })
    return run
  }

  /** Forgets an uploaded image (mediaStorage delete); its R2 key, or null when the tenant has no such upload. */
  forgetUpload(imageUUID: string): string | null {
    const row = this.sql
      .exec<{ object_key: string }>('DELETE FROM images WHERE uuid = ? AND task IS NULL RETURNING object_key', imageUUID.toLowerCase())
      .toArray()[0]
    return row?.object_key ?? null
  }

  /** The R2 keys of the tenant's images among `imageUUIDs`; another tenant's are simply not here. */
  findImages(imageUUIDs: readonly string[]): Record<string, string> {
    const found: Record<string, string> = {}
    for (const uuid of new Set(imageUUIDs)) {
      const row = this.sql.exec<{ object_key: string }>('SELECT object_key FROM images WHERE uuid = ?', uuid).toArray()[0]
      if (row) found[uuid] = row.object_key
    }
    return found
  }

  /** The reconciler is done with a final task: nothing is due for it any more. */
  settled(taskUUID: string): void {
    this.sql.exec("UPDATE tasks SET due_at = NULL WHERE task = ? AND state != 'open'", taskUUID)
  }

  /**
   * Tasks due for reconciliation at `now`, oldest first. Each is due again one RECONCILE_AFTER
   * later, so a task still open after its check (or whose message was lost) is checked again;
   * finishing a task clears it.
   */
  sweep(now: number): ReconcileMessage[] {
    const due = this.sql
      .exec<{ task: string; record: string }>('SELECT task, record FROM tasks WHERE due_at <= ? ORDER BY due_at LIMIT ?', now, SWEEP_LIMIT)
      .toArray()
    for (const { task } of due) this.sql.exec('UPDATE tasks SET due_at = ? WHERE task = ?', now + this.recheckMs(), task)
    return due.map(({ record }) => {
      const task = JSON.parse(record) as TaskRecord
      return { v: 1, tenant: task.tenant, taskUUID: task.taskUUID }
    })
  }

  override async alarm(): Promise<void> {
    const now = Date.now()
    this.alarmAt = null
    const due = this.sweep(now)
    if (due.length) await (this.env.RECONCILE as Queue<ReconcileMessage>).sendBatch(due.map((body) => ({ body })))
    // Alarms fire about as often as tasks are created; forgetting old history is due far less often.
    if (now - this.prunedAt >= PRUNE_EVERY_MS) {
      this.prunedAt = now
      const horizon = now - TASK_RETENTION_SECONDS * 1000
      this.sql.exec("DELETE FROM results WHERE task IN (SELECT task FROM tasks WHERE state != 'open' AND created_at < ?)", horizon)
      this.sql.exec("DELETE FROM tasks WHERE state != 'open' AND created_at < ?", horizon)
      this.sql.exec('DELETE FROM images WHERE created_at < ?', horizon)
    }
    const next = this.sql.exec<{ v: number | null }>('SELECT MIN(due_at) AS v FROM tasks').toArray()[0]?.v
    const anyTasks = this.sql.exec<{ v: number }>('SELECT EXISTS (SELECT 1 FROM tasks) AS v').toArray()[0]?.v
    await this.wakeBy(next ?? (anyTasks ? now + PRUNE_EVERY_MS : null))
  }

  usage(from: string, to: string): UsageRow[] {
    return usageRows(this.sql, from, to)
  }

  private recheckMs(): number {
    const config = readConfig(this.env)
    return config instanceof ConfigError ? DEFAULT_RECHECK_MS : config.RECONCILE_AFTER_SECONDS * 1000
  }

  private row(taskUUID: string): TaskRow | undefined {
    return this.sql.exec<TaskRow>('SELECT record, state FROM tasks WHERE task = ?', taskUUID).toArray()[0]
  }

  private parse(row: TaskRow): TaskRecord {
    const task = JSON.parse(row.record) as TaskRecord
    if (row.state === 'deleted') return { ...task, deleted: true }
    return task
  }

  private results(taskUUID: string): ResultRecord[] {
    return this.sql
      .exec<{ record: string }>('SELECT record FROM results WHERE task = ? ORDER BY idx', taskUUID)
      .toArray()
      .map((r) => JSON.parse(r.record) as ResultRecord)
  }

  private indexImage(imageUUID: string, objectKey: string, taskUUID: string | null, now: number): void {
    this.sql.exec(
      'INSERT OR IGNORE INTO images (uuid, object_key, task, created_at) VALUES (?, ?, ?, ?)',
      imageUUID.toLowerCase(),
      objectKey,
      taskUUID,
      now,
    )
  }

  /** Makes sure the alarm fires no later than `at` (null: leave it as it is). */
  private async wakeBy(at: number | null): Promise<void> {
    if (at === null) return
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm()
    if (this.alarmAt !== null && this.alarmAt <= at) return
    this.alarmAt = at
    await this.ctx.storage.setAlarm(at)
  }
}
