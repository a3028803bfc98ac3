/**
 * A shard's recurring work: due tasks handed out oldest first and due again later, finished tasks
 * off the schedule (those with client deliveries once settled), alarms rounded to a grain, and
 * history past retention forgotten at most hourly, in bounded batches, through indexes.
 */
import { env } from 'cloudflare:workers'
import { runDurableObjectAlarm } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { kvTaskKey, TASK_RETENTION_SECONDS } from '../../../src/lib/storage-keys'
import type { TaskRecord } from '../../../src/schemas/records'
import { FINAL, packUUID } from '../../../src/tenant/shard-rows'
import { PRUNE_BATCH, PRUNE_EVERY_MS } from '../../../src/tenant/shard-upkeep'
import { aShard, at, column, DAY_MS, dueAt, failure, FAR, inShard, recheckMs, rows, success, task, tenantName } from './shard-fixtures'

const RETENTION_MS = TASK_RETENTION_SECONDS * 1000
const GRAIN_MS = 5_000
const roundUp = (t: number) => Math.ceil(t / GRAIN_MS) * GRAIN_MS

describe('TaskShard.sweep', () => {
  it('hands out due tasks oldest first and makes each due again one RECONCILE_AFTER later', async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard, state) => {
      const base = FAR
      const created = at('2026-10-24T10:00:00Z')
      const [a, b, c, later] = await Promise.all([1, 2, 3, 4].map(() => task(tenant, 1, { createdAt: created })))
      if (!a || !b || !c || !later) throw new Error('four tasks')
      const now = base + 2000
      // `later` falls due just after the others are due again.
      const laterDue = now + recheckMs + 1
      // Opened in an order that is neither the due order nor its reverse.
      await shard.open(a, 0, {}, base + 1000)
      await shard.open(b, 0, {}, base + 500)
      await shard.open(c, 0, {}, base + 750)
      await shard.open(later, 0, {}, laterDue)
      const message = (r: TaskRecord) => ({ v: 1, tenant, taskUUID: r.taskUUID })

      expect(shard.sweep(base + 499)).toEqual([])
      expect(shard.sweep(now)).toEqual([message(b), message(c), message(a)])
      for (const r of [a, b, c]) expect(dueAt(state, r.taskUUID)).toBe(now + recheckMs)
      expect(dueAt(state, later.taskUUID)).toBe(laterDue)
      expect(shard.sweep(now)).toEqual([])
      expect(shard.sweep(now + recheckMs - 1)).toEqual([])
      const again = shard.sweep(now + recheckMs)
      expect(again).toHaveLength(3)
      expect(again).toEqual(expect.arrayContaining([message(a), message(b), message(c)]))
      expect(shard.sweep(laterDue)).toEqual([message(later)])
      expect(dueAt(state, a.taskUUID)).toBe(now + 2 * recheckMs)
    })
  })

  it('clears a finished task from the schedule, keeps one with client deliveries (and its KV record) until settled(), and ignores settled() on an open task', async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard, state) => {
      const base = FAR
      const created = at('2026-10-25T10:00:00Z')
      const plain = await task(tenant, 1, { createdAt: created })
      const hooked = await task(tenant, 1, { createdAt: created, webhookURL: 'https://client.example/hook' })
      const open = await task(tenant, 1, { createdAt: created })
      for (const r of [plain, hooked, open]) await shard.open(r, 0, {}, base + 1000)

      expect((await shard.recordResults(plain.taskUUID, [failure(0, base)], base))?.final).not.toBeNull()
      expect(dueAt(state, plain.taskUUID)).toBeNull()
      expect((await shard.recordResults(hooked.taskUUID, [failure(0, base)], base))?.final).not.toBeNull()
      expect(dueAt(state, hooked.taskUUID)).toBe(base + recheckMs)
      // The shard wrote the finished record, whole, for the deliverer.
      const cached = await env.TASKS.get<TaskRecord>(kvTaskKey(tenant, hooked.taskUUID), 'json')
      expect(cached).toMatchObject({ webhookURL: hooked.webhookURL, status: 'failed', results: [failure(0, base)] })

      await shard.settled(hooked.taskUUID)
      expect(dueAt(state, hooked.taskUUID)).toBeNull()
      await shard.settled(open.taskUUID)
      expect(dueAt(state, open.taskUUID)).toBe(base + 1000)
      expect(column(state, open.taskUUID, 'detail')).not.toBeNull()
      expect(shard.sweep(base + 100 * recheckMs)).toEqual([{ v: 1, tenant, taskUUID: open.taskUUID }])
    })
  })

  it('sets the alarm no later than the earliest due time, rounded up to the grain', async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard, state) => {
      const created = at('2026-10-25T12:00:00Z')
      const due = FAR + 1234
      await shard.open(await task(tenant, 1, { createdAt: created }), 0, {}, due)
      expect(await state.storage.getAlarm()).toBe(roundUp(due))
      await shard.open(await task(tenant, 1, { createdAt: created }), 0, {}, due + DAY_MS)
      expect(await state.storage.getAlarm()).toBe(roundUp(due))
      // Within the same grain: one alarm serves both.
      await shard.open(await task(tenant, 1, { createdAt: created }), 0, {}, roundUp(due) - 1)
      expect(await state.storage.getAlarm()).toBe(roundUp(due))
      await shard.open(await task(tenant, 1, { createdAt: created }), 0, {}, due - DAY_MS + 1)
      expect(await state.storage.getAlarm()).toBe(roundUp(due - DAY_MS + 1))
    })
  })
})

describe('TaskShard alarm: retention', () => {
  it('forgets final and deleted tasks (and uploads) past TASK_RETENTION_SECONDS; open tasks and recent ones stay', async () => {
    const tenant = tenantName()
    const stub = aShard(tenant)
    const now = Date.now()
    const old = now - RETENTION_MS - DAY_MS
    const justInside = now - RETENTION_MS + 3_600_000
    // Every due time lies a year ahead, so the alarm hands nothing to the reconcile queue.
    const oldFinal = await task(tenant, 1, { createdAt: old })
    const oldOpen = await task(tenant, 2, { createdAt: old })
    const oldDeleted = await task(tenant, 1, { createdAt: old })
    const recentFinal = await task(tenant, 1, { createdAt: justInside })
    const oldImage = success(oldFinal, 0, old)
    const recentImage = success(recentFinal, 0, justInside)
    const [oldUpload, newUpload] = [crypto.randomUUID(), crypto.randomUUID()]
    await inShard(stub, async (shard) => {
      for (const r of [oldFinal, oldOpen, oldDeleted, recentFinal]) await shard.open(r, 0, {}, FAR)
      await shard.recordResults(oldFinal.taskUUID, [oldImage], old)
      await shard.recordResults(oldOpen.taskUUID, [failure(0, old)], old)
      await shard.remove(oldDeleted.taskUUID)
      await shard.recordResults(recentFinal.taskUUID, [recentImage], justInside)
      shard.addImage(oldUpload, `uploads/${tenant}/${oldUpload}`, old)
      shard.addImage(newUpload, `uploads/${tenant}/${newUpload}`, now)
    })

    expect(await runDurableObjectAlarm(stub)).toBe(true)

    await inShard(stub, async (shard, state) => {
      expect(await shard.read(oldFinal.taskUUID)).toBeNull()
      expect(await shard.read(oldDeleted.taskUUID)).toBeNull()
      expect(rows(state, 'SELECT COUNT(*) AS c FROM results WHERE task NOT IN (SELECT id FROM tasks)')).toEqual([{ c: 0 }])
      expect((await shard.read(oldOpen.taskUUID))?.results).toHaveLength(1)
      expect((await shard.read(recentFinal.taskUUID))?.results).toHaveLength(1)
      expect(shard.findImages([oldImage.imageUUID, recentImage.imageUUID, oldUpload, newUpload])).toEqual({
        [recentImage.imageUUID]: recentImage.objectKey,
        [newUpload]: `uploads/${tenant}/${newUpload}`,
      })
      // Nothing was due, so the schedule is untouched.
      expect(dueAt(state, oldOpen.taskUUID)).toBe(FAR)
    })
  })

  it(`forgets at most PRUNE_BATCH (${PRUNE_BATCH}) tasks and uploads at a time, oldest first, the rest a minute on; then not again within the hour`, async () => {
    const tenant = tenantName()
    const stub = aShard(tenant)
    const old = Date.now() - RETENTION_MS - DAY_MS
    const keep = await task(tenant, 1)
    /** Finished tasks, one result each, and uploads, created past retention: as inserting them at the time would leave them. */
    const insertOld = (state: DurableObjectState, count: number, from: number) => {
      for (let i = 0; i < count; i++) {
        const id = rows(
          state,
          `INSERT INTO tasks (uuid, hash, created_at, state, model, origin, width, height, format, flags, n)
           VALUES (?, ?, ?, ?, 1, 1, 64, 64, 'JPG', 0, 1) RETURNING id`,
          packUUID(crypto.randomUUID()),
          packUUID(crypto.randomUUID()),
          from + i,
          FINAL,
        )[0]?.id as number
        rows(state, 'INSERT INTO results (task, idx, image, seed, at) VALUES (?, 0, ?, 1, ?)', id, packUUID(crypto.randomUUID()), from + i)
        rows(state, 'INSERT INTO uploads (uuid, object_key, created_at) VALUES (?, ?, ?)', crypto.randomUUID(), 'uploads/x', from + i)
      }
    }
    const counts = (state: DurableObjectState) => ({
      tasks: rows(state, 'SELECT COUNT(*) AS c FROM tasks')[0]?.c,
      results: rows(state, 'SELECT COUNT(*) AS c FROM results')[0]?.c,
      uploads: rows(state, 'SELECT COUNT(*) AS c FROM uploads')[0]?.c,
    })
    await inShard(stub, async (shard, state) => {
      // An open task keeps an alarm set (a year ahead).
      await shard.open(keep, 0, {}, FAR)
      insertOld(state, PRUNE_BATCH + 1, old)
    })

    const firstAt = Date.now()
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    await inShard(stub, async (_shard, state) => {
      expect(counts(state)).toEqual({ tasks: 2, results: 1, uploads: 1 })
      // The oldest went first: what is left is the newest of the old.
      expect(rows(state, 'SELECT MIN(created_at) AS v FROM tasks')[0]?.v).toBe(old + PRUNE_BATCH)
      const next = (await state.storage.getAlarm()) ?? 0
      expect(next).toBeGreaterThanOrEqual(firstAt + 60_000)
      expect(next).toBeLessThanOrEqual(roundUp(Date.now() + 60_000))
    })

    const secondAt = Date.now()
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    await inShard(stub, async (shard, state) => {
      expect(counts(state)).toEqual({ tasks: 1, results: 0, uploads: 0 })
      expect(await shard.read(keep.taskUUID)).toEqual({ task: keep, results: [] })
      // More history past retention appears: it waits for the next hourly prune.
      insertOld(state, 1, old)
    })

    expect(await runDurableObjectAlarm(stub)).toBe(true)
    await inShard(stub, async (_shard, state) => {
      expect(counts(state)).toEqual({ tasks: 2, results: 1, uploads: 1 })
      const next = (await state.storage.getAlarm()) ?? 0
      expect(next).toBeGreaterThanOrEqual(secondAt + PRUNE_EVERY_MS)
      expect(next).toBeLessThanOrEqual(roundUp(Date.now() + PRUNE_EVERY_MS))
    })
  })
})
