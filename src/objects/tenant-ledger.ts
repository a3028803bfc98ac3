/**
 * One Durable Object per tenant: the single, strongly consistent place where its budget and
 * in-flight tasks are counted. Requests to one object run one at a time, so "check the budget,
 * then reserve" cannot interleave — which KV, eventually consistent and without conditional
 * writes, could never promise. Money is kept in micro-dollars (integers), never floats.
 */
import { DurableObject } from 'cloudflare:workers'

export interface ReserveInput {
  taskUUID: string
  results: number
  perResultMicros: number
  budgetMicros?: number
  budgetPeriod?: 'day' | 'month'
  maxConcurrentTasks?: number
  now: number
}

export type ReserveOutcome =
  | { ok: true }
  | { ok: false; reason: 'budget'; budgetMicros: number; spentMicros: number; reservedMicros: number; neededMicros: number }
  | { ok: false; reason: 'concurrency'; limit: number }

export interface UsageRow {
  day: string
  model: string
  images: number
  costMicros: number
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)

export class TenantLedger extends DurableObject<Env> {
  private readonly sql: SqlStorage

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS reservations (task TEXT PRIMARY KEY, per_result INTEGER NOT NULL, open INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS closed (task TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (task, idx));
      CREATE TABLE IF NOT EXISTS usage (day TEXT NOT NULL, model TEXT NOT NULL, images INTEGER NOT NULL, cost INTEGER NOT NULL, PRIMARY KEY (day, model));
    `)
  }

  private scalar(query: string, ...bindings: (string | number)[]): number {
    const row = this.sql.exec<{ v: number | null }>(query, ...bindings).toArray()[0]
    return row?.v ?? 0
  }

  /** Reserves a task's estimated cost and an in-flight slot, or says which limit it would break. */
  reserve(input: ReserveInput): ReserveOutcome {
    if (this.scalar('SELECT COUNT(*) AS v FROM reservations WHERE task = ?', input.taskUUID)) return { ok: true }
    if (input.maxConcurrentTasks !== undefined && this.scalar('SELECT COUNT(*) AS v FROM reservations') >= input.maxConcurrentTasks) {
      return { ok: false, reason: 'concurrency', limit: input.maxConcurrentTasks }
    }
    const neededMicros = input.results * input.perResultMicros
    if (input.budgetMicros !== undefined) {
      const since = input.budgetPeriod === 'day' ? day(input.now) : `${day(input.now).slice(0, 7)}-01`
      const spentMicros = this.scalar('SELECT SUM(cost) AS v FROM usage WHERE day >= ?', since)
      const reservedMicros = this.scalar('SELECT SUM(per_result * open) AS v FROM reservations')
      if (spentMicros + reservedMicros + neededMicros > input.budgetMicros) {
        return { ok: false, reason: 'budget', budgetMicros: input.budgetMicros, spentMicros, reservedMicros, neededMicros }
      }
    }
    this.sql.exec(
      'INSERT INTO reservations (task, per_result, open) VALUES (?, ?, ?)',
      input.taskUUID,
      input.perResultMicros,
      input.results,
    )
    return { ok: true }
  }

  /**
   * Closes results, each once: a cost settles it (usage grows by the real cost), null releases
   * it (a failed result costs nothing). Either way its share of the reservation is freed.
   */
  settle(taskUUID: string, model: string, now: number, results: { index: number; costMicros: number | null }[]): void {
    for (const { index, costMicros } of results) {
      if (!this.close(taskUUID, index) || costMicros === null) continue
      this.sql.exec(
        `INSERT INTO usage (day, model, images, cost) VALUES (?, ?, 1, ?)
         ON CONFLICT (day, model) DO UPDATE SET images = images + 1, cost = cost + excluded.cost`,
        day(now),
        model,
        costMicros,
      )
    }
  }

  /** Ends a task's reservation, whatever is left of it: it is final, or it never started. */
  finish(taskUUID: string): void {
    this.sql.exec('DELETE FROM reservations WHERE task = ?', taskUUID)
    this.sql.exec('DELETE FROM closed WHERE task = ?', taskUUID)
  }

  usage(from: string, to: string): UsageRow[] {
    return this.sql
      .exec<{ day: string; model: string; images: number; cost: number }>(
        'SELECT day, model, images, cost FROM usage WHERE day >= ? AND day <= ? ORDER BY day, model',
        from,
        to,
      )
      .toArray()
      .map((r) => ({ day: r.day, model: r.model, images: r.images, costMicros: r.cost }))
  }

  /** Marks result `index` closed; false when it already was. */
  private close(taskUUID: string, index: number): boolean {
    const inserted = this.sql.exec('INSERT OR IGNORE INTO closed (task, idx) VALUES (?, ?)', taskUUID, index).rowsWritten > 0
    if (!inserted) return false
    this.sql.exec('UPDATE reservations SET open = open - 1 WHERE task = ? AND open > 0', taskUUID)
    this.sql.exec('DELETE FROM reservations WHERE task = ? AND open = 0', taskUUID)
    return true
  }
}
