/**
 * One of a tenant's shard objects: the strongly consistent home of the tasks a hash of their
 * taskUUID sends here (shard-map.ts), their results and the images uploaded under UUIDs that
 * hash here. Requests run one at a time and each check and the write it decides are synchronous
 * SQL, so "is this taskUUID new?" and "was this result already recorded?" cannot interleave;
 * after a wait on the account, what a method writes is conditional on the row as it is then.
 * Budgets and in-flight slots, exact across shards, are the account's (tenant-account.ts), asked
 * only for tasks under a key's limits or a tenant budget. The shard schedules reconciliation (its
 * alarm hands due tasks to the reconcile queue), writes a finished task's KV record when it has
 * client deliveries, and keeps of a finished task only its lasting part (shard-rows.ts).
 */
import { DurableObject } from 'cloudflare:workers'
import type { ReconcileMessage } from '../schemas/reconcile'
import { finalStatus, type ResultDraft, type ResultRecord, type TaskRecord } from '../schemas/records'
import type { Footprint, HistoryQuery, Limits, OpenOutcome, RecordedResults, TaskState, UsageRow } from './contract'
import { RecordCache } from './record-cache'
import type { ImageFormat } from '../lib/image-type'
import * as rows from './shard-rows'
import type { ResultRow, TaskRow } from './shard-rows'
import { footprint, historyRows, indexHistory } from './shard-reports'
import { addUpload, findImages, forgetUpload } from './shard-images'
import { BudgetFlag } from './budget-flag'
import { ShardNames } from './shard-names'
import { Outbox } from './shard-outbox'
import { recheckMsOf, Upkeep } from './shard-upkeep'
import { addUsage, chargeOf, untoldRows, usageRows } from './spend'
import type { TenantAccount } from './tenant-account'
import { Waiters } from './waiters'

const hasLimits = (limits: Limits) => limits.budgetMicros !== undefined || limits.maxConcurrentTasks !== undefined

export class TaskShard extends DurableObject<Env> {
  private readonly sql: SqlStorage
  private readonly waiters = new Waiters()
  private readonly outbox: Outbox
  private readonly upkeep: Upkeep
  private readonly names: ShardNames
  private readonly budget: BudgetFlag

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    this.sql.exec(rows.SHARD_SCHEMA)
    rows.migrate(this.sql)
    indexHistory(this.sql)
    this.names = new ShardNames(this.sql)
    this.budget = new BudgetFlag(this.sql, () => this.account().tenantBudgeted())
    this.upkeep = new Upkeep(ctx, this.sql, env.RECONCILE as Queue<ReconcileMessage>, this.recheckMs)
    this.outbox = new Outbox(this.sql, new RecordCache(env.TASKS), () => this.account(), this.upkeep, this.recheckMs)
  }

  /**
   * Creates a task, or returns the one already under its taskUUID. A task under limits first
   * gets its reservation from the account object, or is refused, creating nothing.
   */
  async open(task: TaskRecord, perResultMicros: number, limits: Limits, dueAt: number): Promise<OpenOutcome> {
    this.names.claimTenant(task.tenant)
    // A tenant with a budget of its own counts every task; otherwise only those of keys with limits.
    // Asked first: it may wait on the account, and nothing may come between the check and the insert.
    const limited = hasLimits(limits) || (await this.budget.get())
    const existing = await this.state(task.taskUUID)
    if (existing) return { kind: 'existing', ...existing }
    if (limited) {
      const refused = await this.account().reserve(
        task.taskUUID,
        perResultMicros,
        task.children.length,
        limits,
        task.createdAt,
        task.tenant,
      )
      if (refused) return { kind: 'refused', refusal: refused }
      // The account's answer let other calls in: the same taskUUID may have been opened meanwhile.
      const raced = await this.state(task.taskUUID)
      if (raced) return { kind: 'existing', ...raced }
    }
    rows.insertTask(this.sql, task, dueAt, perResultMicros, limited, limits.keyId, (text) => this.names.id(text))
    await this.upkeep.wakeBy(dueAt)
    return { kind: 'created' }
  }

  /** Forgets a task Runware never took (and its reservation), so a re-send starts afresh. */
  async abandon(taskUUID: string, createdAt: number): Promise<boolean> {
    const row = this.row(taskUUID)
    if (!row || row.created_at !== createdAt || row.state !== rows.OPEN) return false
    // The reservation goes first: if the account cannot be told, the task stays, and its deadline
    // fails it unbilled, which frees the reservation the usual way.
    if (row.flags & rows.FLAG.limited && !(await this.outbox.release(taskUUID))) return true
    if (!this.sql.exec('DELETE FROM tasks WHERE id = ? AND state = ?', row.id, rows.OPEN).rowsWritten) return true
    this.sql.exec('DELETE FROM results WHERE task = ?', row.id)
    rows.dropDetail(this.sql, row.id)
    this.waiters.wake(taskUUID)
    return true
  }

  read(taskUUID: string): Promise<TaskState | null> {
    return this.state(taskUUID)
  }

  /** This shard's part of a page of the tenant's tasks, newest first (shard-reports.ts). */
  history(query: HistoryQuery): Promise<TaskState[]> {
    return Promise.all(historyRows(this.sql, query).map((row) => this.stateOf(row)))
  }

  /** The task once it is settled (every result recorded, or deleted, or gone), or as it stands after `timeoutMs`. */
  async awaitSettled(taskUUID: string, timeoutMs: number): Promise<TaskState | null> {
    const row = this.row(taskUUID)
    if (row?.state === rows.OPEN && this.resultRows(row.id).length < row.n) await this.waiters.wait(taskUUID, timeoutMs)
    return this.state(taskUUID)
  }

  /**
   * Records results, each once: the first report of a result wins and later ones change nothing.
   * The call that records a task's last result makes the task final. Under limits, the account
   * hears of each recorded result (idempotently: it settles an index once).
   */
  async recordResults(taskUUID: string, drafts: readonly ResultDraft[], now: number): Promise<RecordedResults | null> {
    const row = this.row(taskUUID)
    if (!row || row.state === rows.DELETED) return null
    const detail = rows.parseDetail(row)
    if (row.state !== rows.OPEN || !detail) {
      const results = this.results(row)
      return { task: await this.toRecord(row, results), results, claimed: [], final: null }
    }
    const model = this.names.text(row.model)
    const key = row.api_key === null ? '' : this.names.text(row.api_key)
    const claimed: ResultRecord[] = []
    for (const draft of drafts) {
      const child = detail.children[draft.index]
      if (!child) continue
      const c = rows.resultColumns(draft, child.seed)
      const inserted = this.sql.exec(
        'INSERT OR IGNORE INTO results (task, idx, image, image_as, seed, cost, nsfw, at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        row.id,
        draft.index,
        c.image,
        c.image_as,
        c.seed,
        c.cost,
        c.nsfw,
        c.at,
        c.error,
      ).rowsWritten
      if (!inserted) continue
      const record: ResultRecord = draft.ok ? { ...draft, seed: c.seed } : draft
      claimed.push(record)
      const untold = !(row.flags & rows.FLAG.limited)
      if (record.ok || record.billed) addUsage(this.sql, now, model, key, chargeOf(record, detail.perResult), record.ok ? 1 : 0, untold)
    }
    const results = this.results(row)
    const task = await this.toRecord(row, results)
    const complete = results.length >= row.n
    const owed = Boolean(row.flags & rows.FLAG.owed)
    if (complete) {
      // A task with client deliveries keeps its detail until the reconciler has verified them
      // (settled()); one that owes the account keeps it (its price) until it is told.
      const keep = Boolean(row.flags & rows.FLAG.deliveries) || owed
      const failed = finalStatus(results) === 'failed' ? rows.FLAG.failed : 0
      const dueAt = keep ? now + this.recheckMs() : null
      this.sql.exec('UPDATE tasks SET state = ?, due_at = ?, flags = flags | ? WHERE id = ?', rows.FINAL, dueAt, failed, row.id)
      if (!keep) rows.dropDetail(this.sql, row.id)
      this.waiters.wake(taskUUID)
    }
    const finishedAt = Math.max(...results.map((r) => r.at))
    const final: TaskRecord | null = complete ? { ...task, status: finalStatus(results), finishedAt, results } : null
    await Promise.all([
      final && row.flags & rows.FLAG.deliveries ? this.outbox.cache(row.id, final) : null,
      // Owed from an earlier call: every recorded result goes again (the account counts an index once).
      (claimed.length || owed) && row.flags & rows.FLAG.limited
        ? this.outbox.settle(row, detail.perResult, owed ? results : claimed, now)
        : null,
    ])
    return { task, results, claimed, final }
  }

  /**
   * Marks a deleted task: its results go, and the taskUUID stays taken until retention ends. Its
   * KV record goes last, after any write of it this object has under way, so it never comes back.
   */
  async remove(taskUUID: string): Promise<boolean> {
    const row = this.row(taskUUID)
    if (!row) return false
    const task = await this.toRecord(row)
    const detail = rows.parseDetail(row)
    // What the account is owed is told before the results that say it go.
    if (row.flags & rows.FLAG.owed && detail && !(await this.outbox.settle(row, detail.perResult, this.results(row), Date.now())))
      throw new Error('the account could not be told')
    this.sql.exec('UPDATE tasks SET state = ?, due_at = NULL WHERE id = ?', rows.DELETED, row.id)
    rows.dropDetail(this.sql, row.id)
    this.sql.exec('DELETE FROM results WHERE task = ?', row.id)
    this.waiters.wake(taskUUID)
    if (row.flags & rows.FLAG.deliveries) await this.outbox.uncache(task)
    return true
  }

  /**
   * The reconciler is done with a final task: its KV record is written (again, if the first write
   * failed), the account has heard of every result, and the task keeps only its lasting part.
   */
  async settled(taskUUID: string): Promise<boolean> {
    const row = this.row(taskUUID)
    if (!row) return false
    if (row.state === rows.OPEN) return true
    const detail = rows.parseDetail(row)
    if (row.state === rows.FINAL && detail) {
      const results = this.results(row)
      const task = await this.toRecord(row, results)
      if (row.flags & rows.FLAG.deliveries && !(row.flags & rows.FLAG.cached)) await this.outbox.cache(row.id, { ...task, results }, true)
      // Still owed: keep the detail (its price) and the due time; the next look tells the account again.
      if (row.flags & rows.FLAG.owed && !(await this.outbox.settle(row, detail.perResult, results, Date.now())))
        throw new Error('the account could not be told')
    }
    this.sql.exec('UPDATE tasks SET due_at = NULL WHERE id = ?', row.id)
    rows.dropDetail(this.sql, row.id)
    return true
  }

  /** Indexes an input image (an upload, or an inline reference) under its imageUUID. */
  addImage(imageUUID: string, objectKey: string, now: number): void {
    addUpload(this.sql, imageUUID, objectKey, now)
  }

  /** Forgets an uploaded image (mediaStorage delete); its R2 key, or null when this shard has no such upload. */
  forgetUpload(imageUUID: string): string | null {
    return forgetUpload(this.sql, imageUUID)
  }

  /** The R2 keys of this shard's images (uploads and results) among `imageUUIDs`. */
  findImages(imageUUIDs: readonly string[]): Record<string, string> {
    return findImages(this.sql, this.names.tenant, imageUUIDs)
  }

  /** Tasks due for reconciliation at `now`, oldest first (shard-upkeep.ts). */
  sweep(now: number): ReconcileMessage[] {
    return this.upkeep.sweep(now, this.names.tenant)
  }

  override async alarm(): Promise<void> {
    await this.upkeep.alarm(this.names.tenant)
  }

  /** What this shard holds (GET /admin/tenants/{tenant}/storage). */
  footprint(): Footprint {
    return footprint(this.sql, this.ctx.storage.sql.databaseSize)
  }

  usage(from: string, to: string): UsageRow[] {
    return usageRows(this.sql, from, to)
  }

  /** Spend since `from` of tasks the account never heard of: one key's, or (null) the tenant's. */
  untold(from: string, key: string | null): UsageRow[] {
    return untoldRows(this.sql, from, key)
  }

  /** Whether the tenant has a budget of its own, so every task reserves with the account (set by the admin API). */
  setBudgeted(on: boolean): void {
    this.budget.set(on)
  }

  private account(): DurableObjectStub<TenantAccount> {
    const ns = this.env.ACCOUNTS as DurableObjectNamespace<TenantAccount>
    return ns.get(ns.idFromName(this.names.tenant))
  }

  private recheckMs = () => recheckMsOf(this.env)

  private row(taskUUID: string): TaskRow | undefined {
    return this.sql.exec<TaskRow>(rows.TASK_ROW, rows.packUUID(taskUUID.toLowerCase())).toArray()[0]
  }

  private resultRows(id: number): ResultRow[] {
    return this.sql.exec<ResultRow>('SELECT * FROM results WHERE task = ? ORDER BY idx', id).toArray()
  }

  private results(row: TaskRow): ResultRecord[] {
    const taskUUID = rows.unpackUUID(row.uuid)
    return this.resultRows(row.id).map((r) => rows.resultRecord(this.names.tenant, taskUUID, row.format as ImageFormat, r))
  }

  private toRecord(row: TaskRow, results = this.results(row)): Promise<TaskRecord> {
    // Only a task that let go of its children needs their seeds back, from its results.
    const seeds: number[] = []
    if (!row.detail) for (const r of this.resultRows(row.id)) seeds[r.idx] = r.seed
    return rows.taskRecord(this.names.tenant, row, results, seeds, (id) => this.names.text(id))
  }

  private async state(taskUUID: string): Promise<TaskState | null> {
    const row = this.row(taskUUID)
    return row ? this.stateOf(row) : null
  }

  private async stateOf(row: TaskRow): Promise<TaskState> {
    const results = this.results(row)
    return { task: await this.toRecord(row, results), results }
  }
}
