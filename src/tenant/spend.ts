/**
 * A tenant's money in SQLite, in micro-dollars (integers), never floats. The account object
 * checks budgets (each key's, and the tenant's) against settled spend and open reservations;
 * each shard object counts the usage of its own tasks by day, key and model, and a usage query
 * sums the shards.
 */
import type { Budget, Limits, Refusal, UsageRow } from './contract'

export const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)

export const toMicros = (usd: number) => Math.round(usd * 1_000_000)
export const toUSD = (micros: number) => micros / 1_000_000

/** The first day of the period `now` is in. */
export const periodStart = (period: 'day' | 'month', now: number) => (period === 'day' ? day(now) : `${day(now).slice(0, 7)}-01`)

/** When the period `now` is in ends: the next UTC midnight, or the first of next month. */
export function periodEnd(period: 'day' | 'month', now: number): string {
  const d = new Date(now)
  const end =
    period === 'day'
      ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1)
      : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
  return new Date(end).toISOString()
}

/** An aggregate's one value (SUM of no rows is NULL: 0). */
function scalar(sql: SqlStorage, query: string, ...bindings: (string | number)[]): number {
  return sql.exec<{ v: number | null }>(query, ...bindings).one().v ?? 0
}

/** A key's own budget, as its limits carry it: a budget without a period is a month's. */
export function keyBudget(limits: Limits): Budget | null {
  const { budgetMicros, budgetPeriod = 'month', alerts } = limits
  return budgetMicros === undefined ? null : { budgetMicros, budgetPeriod, ...(alerts ? { alerts } : {}) }
}

/**
 * Spend since `since` (a day) and open reservations: one key's, or (key null) the whole tenant's.
 * Spend is what the account settled, and what the shards counted of tasks it never heard of,
 * as they last told it (a budget set after such spend counts it: tenant-client.ts).
 */
export function standing(sql: SqlStorage, key: string | null, since: string): { spentMicros: number; reservedMicros: number } {
  const byKey = key === null ? '' : ' AND api_key = ?'
  const keyed = key === null ? [] : [key]
  const spend = 'SELECT day, api_key, cost FROM key_spend UNION ALL SELECT day, api_key, cost FROM untold_spend'
  return {
    spentMicros: scalar(sql, `SELECT SUM(cost) AS v FROM (${spend}) WHERE day >= ?${byKey}`, since, ...keyed),
    reservedMicros: scalar(sql, `SELECT SUM(per_result * open) AS v FROM reservations WHERE 1 = 1${byKey}`, ...keyed),
  }
}

/**
 * Which limit a new task of `neededMicros` would break, if any (the account's tables): the key's
 * in-flight cap and budget count the key's own tasks; the tenant's budget counts every task.
 */
export function refusal(sql: SqlStorage, neededMicros: number, limits: Limits, tenantBudget: Budget | null, now: number): Refusal | null {
  const key = limits.keyId ?? ''
  if (
    // Stryker disable next-line ConditionalExpression: without this guard the count is compared with undefined, which is false (never checking is a curated mutant)
    limits.maxConcurrentTasks !== undefined &&
    scalar(sql, 'SELECT COUNT(*) AS v FROM reservations WHERE api_key = ?', key) >= limits.maxConcurrentTasks
  ) {
    return { reason: 'concurrency', limit: limits.maxConcurrentTasks }
  }
  const budgets: [Extract<Refusal, { reason: 'budget' }>['scope'], Budget | null][] = [
    ['key', keyBudget(limits)],
    ['tenant', tenantBudget],
  ]
  for (const [scope, budget] of budgets) {
    if (!budget) continue
    const { spentMicros, reservedMicros } = standing(sql, scope === 'key' ? key : null, periodStart(budget.budgetPeriod, now))
    if (spentMicros + reservedMicros + neededMicros <= budget.budgetMicros) continue
    const { budgetMicros, budgetPeriod } = budget
    return {
      reason: 'budget',
      scope,
      budgetMicros,
      budgetPeriod,
      spentMicros,
      reservedMicros,
      neededMicros,
      resetsAt: periodEnd(budgetPeriod, now),
    }
  }
  return null
}

/**
 * Counts `costMicros` (and `images`: a settled image is one, a possibly billed failure none) into
 * a shard's usage, under the key that asked; `untold` when the account never hears of it (a task
 * under no limits), so a budget set later can count it.
 */
export function addUsage(
  sql: SqlStorage,
  now: number,
  model: string,
  key: string,
  costMicros: number,
  images: number,
  untold: boolean,
): void {
  sql.exec(
    `INSERT INTO usage_by_key (day, api_key, model, images, cost, untold) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (day, api_key, model) DO UPDATE SET images = images + excluded.images, cost = cost + excluded.cost,
       untold = untold + excluded.untold`,
    day(now),
    key,
    model,
    images,
    costMicros,
    untold ? costMicros : 0,
  )
}

/** A shard's spend the account never heard of, since `from` (a day): one key's, or (key null) every key's. */
export function untoldRows(sql: SqlStorage, from: string, key: string | null): UsageRow[] {
  const byKey = key === null ? '' : ' AND api_key = ?'
  return sql
    .exec<{ day: string; api_key: string; model: string; untold: number }>(
      `SELECT day, api_key, model, untold FROM usage_by_key WHERE day >= ? AND untold > 0${byKey}`,
      from,
      ...(key === null ? [] : [key]),
    )
    .toArray()
    .map((r) => ({ day: r.day, model: r.model, key: r.api_key, images: 0, costMicros: r.untold }))
}

/** A shard's images and micro-dollars by day, key and model, days inclusive. */
export function usageRows(sql: SqlStorage, from: string, to: string): UsageRow[] {
  return sql
    .exec<{ day: string; api_key: string; model: string; images: number; cost: number }>(
      'SELECT day, api_key, model, images, cost FROM usage_by_key WHERE day >= ? AND day <= ? ORDER BY day, api_key, model',
      from,
      to,
    )
    .toArray()
    .map((r) => ({ day: r.day, model: r.model, key: r.api_key, images: r.images, costMicros: r.cost }))
}

/** Rows of several shards as one: the same day, key and model summed, in that order. */
export function sumUsage(shards: readonly UsageRow[][]): UsageRow[] {
  const sums = new Map<string, UsageRow>()
  for (const row of shards.flat()) {
    const id = `${row.day} ${row.key} ${row.model}`
    const sum = sums.get(id)
    if (sum) {
      sum.images += row.images
      sum.costMicros += row.costMicros
    } else sums.set(id, { ...row })
  }
  return [...sums.values()].sort((a, b) => a.day.localeCompare(b.day) || a.key.localeCompare(b.key) || a.model.localeCompare(b.model))
}

/** The micro-dollars a recorded result costs: Runware's reported cost, else the reserved estimate; an unbilled failure nothing. */
export function chargeOf(result: { ok: boolean; cost?: number; billed?: true }, perResult: number): number {
  if (result.ok) return result.cost !== undefined ? toMicros(result.cost) : perResult
  return result.billed ? perResult : 0
}
