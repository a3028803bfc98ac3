/** Budgets, in-flight limits and usage, kept by each tenant's TenantLedger Durable Object. */
import { ApiError } from '../lib/errors'
import { findModel } from '../models/registry'
import type { Principal } from '../schemas/api-keys'
import type { ResultRecord, TaskRecord } from '../schemas/records'
import type { TenantLedger, UsageRow } from '../objects/tenant-ledger'
import { audit } from './api-keys'

const toMicros = (usd: number) => Math.round(usd * 1_000_000)
const toUSD = (micros: number) => micros / 1_000_000
const dollars = (micros: number) => `$${toUSD(micros).toFixed(2)}`

export class Ledger {
  constructor(private readonly namespace: DurableObjectNamespace<TenantLedger>) {}

  private stub(tenant: string): DurableObjectStub<TenantLedger> {
    return this.namespace.get(this.namespace.idFromName(tenant))
  }

  /**
   * Reserves the task's estimated cost (price × results) against the key's budget, and a slot
   * against its in-flight limit, before anything is sent upstream. Throws 402 or 429.
   */
  async reserve(principal: Principal, task: TaskRecord, now = Date.now()): Promise<void> {
    const { budgetUSD, budgetPeriod, maxConcurrentTasks } = principal.limits
    if (budgetUSD === undefined && maxConcurrentTasks === undefined) return
    const price = findModel(task.model)?.priceUSD ?? 0
    const outcome = await this.stub(task.tenant).reserve({
      taskUUID: task.taskUUID,
      results: task.children.length,
      perResultMicros: toMicros(price),
      ...(budgetUSD !== undefined ? { budgetMicros: toMicros(budgetUSD), budgetPeriod: budgetPeriod ?? 'month' } : {}),
      ...(maxConcurrentTasks !== undefined ? { maxConcurrentTasks } : {}),
      now,
    })
    if (outcome.ok) return
    const tag = { taskType: 'imageInference', taskUUID: task.taskUUID }
    if (outcome.reason === 'concurrency') {
      throw new ApiError(
        429,
        {
          code: 'tooManyConcurrentTasks',
          message: `This API key may have ${outcome.limit} tasks in flight; retry when one finishes`,
          ...tag,
        },
        { 'retry-after': '5' },
      )
    }
    const left = Math.max(0, outcome.budgetMicros - outcome.spentMicros - outcome.reservedMicros)
    audit('budget.reject', {
      tenant: task.tenant,
      keyId: principal.keyId,
      taskUUID: task.taskUUID,
      budgetUSD,
      leftUSD: toUSD(left),
      neededUSD: toUSD(outcome.neededMicros),
    })
    throw new ApiError(402, {
      code: 'insufficientCredits',
      message: `This API key's ${budgetPeriod ?? 'month'}ly budget of ${dollars(outcome.budgetMicros)} has ${dollars(left)} left; this task needs ${dollars(outcome.neededMicros)}`,
      ...tag,
    })
  }

  /** Settles recorded results at Runware's reported cost, and releases failed ones: one call. */
  async close(task: TaskRecord, results: readonly ResultRecord[], now = Date.now()): Promise<void> {
    if (!results.length) return
    const price = findModel(task.model)?.priceUSD ?? 0
    await this.stub(task.tenant).settle(
      task.taskUUID,
      task.model,
      now,
      results.map((r) => ({ index: r.index, costMicros: r.ok ? toMicros(r.cost ?? price) : null })),
    )
  }

  finish(task: TaskRecord): Promise<void> {
    return this.stub(task.tenant).finish(task.taskUUID)
  }

  /** Images and settled cost by day and model, days as YYYY-MM-DD (inclusive). */
  async usage(
    tenant: string,
    from: string,
    to: string,
  ): Promise<{ rows: (Omit<UsageRow, 'costMicros'> & { costUSD: number })[]; images: number; costUSD: number }> {
    const rows = await this.stub(tenant).usage(from, to)
    return {
      rows: rows.map(({ costMicros, ...r }) => ({ ...r, costUSD: toUSD(costMicros) })),
      images: rows.reduce((n, r) => n + r.images, 0),
      costUSD: toUSD(rows.reduce((n, r) => n + r.costMicros, 0)),
    }
  }
}
