/**
 * A shard's alarms, deletions and lookups must cost the same whatever its history: every
 * statement they run is recorded as the shard runs it, and none may scan a whole table.
 */
import { describe, expect, it } from 'vitest'
import { TASK_RETENTION_SECONDS } from '../../../src/lib/storage-keys'
import { indexHistory } from '../../../src/tenant/shard-reports'
import { FLAG } from '../../../src/tenant/shard-rows'
import type { TaskRecord } from '../../../src/schemas/records'
import { aShard, failure, FAR, inShard, rows, success, task, tenantName } from './shard-fixtures'

type Statement = { query: string; bindings: unknown[] }

/** Records what the shard's SQL runs while `fn` does (the shard and its helpers share this one SqlStorage). */
async function recording(state: DurableObjectState, fn: () => Promise<unknown>): Promise<Statement[]> {
  const sql = state.storage.sql
  const exec = sql.exec
  const seen: Statement[] = []
  sql.exec = ((query: string, ...bindings: unknown[]) => {
    seen.push({ query, bindings })
    return exec.call(sql, query, ...bindings)
  }) as typeof sql.exec
  try {
    await fn()
  } finally {
    sql.exec = exec
  }
  return seen
}

/** The rows the shard's SQL reads while `fn` runs. */
async function rowsRead(state: DurableObjectState, fn: () => Promise<unknown>): Promise<number> {
  const sql = state.storage.sql
  const exec = sql.exec
  const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = []
  sql.exec = ((query: string, ...bindings: unknown[]) => {
    const cursor = exec.call(sql, query, ...bindings)
    cursors.push(cursor)
    return cursor
  }) as typeof sql.exec
  try {
    await fn()
  } finally {
    sql.exec = exec
  }
  return cursors.reduce((sum, c) => sum + c.rowsRead, 0)
}

/**
 * The plan's lines that read a whole table: a SCAN, or a SEARCH by no index (as SQLite reports
 * a min() it must answer from every row, when the only index on the column is partial).
 */
function scans(state: DurableObjectState, { query, bindings }: Statement): string[] {
  const plan = rows(state, `EXPLAIN QUERY PLAN ${query}`, ...(bindings as (string | number | ArrayBuffer | null)[]))
  return plan.map((p) => String(p.detail)).filter((d) => /^SCAN (?!CONSTANT ROW)|^SEARCH \w+$/.test(d))
}

describe('TaskShard statements', () => {
  it('prune, sweep, remove, abandon, settle and image lookups use indexes, never a scan of the history', async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard, state) => {
      const old = Date.now() - TASK_RETENTION_SECONDS * 1000 - 86_400_000
      const now = Date.now()
      const [finished, hooked, open, removed, abandoned] = await Promise.all(
        [old, now, now, now, now].map((createdAt, i) =>
          task(tenant, 1, { createdAt, ...(i === 1 ? { webhookURL: 'https://client.example/hook' } : {}) }),
        ),
      )
      if (!finished || !hooked || !open || !removed || !abandoned) throw new Error('five tasks')
      for (const r of [finished, hooked, open, removed, abandoned]) await shard.open(r, 0, {}, FAR)
      const image = success(finished, 0, old)
      await shard.recordResults(finished.taskUUID, [image], old)
      await shard.recordResults(removed.taskUUID, [failure(0, now)], now)
      const upload = crypto.randomUUID()
      shard.addImage(upload, `uploads/${tenant}/${upload}`, old)

      const seen = await recording(state, async () => {
        await shard.recordResults(hooked.taskUUID, [failure(0, now)], now)
        await shard.settled(hooked.taskUUID)
        shard.sweep(FAR)
        await shard.alarm()
        await shard.remove(removed.taskUUID)
        await shard.abandon(abandoned.taskUUID, abandoned.createdAt)
        await shard.read(open.taskUUID)
        shard.findImages([image.imageUUID, upload, crypto.randomUUID()])
        shard.forgetUpload(upload)
      })
      // The recording saw the shard's own statements: the sweep, the prune and the image lookup among them.
      const queries = seen.map((s) => s.query)
      expect(queries).toEqual(expect.arrayContaining([expect.stringMatching(/FROM tasks WHERE due_at <= \?/)]))
      expect(queries).toEqual(expect.arrayContaining([expect.stringMatching(/FROM tasks WHERE created_at < \?/)]))
      expect(queries).toEqual(expect.arrayContaining([expect.stringMatching(/JOIN tasks/)]))
      // The alarm did prune: the finished task past retention is gone.
      expect(await shard.read(finished.taskUUID)).toBeNull()

      // The check itself catches a scan, and a min() over a partial index.
      expect(scans(state, { query: 'SELECT id FROM tasks WHERE model = ?', bindings: [1] })).toEqual(['SCAN tasks'])
      expect(scans(state, { query: 'SELECT MIN(ttl) AS v FROM tasks', bindings: [] })).toHaveLength(1)
      const scanning = seen
        .filter((s) => !/^\s*(INSERT|CREATE)/i.test(s.query))
        .flatMap((s) => scans(state, s).map((d) => `${d}: ${s.query}`))
      expect(scanning).toEqual([])
    })
  })

  it('walks a page of history in (created_at, uuid) order with no sort, the rare statuses along an index of their own', async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard, state) => {
      const made = await Promise.all([0, 1, 2].map((i) => task(tenant, 1, { createdAt: Date.now() - i * 1000 })))
      for (const r of made) await shard.open(r, 0, {}, FAR)
      const newest = made[0]
      if (!newest) throw new Error('three tasks')
      const seen = await recording(state, async () => {
        for (const status of [undefined, 'processing', 'succeeded', 'failed'] as const) {
          await shard.history({ limit: 2, ...(status ? { status } : {}) })
          await shard.history({
            limit: 2,
            before: { createdAt: newest.createdAt, taskUUID: newest.taskUUID },
            ...(status ? { status } : {}),
          })
        }
      })
      const history = seen.filter((s) => /ORDER BY t\.created_at DESC/.test(s.query))
      expect(history).toHaveLength(8)
      const indexes = history.map((statement) => {
        const plan = rows(state, `EXPLAIN QUERY PLAN ${statement.query}`, ...(statement.bindings as (string | number | ArrayBuffer)[]))
        const details = plan.map((p) => String(p.detail)).join('\n')
        expect(details).not.toMatch(/TEMP B-TREE/)
        return /^(?:SCAN|SEARCH) t USING INDEX (\w+)/m.exec(details)?.[1]
      })
      const perFilter = ['tasks_recent', 'tasks_open', 'tasks_recent', 'tasks_failed']
      expect(indexes).toEqual(perFilter.flatMap((index) => [index, index]))
      // And the pages hold what they should: the newest two, then the one before the newest.
      const page = await shard.history({ limit: 2 })
      expect(page.map((s) => s.task.taskUUID)).toEqual(made.slice(0, 2).map((t) => t.taskUUID))
      const after = await shard.history({ limit: 5, before: { createdAt: newest.createdAt, taskUUID: newest.taskUUID } })
      expect(after.map((s) => s.task.taskUUID)).toEqual(made.slice(1).map((t) => t.taskUUID))
    })
  })

  it('reads about a page of rows for a page of failed or open tasks, however many successes are newer', async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard, state) => {
      const now = Date.now()
      const made = await Promise.all(Array.from({ length: 203 }, (_, i) => task(tenant, 1, { createdAt: now - (203 - i) * 1000 })))
      for (const r of made) await shard.open(r, 0, {}, FAR)
      // The three oldest: two failed and one still open; the 200 newer all succeeded.
      const [failedA, failedB, open] = made as [TaskRecord, TaskRecord, TaskRecord]
      for (const r of [failedA, failedB]) await shard.recordResults(r.taskUUID, [failure(0, now)], now)
      for (const r of made.slice(3)) await shard.recordResults(r.taskUUID, [success(r, 0, now)], now)

      const read = await rowsRead(state, async () => {
        expect((await shard.history({ limit: 5, status: 'failed' })).map((s) => s.task.taskUUID)).toEqual([
          failedB.taskUUID,
          failedA.taskUUID,
        ])
        expect((await shard.history({ limit: 5, status: 'processing' })).map((s) => s.task.taskUUID)).toEqual([open.taskUUID])
      })
      // A page of the three tasks asked for, each read with its detail: a walk past the successes reads 200 more.
      expect(read).toBeLessThan(20)
      const succeeded = await shard.history({ limit: 500, status: 'succeeded' })
      expect(succeeded).toHaveLength(200)
    })
  })

  it("flags an older shard's failed tasks once, so the failed filter finds them", async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard, state) => {
      const now = Date.now()
      const [failed, succeeded] = await Promise.all([task(tenant, 1), task(tenant, 1, { createdAt: now - 1000 })])
      if (!failed || !succeeded) throw new Error('two tasks')
      for (const r of [failed, succeeded]) await shard.open(r, 0, {}, FAR)
      await shard.recordResults(failed.taskUUID, [failure(0, now)], now)
      await shard.recordResults(succeeded.taskUUID, [success(succeeded, 0, now)], now)
      // What the previous version left: no failed flag, and no record of flagging.
      rows(state, `UPDATE tasks SET flags = flags & ~${FLAG.failed}`)
      rows(state, "DELETE FROM settings WHERE name = 'failed_flagged'")
      expect(await shard.history({ limit: 5, status: 'failed' })).toEqual([])
      indexHistory(state.storage.sql)
      expect((await shard.history({ limit: 5, status: 'failed' })).map((s) => s.task.taskUUID)).toEqual([failed.taskUUID])
      expect((await shard.history({ limit: 5, status: 'succeeded' })).map((s) => s.task.taskUUID)).toEqual([succeeded.taskUUID])
      // Once: a later wake does not walk the tasks again.
      const seen = await recording(state, async () => indexHistory(state.storage.sql))
      expect(seen.filter((s) => /^\s*UPDATE/.test(s.query))).toEqual([])
    })
  })
})
