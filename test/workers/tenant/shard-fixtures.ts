/** What the shard and account tests share: fresh tenants, tasks with derived children, result drafts and SQL peeks. */
import { env } from 'cloudflare:workers'
import { runInDurableObject } from 'cloudflare:test'
import { childTaskUUID } from '../../../src/lib/ids'
import { imageKey } from '../../../src/lib/storage-keys'
import type { ResultDraft, TaskRecord } from '../../../src/schemas/records'
import { packUUID } from '../../../src/tenant/shard-rows'
import type { TaskShard } from '../../../src/tenant/task-shard'
import { accountOf, shardOf, taskRecord } from '../helpers'

export const DAY_MS = 86_400_000
export const recheckMs = Number(env.RECONCILE_AFTER_SECONDS) * 1000
/** A due time a year ahead: the object's real alarm never fires during a test. */
export const FAR = Date.now() + 365 * DAY_MS
export const at = (iso: string) => Date.parse(iso)

let n = 0
/** A fresh tenant (and so fresh shard and account objects) for each test. */
export const tenantName = (prefix = 'tshard') => `${prefix}${++n}_${crypto.randomUUID().slice(0, 8)}`

/** One of the tenant's shard objects: a test opens all of its tasks there, whatever their hash. */
export const aShard = (tenant: string) => shardOf(tenant, crypto.randomUUID())
export type ShardStub = ReturnType<typeof aShard>

/** Runs `fn` inside the shard object. */
export const inShard = <R>(stub: ShardStub, fn: (shard: TaskShard, state: DurableObjectState) => R | Promise<R>) =>
  runInDurableObject(stub, fn)

/**
 * A task of `children` results, one seed each (10, 11, …), whose children's UUIDs are derived as
 * the gateway derives them, so the compact form of a finished task reads back as the same record.
 */
export async function task(tenant: string, children: number, overrides: Partial<TaskRecord> = {}): Promise<TaskRecord> {
  const taskUUID = overrides.taskUUID ?? crypto.randomUUID()
  const kids = await Promise.all(
    Array.from({ length: children }, async (_, i) => ({ taskUUID: await childTaskUUID(tenant, taskUUID, i), seed: 10 + i })),
  )
  return taskRecord({ tenant, taskUUID, children: kids, ...overrides })
}

type SuccessDraft = Extract<ResultDraft, { ok: true }>

/** A success for `record`'s result `index`, with the R2 key the shard derives for it. */
export function success(
  record: TaskRecord,
  index: number,
  now: number,
  extra: { cost?: number; seed?: number; imageUUID?: string; nsfw?: boolean } = {},
): SuccessDraft {
  const objectKey = imageKey(record.tenant, record.taskUUID, index, record.outputFormat)
  return { index, ok: true, imageUUID: crypto.randomUUID(), objectKey, at: now, ...extra }
}

export const failure = (index: number, now: number, billed = false): ResultDraft => ({
  index,
  ok: false,
  code: 'providerTimeout',
  message: 'slow',
  at: now,
  ...(billed ? { billed: true as const } : {}),
})

type Binding = string | number | ArrayBuffer | null
export const rows = (state: DurableObjectState, query: string, ...bindings: Binding[]) =>
  state.storage.sql.exec<Record<string, SqlStorageValue>>(query, ...bindings).toArray()

/** A column of the task's row in the shard (undefined when there is no row). */
export const column = (state: DurableObjectState, taskUUID: string, name: string) =>
  rows(state, `SELECT ${name} AS v FROM tasks t LEFT JOIN details d ON d.id = t.id WHERE t.uuid = ?`, packUUID(taskUUID))[0]?.v

export const dueAt = (state: DurableObjectState, taskUUID: string) => column(state, taskUUID, 'due_at')

/** The account's reservation of a task, as [per_result, open] rows. */
export const reservationOf = (tenant: string, taskUUID: string) =>
  runInDurableObject(accountOf(tenant), (_account, state) =>
    rows(state, 'SELECT per_result, open FROM reservations WHERE task = ?', taskUUID),
  )
