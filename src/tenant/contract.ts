/**
 * What a tenant's shard and account objects are asked and answer: the types of their RPC
 * contract, shared by the objects (task-shard.ts, tenant-account.ts) and their one client
 * (tenant-client.ts).
 */
import type { KeyRecord } from '../schemas/api-keys'
import type { ResultRecord, TaskRecord } from '../schemas/records'

/** Where a budget's threshold events go, and at which fractions of it (docs/tenants.md). */
export interface Alerts {
  webhookURL: string
  thresholds: number[]
}

/** A budget per period, of a key or of a whole tenant. */
export interface Budget {
  budgetMicros: number
  budgetPeriod: 'day' | 'month'
  alerts?: Alerts
}

/** The key a task is opened under, and its limits, as the tenant's account checks them. */
export interface Limits {
  /** The managed key's id; absent for a bootstrap key (its tenant is its own). */
  keyId?: string
  budgetMicros?: number
  budgetPeriod?: 'day' | 'month'
  maxConcurrentTasks?: number
  alerts?: Alerts
}

export type Refusal =
  | {
      reason: 'budget'
      /** Which budget refused: the key's own, or its tenant's. */
      scope: 'key' | 'tenant'
      budgetMicros: number
      budgetPeriod: 'day' | 'month'
      spentMicros: number
      reservedMicros: number
      neededMicros: number
      /** When the period ends and the budget is whole again (ISO 8601, UTC). */
      resetsAt: string
    }
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
  /** The managed key's id; '' for a bootstrap key's tasks (and for usage counted before keys were). */
  key: string
  images: number
  costMicros: number
}

/** Where one budget stands in its current period (the account's settled spend and open reservations). */
export interface BudgetStatus extends Budget {
  /** A key's id, or null for the tenant's own budget. */
  keyId: string | null
  periodStart: string
  spentMicros: number
  reservedMicros: number
}
