/**
 * What a shard reports rather than decides: its footprint, and its tasks, newest first, for
 * GET /v1/tasks. The order is (created_at, uuid), so a page
 * ends at a point every shard can resume after: tasks created later sort before it and never
 * shift a page already read. The (created_at, uuid) index serves it without a sort, and a
 * partial one of the same order each rare status (indexHistory, below).
 */
import type { Footprint, HistoryQuery } from './contract'
import { DELETED, FINAL, FLAG, OPEN, packUUID, setSetting, setting, type TaskRow } from './shard-rows'

/**
 * The status filters. The rare ones (open tasks, failed ones) are each the WHERE of a partial
 * index in the history's order, so their page costs its own rows rather than a walk past every
 * success. SQLite uses a partial index only for a query that holds its WHERE term for term.
 */
const STATUS_WHERE = {
  processing: `state = ${OPEN}`,
  succeeded: `state = ${FINAL} AND (flags & ${FLAG.failed}) = 0`,
  failed: `state = ${FINAL} AND (flags & ${FLAG.failed}) != 0`,
} as const

/** Creates the status filters' indexes; a shard from before them first flags its failed tasks (once). */
export function indexHistory(sql: SqlStorage): void {
  if (!setting(sql, 'failed_flagged')) {
    sql.exec(
      `UPDATE tasks SET flags = flags | ${FLAG.failed} WHERE state = ${FINAL}
       AND NOT EXISTS (SELECT 1 FROM results r WHERE r.task = tasks.id AND r.image IS NOT NULL)`,
    )
    setSetting(sql, 'failed_flagged', true)
  }
  sql.exec(`CREATE INDEX IF NOT EXISTS tasks_open ON tasks (created_at, uuid) WHERE ${STATUS_WHERE.processing};
    CREATE INDEX IF NOT EXISTS tasks_failed ON tasks (created_at, uuid) WHERE ${STATUS_WHERE.failed};`)
}

/** Up to `limit` rows of this shard's tasks (deleted ones aside) created before the query's cursor. */
export function historyRows(sql: SqlStorage, { before, status, limit }: HistoryQuery): TaskRow[] {
  const where = [`t.state != ${DELETED}`]
  const bindings: (number | ArrayBuffer | string)[] = []
  if (before) {
    where.push('(t.created_at, t.uuid) < (?, ?)')
    bindings.push(before.createdAt, packUUID(before.taskUUID))
  }
  if (status) where.push(STATUS_WHERE[status])
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
