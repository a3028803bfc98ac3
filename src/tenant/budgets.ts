/** Budgets, in-flight limits, usage and storage in dollars and bytes: what a tenant's objects count in micro-dollars. */
import { ApiError } from '../lib/errors'
import { findModel } from '../models/registry'
import type { Principal } from '../schemas/api-keys'
import type { TaskRecord } from '../schemas/records'
import type { Alerts, Budget, BudgetStatus, Footprint, Limits, Refusal, UsageRow } from './contract'
import { sumUsage, toMicros, toUSD } from './spend'
import { audit } from '../access/api-keys'

const dollars = (micros: number) => `$${toUSD(micros).toFixed(2)}`

/** A result's estimated cost, reserved against the budget until Runware reports the real one. */
export const priceMicros = (model: string) => toMicros(findModel(model)?.priceUSD ?? 0)

/** The key and its limits, as its tenant's account checks them. */
export function limitsOf(principal: Principal): Limits {
  const { budgetUSD, budgetPeriod, maxConcurrentTasks, alerts } = principal.limits
  return {
    ...(principal.keyId ? { keyId: principal.keyId } : {}),
    ...(budgetUSD !== undefined ? { budgetMicros: toMicros(budgetUSD), budgetPeriod: budgetPeriod ?? 'month' } : {}),
    ...(maxConcurrentTasks !== undefined ? { maxConcurrentTasks } : {}),
    ...(alerts && budgetUSD !== undefined ? { alerts } : {}),
  }
}

/** A tenant budget as the admin API takes it, in micro-dollars. */
export function budgetOf(input: { budgetUSD: number; budgetPeriod: 'day' | 'month'; alerts?: Alerts | undefined }): Budget {
  return { budgetMicros: toMicros(input.budgetUSD), budgetPeriod: input.budgetPeriod, ...(input.alerts ? { alerts: input.alerts } : {}) }
}

/** A budget's standing in dollars, for the usage API and page. */
export function budgetReport(status: BudgetStatus) {
  const { budgetMicros, spentMicros, reservedMicros, ...rest } = status
  return {
    ...rest,
    budgetUSD: toUSD(budgetMicros),
    spentUSD: toUSD(spentMicros),
    reservedUSD: toUSD(reservedMicros),
    used: spentMicros / budgetMicros,
  }
}

/** The client's error for a task its key's limits refused: 429 for concurrency, 402 for budget. */
export function refusalError(principal: Principal, task: TaskRecord, refusal: Refusal): ApiError {
  const tag = { taskType: 'imageInference', taskUUID: task.taskUUID }
  if (refusal.reason === 'concurrency') {
    return new ApiError(
      429,
      {
        code: 'tooManyConcurrentTasks',
        message: `This API key may have ${refusal.limit} tasks in flight; retry when one finishes`,
        ...tag,
      },
      { 'retry-after': '5' },
    )
  }
  const left = Math.max(0, refusal.budgetMicros - refusal.spentMicros - refusal.reservedMicros)
  audit('budget.reject', {
    tenant: task.tenant,
    keyId: principal.keyId,
    taskUUID: task.taskUUID,
    budget: refusal.scope,
    budgetUSD: toUSD(refusal.budgetMicros),
    leftUSD: toUSD(left),
    neededUSD: toUSD(refusal.neededMicros),
  })
  const whose = refusal.scope === 'key' ? "This API key's" : "This key's tenant's"
  const period = refusal.budgetPeriod === 'day' ? 'daily' : 'monthly'
  return new ApiError(402, {
    code: 'insufficientCredits',
    message: `${whose} ${period} budget of ${dollars(refusal.budgetMicros)} has ${dollars(left)} left; this task needs ${dollars(refusal.neededMicros)}. It resets at ${refusal.resetsAt}`,
    budget: refusal.scope,
    resetsAt: refusal.resetsAt,
    ...tag,
  })
}

/** Cloudflare's cap on one SQLite-backed Durable Object. */
const OBJECT_CAP_BYTES = 10 * 1024 ** 3

/**
 * How full a tenant's shards are: each one's bytes, tasks and images, the fullest one's bytes per
 * image, and how many images the tenant could retain before that shard reaches the cap.
 */
export function storageReport(tenant: string, shards: readonly (Footprint & { shard: number })[]) {
  const fullest = shards.reduce<(Footprint & { shard: number }) | undefined>((a, b) => (a && a.bytes >= b.bytes ? a : b), undefined)
  const images = shards.reduce((n, s) => n + s.images, 0)
  const bytesPerImage = fullest?.images ? fullest.bytes / fullest.images : null
  return {
    tenant,
    shards,
    images,
    fullestShard: fullest?.shard ?? null,
    bytesPerImage: bytesPerImage === null ? null : Math.round(bytesPerImage),
    // The fullest shard fills first; the others, at the same rate per image, hold their share.
    retainableImages: bytesPerImage === null ? null : Math.floor((OBJECT_CAP_BYTES / bytesPerImage) * (images / (fullest?.images || 1))),
  }
}

/** A key as usage names it: by id and name, never by secret. Bootstrap keys' usage has keyId null. */
export interface KeyName {
  id: string
  name: string
}

/**
 * One tenant's usage in dollars: the totals, each day and model, and, with `groupBy`, the sums
 * per key, model and/or day (in that order of the groups given).
 */
export function usageReport(rows: readonly UsageRow[], groupBy: readonly ('key' | 'model' | 'day')[] = [], keys: readonly KeyName[] = []) {
  const names = new Map(keys.map((k) => [k.id, k.name]))
  const groups = new Map<string, { fields: Record<string, unknown>; images: number; costMicros: number }>()
  for (const row of groupBy.length ? rows : []) {
    const fields: Record<string, unknown> = {}
    for (const g of groupBy) {
      if (g === 'key') Object.assign(fields, { keyId: row.key || null, name: row.key ? (names.get(row.key) ?? null) : 'bootstrap key' })
      else fields[g] = row[g]
    }
    const id = JSON.stringify(fields)
    const group = groups.get(id) ?? { fields, images: 0, costMicros: 0 }
    group.images += row.images
    group.costMicros += row.costMicros
    groups.set(id, group)
  }
  return {
    images: rows.reduce((n, r) => n + r.images, 0),
    costUSD: toUSD(rows.reduce((n, r) => n + r.costMicros, 0)),
    // Every key's rows as one per day and model: what `days` has always shown.
    days: sumUsage([rows.map((r) => ({ ...r, key: '' }))]).map(({ costMicros, key: _, ...r }) => ({ ...r, costUSD: toUSD(costMicros) })),
    ...(groupBy.length
      ? { groupBy, groups: [...groups.values()].map((g) => ({ ...g.fields, images: g.images, costUSD: toUSD(g.costMicros) })) }
      : {}),
  }
}
