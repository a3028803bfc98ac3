/**
 * Task state. The tenant's ledger object holds the strongly consistent truth (the task, each
 * result recorded once, the reservation, the reconcile schedule), one call per change, made
 * through the tenant client; this store adds what involves KV. KV is a read-through cache of
 * finished records for fast edge reads: a read that misses it asks the object, and a finished
 * task found there is written to KV after the response — by the object, the records' one
 * writer, so a deletion is ordered after any write and a deleted task never comes back. Tasks
 * nobody reads back (webhook-driven clients) never cost a KV write.
 */
import * as keys from '../lib/storage-keys'
import type { TaskRecord } from '../schemas/records'
import type { TaskState } from '../tenant/contract'
import type { TenantClient } from '../tenant/tenant-client'

export class TaskStore {
  constructor(
    private readonly kv: KVNamespace,
    private readonly tenants: TenantClient,
    /** Lets the cache write outlive the read that found the record missing. */
    private readonly waitUntil: (promise: Promise<unknown>) => void,
  ) {}

  /** The task and its results: the finished record from KV, else the object's current state. */
  async load(tenant: string, taskUUID: string): Promise<TaskState | null> {
    const cached = await this.kv.get<TaskRecord>(keys.kvTaskKey(tenant, taskUUID), 'json')
    if (cached?.results) return { task: cached, results: cached.results }
    const state = await this.tenants.read(tenant, taskUUID)
    if (state && !state.task.deleted && state.results.length === state.task.children.length) {
      // KV refuses a second write to a key within a second, which only means it was cached already.
      this.waitUntil(this.tenants.cacheFinal(tenant, taskUUID).catch(() => undefined))
    }
    return state
  }

  /**
   * Deletes the task's state and its KV record, through the object. It keeps a tombstone, so the
   * taskUUID cannot start a second generation.
   */
  delete(task: TaskRecord): Promise<void> {
    return this.tenants.remove(task)
  }
}
