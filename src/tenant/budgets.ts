/** Budgets, in-flight limits and usage in dollars: what the tenant's ledger object counts in micro-dollars. */
import { ApiError } from '../lib/errors'
import { findModel } from '../models/registry'
import type { Principal } from '../schemas/api-keys'
import type { TaskRecord } from '../schemas/records'
import type { Limits, Refusal, UsageRow } from './contract'
import { audit } from '../access/api-keys'

const toMicros = (usd: number) => Math.round(usd * 1_000_000)
const toUSD = (micros: number) => micros / 1_000_000
const dollars = (micros: number) => `$${toUSD(micros).toFixed(2)}`

/** A result's estimated cost, reserved against the budget until Runware reports the real one. */
export const priceMicros = (model: string) => toMicros(findModel(model)?.priceUSD ?? 0)

/** The key's limits, as its tenant's object checks them. */
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

/** One tenant's usage in dollars: the totals, and each day and model. */
export function usageReport(rows: readonly UsageRow[]) {
  return {
    images: rows.reduce((n, r) => n + r.images, 0),
    costUSD: toUSD(rows.reduce((n, r) => n + r.costMicros, 0)),
    days: rows.map(({ costMicros, ...r }) => ({ ...r, costUSD: toUSD(costMicros) })),
  }
}
