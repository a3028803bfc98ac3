/**
 * What a shard reports rather than decides: its footprint, and its tasks, newest first, for
 * GET /v1/tasks. The order is (created_at, uuid), so a page
 * ends at a point every shard can resume after: tasks created later sort before it and never
 * shift a page already read. The (created_at, uuid) index serves it without a sort.
 */
import type { Footprint, HistoryQuery } from './contract'
import { DELETED, FINAL, OPEN, packUUID, type TaskRow } from './shard-rows'

/** Whether a finished task has an image: the tasks/{id} view calls it succeeded (records.ts). */
const HAS_IMAGE = 'EXISTS (SELECT 1 FROM results r WHERE r.task = t.id AND r.image IS NOT NULL)'

const STATUS_FILTERS = {
  processing: `t.state = ${OPEN}`,
  succeeded: `t.state = ${FINAL} AND ${HAS_IMAGE}`,
  failed: `t.state = ${FINAL} AND NOT ${HAS_IMAGE}`,
} as const

/** Up to `limit` rows of this shard's tasks (deleted ones aside) created before the query's cursor. */
export function historyRows(sql: SqlStorage, { before, status, limit }: HistoryQuery): TaskRow[] {
  const where = [`t.state != ${DELETED}`]
  const bindings: (number | ArrayBuffer | string)[] = []
  if (before) {
    where.push('(t.created_at, t.uuid) < (?, ?)')
    bindings.push(before.createdAt, packUUID(before.taskUUID))
  }
  if (status) where.push(STATUS_FILTERS[status])
  return sql
    .exec<TaskRow>(
      `SELECT t.*, d.detail FROM tasks t LEFT JOIN details d ON d.id = t.id
       WHERE ${where.join(' AND ')} ORDER BY t.created_at DESC, t.uuid DESC LIMIT ?`,
      ...bindings,
      limit,
    )
    .toArray()
}

/** What a shard holds: its SQLite bytes, and the tasks and images it retains (an admin's question, not a hot path). */
export function footprint(sql: SqlStorage, bytes: number): Footprint {
  const count = (query: string) => sql.exec<{ v: number }>(query).one().v
  return {
    bytes,
    tasks: count('SELECT COUNT(*) AS v FROM tasks'),
    images: count('SELECT COUNT(*) AS v FROM results WHERE image IS NOT NULL'),
  }
}
