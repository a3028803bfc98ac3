/**
 * The one way the Worker reaches a tenant's objects: its shards (task-shard.ts), chosen by the
 * shard map, and its account (tenant-account.ts). Every call goes through here, so the contract
 * (./contract) has one caller to change with it. A task is looked for in the shard today's count
 * picks first; only in the 30 days after a tenant grew may an older count's shard be asked too.
 */
import type { ResultDraft, TaskRecord } from '../schemas/records'
import type { UpdateKey } from '../schemas/api-keys'
import type {
  Budget,
  BudgetStatus,
  Footprint,
  HistoryQuery,
  KeyTransition,
  Limits,
  OpenOutcome,
  RecordedResults,
  TaskState,
  UsageRow,
} from './contract'
import type { ShardMap } from './shard-map'
import { periodStart, sumUsage } from './spend'
import type { TaskShard } from './task-shard'
import type { TenantAccount } from './tenant-account'

/** How far apart two Workers' clocks may be, for the instant a tenant's shard count grows. */
const CLOCK_SKEW_MS = 60_000

export class TenantClient {
  constructor(
    private readonly shardObjects: DurableObjectNamespace<TaskShard>,
    private readonly accounts: DurableObjectNamespace<TenantAccount>,
    private readonly map: ShardMap,
  ) {}

  private shard(tenant: string, index: number): DurableObjectStub<TaskShard> {
    return this.shardObjects.get(this.shardObjects.idFromName(`${tenant}/${index}`))
  }

  /** The first answer that is not null, asking the shards where `uuid` may live in turn. */
  private async first<T>(tenant: string, uuid: string, ask: (shard: DurableObjectStub<TaskShard>) => Promise<T | null>): Promise<T | null> {
    for (const index of this.map.shards(tenant, uuid, Date.now())) {
      const found = await ask(this.shard(tenant, index))
      if (found !== null) return found
    }
    return null
  }

  /** Creates the task with its reservation, or returns the task already under its taskUUID, or the refusal. */
  async open(task: TaskRecord, perResultMicros: number, limits: Limits, dueAt: number): Promise<OpenOutcome> {
    const homeIndex = this.map.shard(task.tenant, task.taskUUID, task.createdAt)
    // A minute's margin: a Worker whose clock lags a growth's instant still looks where a faster one creates.
    const others = this.map.shards(task.tenant, task.taskUUID, task.createdAt + CLOCK_SKEW_MS).filter((i) => i !== homeIndex)
    for (const index of others) {
      // Other counts' shards take no new tasks of this moment, so what is not there now never will be.
      const existing = await this.shard(task.tenant, index).read(task.taskUUID)
      if (existing) return { kind: 'existing', ...existing }
    }
    return this.shard(task.tenant, homeIndex).open(task, perResultMicros, limits, dueAt)
  }

  /** Forgets a task Runware never took, so a re-send starts it afresh. */
  async abandon(task: TaskRecord): Promise<void> {
    await this.first(task.tenant, task.taskUUID, async (shard) => (await shard.abandon(task.taskUUID, task.createdAt)) || null)
  }

  /** The task's state in its shard, never a cached copy. */
  read(tenant: string, taskUUID: string): Promise<TaskState | null> {
    return this.first(tenant, taskUUID, (shard) => shard.read(taskUUID))
  }

  /** The task once every result is recorded (or it is deleted), or as it stands after `timeoutMs`. */
  awaitSettled(tenant: string, taskUUID: string, timeoutMs: number): Promise<TaskState | null> {
    return this.first(tenant, taskUUID, (shard) => shard.awaitSettled(taskUUID, timeoutMs))
  }

  /**
   * A page of the tenant's tasks, newest first: every shard's first `limit + 1` after the cursor,
   * merged in the shards' own order. `more` when a task is left behind the page.
   */
  async history(tenant: string, query: HistoryQuery): Promise<{ tasks: TaskState[]; more: boolean }> {
    const asked = { ...query, limit: query.limit + 1 }
    const pages = await Promise.all(this.map.allShards(tenant).map((index) => this.shard(tenant, index).history(asked)))
    const merged = pages.flat().sort(({ task: a }, { task: b }) => b.createdAt - a.createdAt || (a.taskUUID < b.taskUUID ? 1 : -1))
    return { tasks: merged.slice(0, query.limit), more: merged.length > query.limit }
  }

  /** Records results, each once; null when the task is unknown or deleted. */
  recordResults(tenant: string, taskUUID: string, drafts: readonly ResultDraft[], now = Date.now()): Promise<RecordedResults | null> {
    return this.first(tenant, taskUUID, (shard) => shard.recordResults(taskUUID, drafts, now))
  }

  /** Marks the task deleted (a tombstone keeps its taskUUID taken) and deletes its KV record. */
  async remove(task: TaskRecord): Promise<void> {
    await this.first(task.tenant, task.taskUUID, async (shard) => (await shard.remove(task.taskUUID)) || null)
  }

  /** The reconciler is done with a final task. */
  async settled(task: TaskRecord): Promise<void> {
    await this.first(task.tenant, task.taskUUID, async (shard) => (await shard.settled(task.taskUUID)) || null)
  }

  /** Indexes an input image under its imageUUID, in the shard its UUID picks. */
  addImage(tenant: string, imageUUID: string, objectKey: string, now: number): Promise<void> {
    return this.shard(tenant, this.map.shard(tenant, imageUUID, now)).addImage(imageUUID, objectKey, now)
  }

  /** Forgets an uploaded image; its R2 key, or null when the tenant has no such upload. */
  forgetUpload(tenant: string, imageUUID: string): Promise<string | null> {
    return this.first(tenant, imageUUID, (shard) => shard.forgetUpload(imageUUID))
  }

  /**
   * The R2 keys of the tenant's images among `imageUUIDs`. A generated image is indexed in its
   * task's shard, not its own UUID's, so every shard is asked, at once: image-to-image requests
   * are rare, and a second index row in another object on every result would cost far more.
   */
  async findImages(tenant: string, imageUUIDs: readonly string[]): Promise<Record<string, string>> {
    const found = await Promise.all(this.map.allShards(tenant).map((index) => this.shard(tenant, index).findImages(imageUUIDs)))
    return Object.assign({}, ...found) as Record<string, string>
  }

  /**
   * Disables, rotates or updates a key of the tenant's, one transition of a key at a time. An
   * update that sets or changes the key's budget brings the account the key's spend in its period
   * so far that it never heard of (its tasks under no limits), so the budget counts it.
   */
  async keyTransition(
    tenant: string,
    id: string,
    operation: 'disable' | 'rotate' | 'update',
    patch: UpdateKey = {},
  ): Promise<KeyTransition> {
    const done = await this.account(tenant).keyTransition(id, operation, patch)
    const budgetChanged = patch.budgetUSD !== undefined || patch.budgetPeriod !== undefined
    if (operation === 'update' && budgetChanged && done.record?.budgetUSD !== undefined)
      await this.account(tenant).countUntold(await this.untold(tenant, id, done.record.budgetPeriod ?? 'month'))
    return done
  }

  /**
   * Sets or removes the tenant's own budget. The account takes it first, with the period's spend
   * so far that it never heard of; then every shard the tenant has or is planned to have learns
   * to send all of its tasks to the account (or only those under a key's limits again); then the
   * account hears of the spend recorded meanwhile. A shard no one told asks the account.
   */
  async setTenantBudget(tenant: string, budget: Budget | null): Promise<void> {
    const account = this.account(tenant)
    const flag = (on: boolean) =>
      Promise.all(this.map.allShards(tenant, Infinity).map((index) => this.shard(tenant, index).setBudgeted(on)))
    if (!budget) {
      await account.setTenantBudget(null, tenant)
      await flag(false)
      return
    }
    await account.setTenantBudget(budget, tenant, await this.untold(tenant, null, budget.budgetPeriod))
    await flag(true)
    await account.countUntold(await this.untold(tenant, null, budget.budgetPeriod))
  }

  /** What every shard counted since the period began of tasks the account never heard of: one key's, or every key's. */
  private async untold(tenant: string, key: string | null, period: 'day' | 'month'): Promise<UsageRow[]> {
    const from = periodStart(period, Date.now())
    return (await Promise.all(this.map.allShards(tenant).map((index) => this.shard(tenant, index).untold(from, key)))).flat()
  }

  /** Where the tenant's budget and each budgeted key's stand in their current periods. */
  budgets(tenant: string, now = Date.now()): Promise<BudgetStatus[]> {
    return this.account(tenant).budgets(now)
  }

  private account(tenant: string): DurableObjectStub<TenantAccount> {
    return this.accounts.get(this.accounts.idFromName(tenant))
  }

  /** What each of the tenant's shards holds, by shard index. */
  async footprint(tenant: string): Promise<(Footprint & { shard: number })[]> {
    const shards = this.map.allShards(tenant)
    const found = await Promise.all(shards.map((index) => this.shard(tenant, index).footprint()))
    return found.map((f, i) => ({ shard: shards[i] ?? i, ...f }))
  }

  /** Images and micro-dollars by day and model, days inclusive: every shard's, summed. */
  async usage(tenant: string, from: string, to: string): Promise<UsageRow[]> {
    return sumUsage(await Promise.all(this.map.allShards(tenant).map((index) => this.shard(tenant, index).usage(from, to))))
  }
}
