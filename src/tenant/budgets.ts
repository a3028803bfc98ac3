/** Budgets, in-flight limits, usage and storage in dollars and bytes: what a tenant's objects count in micro-dollars. */
import { ApiError } from '../lib/errors'
import { findModel } from '../models/registry'
import type { Principal } from '../schemas/api-keys'
import type { TaskRecord } from '../schemas/records'
import type { Footprint, Limits, Refusal, UsageRow } from './contract'
import { audit } from '../access/api-keys'

const toMicros = (usd: number) => Math.round(usd * 1_000_000)
const toUSD = (micros: number) => micros / 1_000_000
const dollars = (micros: number) => `$${toUSD(micros).toFixed(2)}`

/** A result's estimated cost, reserved against the budget until Runware reports the real one. */
export const priceMicros = (model: string) => toMicros(findModel(model)?.priceUSD ?? 0)

/** The key's limits, as its tenant's account checks them. */
export function limitsOf(principal: Principal): Limits {
  const { budgetUSD, budgetPeriod, maxConcurrentTasks } = principal.limits
  return {
    ...(budgetUSD !== undefined ? { budgetMicros: toMicros(budgetUSD), budgetPeriod: budgetPeriod ?? 'month' } : {}),
    ...(maxConcurrentTasks !== undefined ? { maxConcurrentTasks } : {}),
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
  const { budgetUSD, budgetPeriod } = principal.limits
  const left = Math.max(0, refusal.budgetMicros - refusal.spentMicros - refusal.reservedMicros)
  audit('budget.reject', {
    tenant: task.tenant,
    keyId: principal.keyId,
    taskUUID: task.taskUUID,
    budgetUSD,
    leftUSD: toUSD(left),
    neededUSD: toUSD(refusal.neededMicros),
  })
  return new ApiError(402, {
    code: 'insufficientCredits',
    message: `This API key's ${budgetPeriod ?? 'month'}ly budget of ${dollars(refusal.budgetMicros)} has ${dollars(left)} left; this task needs ${dollars(refusal.neededMicros)}`,
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

/** One tenant's usage in dollars: the totals, and each day and model. */
export function usageReport(rows: readonly UsageRow[]) {
  return {
    images: rows.reduce((n, r) => n + r.images, 0),
    costUSD: toUSD(rows.reduce((n, r) => n + r.costMicros, 0)),
    days: rows.map(({ costMicros, ...r }) => ({ ...r, costUSD: toUSD(costMicros) })),
  }
}
