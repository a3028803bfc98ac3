/**
 * Task state, read from the task's shard object: one call, whatever the task's state, so a
 * poll costs one object call and never meets KV's staleness. The KV record a shard writes for a
 * finished task with client deliveries holds what the shard stops keeping (the webhook and upload
 * URLs): only the deliverer reads it.
 */
import * as keys from '../lib/storage-keys'
import type { TaskRecord } from '../schemas/records'
import type { TaskState } from '../tenant/contract'
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

  /**
   * The task with its client delivery URLs: the KV record of a finished task (its shard keeps the
   * URLs only until its deliveries are verified), else the shard's state; `later` when the shard
   * has let go of the URLs and KV does not show the record here yet (it takes up to 60 s).
   */
  async loadWhole(tenant: string, taskUUID: string): Promise<TaskState | null | 'later'> {
    const cached = await this.kv.get<TaskRecord>(keys.kvTaskKey(tenant, taskUUID), 'json')
    if (cached?.results) return { task: cached, results: cached.results }
    const state = await this.tenants.read(tenant, taskUUID)
    // Kept only in part, while its KV record is not yet visible here: ask again later, never act on half.
    if (state && !state.task.deleted && state.task.positivePrompt === undefined) return 'later'
    return state
  }

  /**
   * Deletes the task's state and its KV record, through its shard. It keeps a tombstone, so the
   * taskUUID cannot start a second generation.
   */
  delete(task: TaskRecord): Promise<void> {
    return this.tenants.remove(task)
  }
}
