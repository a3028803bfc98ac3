/**
 * Task state, read from the task's shard object: one call, whatever the task's state, so a
 * poll costs one object call and never meets KV's staleness. The KV record a shard writes for a
 * finished task with client deliveries holds what the shard stops keeping (the webhook and upload
 * URLs): only the deliverer reads it.
 */
import * as keys from '../lib/storage-keys'
import type { TaskRecord } from '../schemas/records'
import type { HistoryQuery, TaskState } from '../tenant/contract'
import type { TenantClient } from '../tenant/tenant-client'

export class TaskStore {
  constructor(
    private readonly kv: KVNamespace,
    private readonly tenants: TenantClient,
  ) {}

  /** The task and its results, as its shard knows them now. */
  load(tenant: string, taskUUID: string): Promise<TaskState | null> {
    return this.tenants.read(tenant, taskUUID)
  }

  /** A page of the tenant's tasks, newest first. */
  history(tenant: string, query: HistoryQuery): Promise<{ tasks: TaskState[]; more: boolean }> {
    return this.tenants.history(tenant, query)
  }

  /**
   * The task with its client delivery URLs. The shard decides first: a deleted or unknown task is
   * so at once, however long KV takes to forget it, and most deliveries happen while the shard
   * still keeps the URLs. After that, the KV record of the finished task holds them; `later` when
   * KV does not show it here yet (a write takes up to 60 s to reach every location).
   */
  async loadWhole(tenant: string, taskUUID: string): Promise<TaskState | null | 'later'> {
    const state = await this.tenants.read(tenant, taskUUID)
    if (!state || state.task.deleted || state.task.positivePrompt !== undefined) return state
    const cached = await this.kv.get<TaskRecord>(keys.kvTaskKey(tenant, taskUUID), 'json')
    return cached?.results ? { task: cached, results: cached.results } : 'later'
  }

  /**
   * Deletes the task's state and its KV record, through its shard. It keeps a tombstone, so the
   * taskUUID cannot start a second generation.
   */
  delete(task: TaskRecord): Promise<void> {
    return this.tenants.remove(task)
  }
}
