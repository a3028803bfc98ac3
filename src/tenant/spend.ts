/**
 * A tenant's money in SQLite, in micro-dollars (integers), never floats. The account object
 * checks budgets against settled spend and open reservations; each shard object counts the
 * usage of its own tasks by day and model, and a usage query sums the shards.
 */
import type { Limits, Refusal, UsageRow } from './contract'

export const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)

function scalar(sql: SqlStorage, query: string, ...bindings: (string | number)[]): number {
  const row = sql.exec<{ v: number | null }>(query, ...bindings).toArray()[0]
  return row?.v ?? 0
}

/** Which limit a new task of `neededMicros` would break, if any (the account's tables). */
export function refusal(sql: SqlStorage, neededMicros: number, limits: Limits, now: number): Refusal | null {
  if (limits.maxConcurrentTasks !== undefined && scalar(sql, 'SELECT COUNT(*) AS v FROM reservations') >= limits.maxConcurrentTasks) {
    return { reason: 'concurrency', limit: limits.maxConcurrentTasks }
  }
  if (limits.budgetMicros === undefined) return null
  const since = limits.budgetPeriod === 'day' ? day(now) : `${day(now).slice(0, 7)}-01`
  const spentMicros = scalar(sql, 'SELECT SUM(cost) AS v FROM spend WHERE day >= ?', since)
  const reservedMicros = scalar(sql, 'SELECT SUM(per_result * open) AS v FROM reservations')
  if (spentMicros + reservedMicros + neededMicros <= limits.budgetMicros) return null
  return { reason: 'budget', budgetMicros: limits.budgetMicros, spentMicros, reservedMicros, neededMicros }
}

/** Counts `costMicros` (and `images`: a settled image is one, a possibly billed failure none) into a shard's usage. */
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

/** A shard's images and micro-dollars by day and model, days inclusive. */
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

/** Rows of several shards as one: the same day and model summed, in day and model order. */
export function sumUsage(shards: readonly UsageRow[][]): UsageRow[] {
  const sums = new Map<string, UsageRow>()
  for (const row of shards.flat()) {
    const key = `${row.day} ${row.model}`
    const sum = sums.get(key)
    if (sum) {
      sum.images += row.images
      sum.costMicros += row.costMicros
    } else sums.set(key, { ...row })
  }
  return [...sums.values()].sort((a, b) => a.day.localeCompare(b.day) || a.model.localeCompare(b.model))
}

/** The micro-dollars a recorded result costs: Runware's reported cost, else the reserved estimate; an unbilled failure nothing. */
export function chargeOf(result: { ok: boolean; cost?: number; billed?: true }, perResult: number): number {
  if (result.ok) return result.cost !== undefined ? Math.round(result.cost * 1e6) : perResult
  return result.billed ? perResult : 0
}
