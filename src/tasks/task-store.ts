/**
 * Task state. The tenant's ledger object holds the strongly consistent truth (the task, each
 * result recorded once, the reservation, the reconcile schedule), one call per change, made
 * through the tenant client; this store adds what involves KV. KV is a
 * read-through cache of finished records for fast edge reads: a read that misses it asks the
 * object, and a finished task found there is written to KV after the response. Tasks nobody
 * reads back (webhook-driven clients) never cost a KV write.
 */
import * as keys from '../lib/storage-keys'
import type { TaskRecord } from '../schemas/records'
import type { TaskState } from '../tenant/contract'
import type { TenantClient } from '../tenant/tenant-client'

const KV_OPTIONS = { expirationTtl: keys.TASK_RETENTION_SECONDS }

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
      // Final records never change, so concurrent readers writing the same value is harmless;
      // KV refuses a second write to a key within a second, which only means it was cached already.
      this.waitUntil(this.cacheFinal({ ...state.task, results: state.results }).catch(() => undefined))
    }
    return state
  }

  private cacheFinal(final: TaskRecord): Promise<void> {
    return this.kv.put(keys.kvTaskKey(final.tenant, final.taskUUID), JSON.stringify(final), KV_OPTIONS)
  }

  /** Deletes the task's state. The object keeps a tombstone, so the taskUUID cannot start a second generation. */
  async delete(task: TaskRecord): Promise<void> {
    await Promise.all([this.tenants.remove(task), this.kv.delete(keys.kvTaskKey(task.tenant, task.taskUUID))])
  }
}
