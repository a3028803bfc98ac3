/**
 * What a tenant's shard and account objects are asked and answer: the types of their RPC
 * contract, shared by the objects (task-shard.ts, tenant-account.ts) and their one client
 * (tenant-client.ts).
 */
import type { KeyRecord } from '../schemas/api-keys'
import type { ResultRecord, TaskRecord } from '../schemas/records'

/** A key's limits, as the tenant's account checks them when a task opens. */
export interface Limits {
  budgetMicros?: number
  budgetPeriod?: 'day' | 'month'
  maxConcurrentTasks?: number
}

export type Refusal =
  | { reason: 'budget'; budgetMicros: number; spentMicros: number; reservedMicros: number; neededMicros: number }
  | { reason: 'concurrency'; limit: number }

export interface TaskState {
  task: TaskRecord
  results: ResultRecord[]
}

export type OpenOutcome = { kind: 'created' } | ({ kind: 'existing' } & TaskState) | { kind: 'refused'; refusal: Refusal }

/** What one `recordResults` call did. */
export interface RecordedResults extends TaskState {
  /** Results this call recorded: each has exactly one recorder, so its events have one producer. */
  claimed: ResultRecord[]
  /** The final record, when this call completed the task. */
  final: TaskRecord | null
}

/** What a key transition left: the key's record (null for an unknown id), and a rotation's new key. */
export interface KeyTransition {
  record: KeyRecord | null
  key?: string
}

/** What one shard object holds (GET /admin/tenants/{tenant}/storage). */
export interface Footprint {
  bytes: number
  tasks: number
  images: number
}

/** A page of GET /v1/tasks, as each shard is asked for it: tasks created strictly before `before`, newest first. */
export interface HistoryQuery {
  before?: { createdAt: number; taskUUID: string }
  status?: 'processing' | 'succeeded' | 'failed'
  limit: number
}

export interface UsageRow {
  day: string
  model: string
  images: number
  costMicros: number
}
