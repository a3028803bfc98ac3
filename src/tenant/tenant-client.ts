/**
 * The one way the Worker reaches a tenant's ledger object: every call to it goes through here,
 * so the contract (./contract) has one caller to change with it.
 */
import type { ResultDraft, TaskRecord } from '../schemas/records'
import type { KeyTransition, Limits, OpenOutcome, RecordedResults, TaskState, UsageRow } from './contract'
import type { TenantLedger } from './tenant-ledger'

export class TenantClient {
  constructor(private readonly objects: DurableObjectNamespace<TenantLedger>) {}

  private ledger(tenant: string): DurableObjectStub<TenantLedger> {
    return this.objects.get(this.objects.idFromName(tenant))
  }

  /** Creates the task with its reservation, or returns the task already under its taskUUID, or the refusal. */
  open(task: TaskRecord, perResultMicros: number, limits: Limits, dueAt: number): Promise<OpenOutcome> {
    return this.ledger(task.tenant).open(task, perResultMicros, limits, dueAt)
  }

  /** Forgets a task Runware never took, so a re-send starts it afresh. */
  abandon(task: TaskRecord): Promise<void> {
    return this.ledger(task.tenant).abandon(task.taskUUID, task.createdAt)
  }

  /** The object's state of the task, never a cached copy. */
  read(tenant: string, taskUUID: string): Promise<TaskState | null> {
    return this.ledger(tenant).read(taskUUID)
  }

  /** The task once every result is recorded (or it is deleted), or as it stands after `timeoutMs`. */
  awaitSettled(tenant: string, taskUUID: string, timeoutMs: number): Promise<TaskState | null> {
    return this.ledger(tenant).awaitSettled(taskUUID, timeoutMs)
  }

  /** Records results, each once; null when the task is unknown or deleted. */
  recordResults(tenant: string, taskUUID: string, drafts: readonly ResultDraft[], now = Date.now()): Promise<RecordedResults | null> {
    return this.ledger(tenant).recordResults(taskUUID, drafts, now)
  }

  /** Marks the task deleted (a tombstone keeps its taskUUID taken) and deletes its KV record. */
  remove(task: TaskRecord): Promise<void> {
    return this.ledger(task.tenant).remove(task.taskUUID)
  }

  /** Has the object write a finished task's KV record: it is their one writer. */
  cacheFinal(tenant: string, taskUUID: string): Promise<void> {
    return this.ledger(tenant).cacheFinal(taskUUID)
  }

  /** The reconciler is done with a final task. */
  settled(task: TaskRecord): Promise<void> {
    return this.ledger(task.tenant).settled(task.taskUUID)
  }

  /** Indexes an input image under its imageUUID. */
  addImage(tenant: string, imageUUID: string, objectKey: string, now: number): Promise<void> {
    return this.ledger(tenant).addImage(imageUUID, objectKey, now)
  }

  /** Forgets an uploaded image; its R2 key, or null when the tenant has no such upload. */
  forgetUpload(tenant: string, imageUUID: string): Promise<string | null> {
    return this.ledger(tenant).forgetUpload(imageUUID)
  }

  /** The R2 keys of the tenant's images among `imageUUIDs`. */
  findImages(tenant: string, imageUUIDs: readonly string[]): Promise<Record<string, string>> {
    return this.ledger(tenant).findImages(imageUUIDs)
  }

  /** Disables or rotates a key of the tenant's, one transition of a key at a time. */
  keyTransition(tenant: string, id: string, operation: 'disable' | 'rotate'): Promise<KeyTransition> {
    return this.ledger(tenant).keyTransition(id, operation)
  }

  /** Images and micro-dollars by day and model, days inclusive. */
  usage(tenant: string, from: string, to: string): Promise<UsageRow[]> {
    return this.ledger(tenant).usage(from, to)
  }
}
