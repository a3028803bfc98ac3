/**
 * Task state. The tenant's Durable Object holds the strongly consistent truth (the task, each
 * result recorded once, the reservation, the reconcile schedule), one call per change. KV holds
 * the finished record, written once at finalization, for fast edge reads; a read that misses KV
 * (not finished yet, or KV has not caught up) asks the object.
 */
import * as keys from '../lib/storage-keys'
import type { Limits, OpenOutcome, RecordOutcome, TaskState, TenantLedger } from '../objects/tenant-ledger'
import type { ResultDraft, TaskRecord } from '../schemas/records'

const KV_OPTIONS = { expirationTtl: keys.TASK_RETENTION_SECONDS }

export class TaskStore {
  constructor(
    private readonly kv: KVNamespace,
    private readonly objects: DurableObjectNamespace<TenantLedger>,
    /** When a new task is first due for reconciliation, after its creation. */
    private readonly reconcileAfterMs: number,
  ) {}

  /** The tenant's object. */
  tenant(tenant: string): DurableObjectStub<TenantLedger> {
    return this.objects.get(this.objects.idFromName(tenant))
  }

  /** Creates the task with its reservation, or returns the task already under its taskUUID, or the refusal. */
  open(record: TaskRecord, perResultMicros: number, limits: Limits): Promise<OpenOutcome> {
    return this.tenant(record.tenant).open(record, perResultMicros, limits, record.createdAt + this.reconcileAfterMs)
  }

  /** Forgets a task whose dispatch failed, so a re-send starts it afresh. */
  abandon(record: TaskRecord): Promise<void> {
    return this.tenant(record.tenant).abandon(record.taskUUID, record.createdAt)
  }

  /** The task and its results: the finished record from KV, else the object's current state. */
  async load(tenant: string, taskUUID: string): Promise<TaskState | null> {
    const cached = await this.kv.get<TaskRecord>(keys.kvTaskKey(tenant, taskUUID), 'json')
    if (cached?.results) return { task: cached, results: cached.results }
    return this.current(tenant, taskUUID)
  }

  /** The object's state of the task, never a cached copy. */
  current(tenant: string, taskUUID: string): Promise<TaskState | null> {
    return this.tenant(tenant).read(taskUUID)
  }

  /** Records results (each once); null when the task is unknown or deleted. */
  record(tenant: string, taskUUID: string, drafts: readonly ResultDraft[], now = Date.now()): Promise<RecordOutcome | null> {
    return this.tenant(tenant).record(taskUUID, drafts, now)
  }

  /** Caches a final record in KV. Only the call that finalized a task (or the reconciler's repair) writes it. */
  cacheFinal(final: TaskRecord): Promise<void> {
    return this.kv.put(keys.kvTaskKey(final.tenant, final.taskUUID), JSON.stringify(final), KV_OPTIONS)
  }

  async isCached(task: TaskRecord): Promise<boolean> {
    return (await this.kv.get(keys.kvTaskKey(task.tenant, task.taskUUID))) !== null
  }

  /** The reconciler finished with a final task. */
  settled(task: TaskRecord): Promise<void> {
    return this.tenant(task.tenant).settled(task.taskUUID)
  }

  /** Deletes the task's state. The object keeps a tombstone, so the taskUUID cannot start a second generation. */
  async delete(task: TaskRecord): Promise<void> {
    await Promise.all([this.tenant(task.tenant).remove(task.taskUUID), this.kv.delete(keys.kvTaskKey(task.tenant, task.taskUUID))])
  }
}
