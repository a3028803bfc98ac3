/**
 * A tenant's money, in its ledger object's SQLite: the budget check against settled spend and
 * open reservations, and usage by day and model. Micro-dollars (integers), never floats.
 */
import type { Limits, Refusal, UsageRow } from './contract'

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)

function scalar(sql: SqlStorage, query: string, ...bindings: (string | number)[]): number {
  const row = sql.exec<{ v: number | null }>(query, ...bindings).toArray()[0]
  return row?.v ?? 0
}

/** Which limit a new task of `neededMicros` would break, if any. */
export function refusal(sql: SqlStorage, neededMicros: number, limits: Limits, now: number): Refusal | null {
  if (limits.maxConcurrentTasks !== undefined && scalar(sql, 'SELECT COUNT(*) AS v FROM reservations') >= limits.maxConcurrentTasks) {
    return { reason: 'concurrency', limit: limits.maxConcurrentTasks }
  }
  if (limits.budgetMicros === undefined) return null
  const since = limits.budgetPeriod === 'day' ? day(now) : `${day(now).slice(0, 7)}-01`
  const spentMicros = scalar(sql, 'SELECT SUM(cost) AS v FROM usage WHERE day >= ?', since)
  const reservedMicros = scalar(sql, 'SELECT SUM(per_result * open) AS v FROM reservations')
  if (spentMicros + reservedMicros + neededMicros <= limits.budgetMicros) return null
  return { reason: 'budget', budgetMicros: limits.budgetMicros, spentMicros, reservedMicros, neededMicros }
}

/** Counts `costMicros` (and `images`: a settled image is one, a possibly billed failure none) into the day's usage. */
export function addUsage(sql: SqlStorage, now: number, model: string, costMicros: number, images = 1): void {
  sql.exec(
    `INSERT INTO usage (day, model, images, cost) VALUES (?, ?, ?, ?)
     ON CONFLICT (day, model) DO UPDATE SET images = images + excluded.images, cost = cost + excluded.cost`,
    day(now),
    model,
    images,
    costMicros,
  )
}

/** Images and micro-dollars by day and model, days inclusive. */
export function usageRows(sql: SqlStorage, from: string, to: string): UsageRow[] {
  return sql
    .exec<{ day: string; model: string; images: number; cost: number }>(
      'SELECT day, model, images, cost FROM usage WHERE day >= ? AND day <= ? ORDER BY day, model',
      from,
      to,
    )
    .toArray()
    .map((r) => ({ day: r.day, model: r.model, images: r.images, costMicros: r.cost }))
}
