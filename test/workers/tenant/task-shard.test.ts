/**
 * A shard object driven directly, inside the object: its SQL keeps each promise — one task per
 * taskUUID, each result recorded once, usage settled at Runware's price, a final status, a
 * tombstone for a deleted task, and an abandoned attempt forgotten. Scheduling and retention are
 * in shard-upkeep.test.ts, the compact form of a finished task in shard-storage.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { DELETED, FINAL, FLAG, OPEN } from '../../../src/tenant/shard-rows'
import { accountOf } from '../helpers'
import {
  aShard,
  at,
  column,
  dueAt,
  failure,
  FAR,
  inShard,
  recheckMs,
  reservationOf,
  rows,
  success,
  task,
  tenantName,
} from './shard-fixtures'

describe('TaskShard.open', () => {
  it('creates a task (reserving in the account under limits); a second open of the taskUUID returns the stored task and its results, never refused', async () => {
    const tenant = tenantName()
    const stub = aShard(tenant)
    const now = at('2026-10-05T10:00:00Z')
    const record = await task(tenant, 3, { createdAt: now })
    const limits = { maxConcurrentTasks: 1 }
    await inShard(stub, async (shard, state) => {
      expect(await shard.open(record, 20_000, limits, FAR)).toEqual({ kind: 'created' })
      expect(await shard.read(record.taskUUID)).toEqual({ task: record, results: [] })
      expect(rows(state, 'SELECT COUNT(*) AS c FROM tasks')).toEqual([{ c: 1 }])
      expect(column(state, record.taskUUID, 'state')).toBe(OPEN)
      expect(column(state, record.taskUUID, 'created_at')).toBe(now)
      expect(dueAt(state, record.taskUUID)).toBe(FAR)
      expect(Number(column(state, record.taskUUID, 'flags')) & FLAG.limited).toBe(FLAG.limited)
    })
    expect(await reservationOf(tenant, record.taskUUID)).toEqual([{ per_result: 20_000, open: 3 }])

    await inShard(stub, async (shard, state) => {
      const first = success(record, 0, now, { seed: 99 })
      await shard.recordResults(record.taskUUID, [first], now)
      // Another body, price and tighter limits under the same taskUUID: the stored task wins, and an
      // existing task is never refused (its reservation is already counted).
      const again = await shard.open({ ...record, requestHash: 'cd'.repeat(32) }, 70_000, { maxConcurrentTasks: 1, budgetMicros: 1 }, FAR)
      expect(again).toEqual({ kind: 'existing', task: record, results: [first] })
      // The same limits do refuse a new task: the slot is held.
      const other = await task(tenant, 1, { createdAt: now })
      expect(await shard.open(other, 20_000, limits, FAR)).toEqual({ kind: 'refused', refusal: { reason: 'concurrency', limit: 1 } })
      expect(await shard.read(other.taskUUID)).toBeNull()
      expect(rows(state, 'SELECT COUNT(*) AS c FROM tasks')).toEqual([{ c: 1 }])
    })
    expect(await reservationOf(tenant, record.taskUUID)).toEqual([{ per_result: 20_000, open: 2 }])
  })

  it('leaves the account alone for a task without limits', async () => {
    const tenant = tenantName()
    const now = at('2026-10-05T11:00:00Z')
    const record = await task(tenant, 2, { createdAt: now })
    const shard = aShard(tenant)
    expect(await shard.open(record, 20_000, {}, FAR)).toEqual({ kind: 'created' })
    await shard.recordResults(record.taskUUID, [success(record, 0, now)], now)
    expect(await reservationOf(tenant, record.taskUUID)).toEqual([])
    // Were it reserved, this new task would not fit a budget of one result.
    const limited = await task(tenant, 1, { createdAt: now })
    expect(await accountOf(tenant).reserve(limited.taskUUID, 20_000, 1, { budgetMicros: 20_000 }, now, tenant)).toBeNull()
  })
})

describe('TaskShard.recordResults', () => {
  it("records each result once, settles a success at Runware's reported cost (else the reserved price), and indexes its image", async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard) => {
      const now = at('2026-10-20T23:30:00Z')
      const record = await task(tenant, 3, { createdAt: now })
      await shard.open(record, 40_000, {}, FAR)

      const priced = success(record, 0, now, { cost: 0.05, seed: 7 })
      const unpriced = success(record, 1, now) // no seed, no cost
      const first = await shard.recordResults(record.taskUUID, [priced, unpriced, success(record, 7, now)], now)
      const unpricedRecord = { ...unpriced, seed: 11 } // the child's own seed fills in
      expect(first).toEqual({ task: record, results: [priced, unpricedRecord], claimed: [priced, unpricedRecord], final: null })
      expect(shard.usage('2026-10-20', '2026-10-20')).toEqual([
        { day: '2026-10-20', model: record.model, key: '', images: 2, costMicros: 90_000 },
      ])
      expect(shard.usage('2026-10-21', '2026-10-31')).toEqual([])

      // A second report of index 0 changes nothing: not claimed, not charged, its image not indexed.
      const late = success(record, 0, now + 1000, { cost: 0.5 })
      const second = await shard.recordResults(record.taskUUID, [late], now + 1000)
      expect(second).toEqual({ task: record, results: [priced, unpricedRecord], claimed: [], final: null })
      expect(shard.usage('2026-10-20', '2026-10-20')).toEqual([
        { day: '2026-10-20', model: record.model, key: '', images: 2, costMicros: 90_000 },
      ])

      expect(shard.findImages([priced.imageUUID, unpriced.imageUUID, late.imageUUID, crypto.randomUUID()])).toEqual({
        [priced.imageUUID]: priced.objectKey,
        [unpriced.imageUUID]: unpriced.objectKey,
      })
    })
  })

  it('makes the task final on its last result (succeeded if any did, else failed), and then records nothing more', async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard, state) => {
      const now = at('2026-10-21T10:00:00Z')
      const mixed = await task(tenant, 2, { createdAt: now })
      await shard.open(mixed, 10_000, {}, FAR)
      const ok = success(mixed, 0, now)
      expect((await shard.recordResults(mixed.taskUUID, [ok], now))?.final).toBeNull()
      const bad = failure(1, now + 5)
      const last = await shard.recordResults(mixed.taskUUID, [bad], now + 5)
      const results = [{ ...ok, seed: 10 }, bad]
      expect(last).toEqual({ task: mixed, results, claimed: [bad], final: { ...mixed, status: 'succeeded', finishedAt: now + 5, results } })
      expect(column(state, mixed.taskUUID, 'state')).toBe(FINAL)
      expect(dueAt(state, mixed.taskUUID)).toBeNull()
      expect((await shard.read(mixed.taskUUID))?.task).toMatchObject({ status: 'succeeded', finishedAt: now + 5 })
      expect((await shard.read(mixed.taskUUID))?.results).toEqual(results)
      // Recording on a final task: no new result, and no second `final`.
      const after = await shard.recordResults(mixed.taskUUID, [success(mixed, 1, now + 9)], now + 9)
      expect(after).toMatchObject({ claimed: [], final: null, results })

      const failed = await task(tenant, 2, { createdAt: now })
      await shard.open(failed, 10_000, {}, FAR)
      const end = await shard.recordResults(failed.taskUUID, [failure(1, now), failure(0, now)], now)
      expect(end?.final?.status).toBe('failed')
      expect(end?.claimed.map((r) => r.index)).toEqual([1, 0])
      expect(end?.results.map((r) => r.index)).toEqual([0, 1])
      expect((await shard.read(failed.taskUUID))?.task.status).toBe('failed')
      // Unbilled failures cost nothing: the one success, at the reserved price.
      expect(shard.usage('2026-10-21', '2026-10-21')).toEqual([
        { day: '2026-10-21', model: mixed.model, key: '', images: 1, costMicros: 10_000 },
      ])
    })
  })

  it('counts a possibly billed failure at the reserved price, as spend and not as an image', async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard) => {
      const now = at('2026-10-21T12:00:00Z')
      const record = await task(tenant, 2, { createdAt: now })
      await shard.open(record, 30_000, {}, FAR)
      await shard.recordResults(record.taskUUID, [failure(0, now, true), failure(1, now)], now)
      expect(shard.usage('2026-10-21', '2026-10-21')).toEqual([
        { day: '2026-10-21', model: record.model, key: '', images: 0, costMicros: 30_000 },
      ])
      expect((await shard.read(record.taskUUID))?.results[0]).toEqual(failure(0, now, true))
    })
  })

  it('returns null for an unknown or removed task', async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard, state) => {
      const now = at('2026-10-22T10:00:00Z')
      const record = await task(tenant, 1, { createdAt: now })
      expect(await shard.recordResults(crypto.randomUUID(), [success(record, 0, now)], now)).toBeNull()
      expect(await shard.read(crypto.randomUUID())).toBeNull()
      await shard.open(record, 10_000, {}, FAR)
      await shard.remove(record.taskUUID)
      expect(await shard.recordResults(record.taskUUID, [success(record, 0, now)], now)).toBeNull()
      expect(rows(state, 'SELECT COUNT(*) AS c FROM results')).toEqual([{ c: 0 }])
      expect(shard.usage('2026-10-22', '2026-10-22')).toEqual([])
    })
  })
})

describe('TaskShard.remove', () => {
  it("marks the task deleted, drops its results and its images (not others'), and keeps the taskUUID taken", async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard, state) => {
      const now = at('2026-10-23T10:00:00Z')
      const record = await task(tenant, 2, { createdAt: now })
      await shard.open(record, 10_000, {}, FAR)
      const made = success(record, 0, now, { cost: 0.02 })
      await shard.recordResults(record.taskUUID, [made, failure(1, now)], now)
      const upload = crypto.randomUUID()
      shard.addImage(upload, `uploads/${tenant}/${upload}`, now)
      const other = await task(tenant, 1, { createdAt: now })
      await shard.open(other, 10_000, {}, FAR)
      const otherImage = success(other, 0, now)
      await shard.recordResults(other.taskUUID, [otherImage], now)
      const id = column(state, record.taskUUID, 't.id') as number

      await shard.remove(record.taskUUID)
      const read = await shard.read(record.taskUUID)
      expect(read).toMatchObject({ task: { taskUUID: record.taskUUID, model: record.model, deleted: true }, results: [] })
      expect(column(state, record.taskUUID, 'state')).toBe(DELETED)
      expect(dueAt(state, record.taskUUID)).toBeNull()
      expect(column(state, record.taskUUID, 'detail')).toBeNull()
      expect(rows(state, 'SELECT COUNT(*) AS c FROM results WHERE task = ?', id)).toEqual([{ c: 0 }])
      expect(Object.keys(shard.findImages([made.imageUUID, upload, otherImage.imageUUID])).sort()).toEqual(
        [upload, otherImage.imageUUID].sort(),
      )
      // The other task is untouched, and the spend already made is not refunded.
      expect((await shard.read(other.taskUUID))?.results).toEqual([{ ...otherImage, seed: 10 }])
      expect(shard.usage('2026-10-23', '2026-10-23')[0]).toMatchObject({ images: 2, costMicros: 30_000 })

      expect(await shard.open(record, 10_000, {}, FAR)).toMatchObject({ kind: 'existing', task: { deleted: true }, results: [] })
      expect(rows(state, 'SELECT COUNT(*) AS c FROM tasks')).toEqual([{ c: 2 }])
      expect(shard.sweep(FAR + 10 * recheckMs)).toEqual([]) // neither the deleted task nor the finished one is due
    })
  })
})

describe('TaskShard.abandon', () => {
  it('forgets only an open task with the same createdAt, with its results and its reservation', async () => {
    const tenant = tenantName()
    const stub = aShard(tenant)
    const created = at('2026-10-26T10:00:00Z')
    const record = await task(tenant, 2, { createdAt: created })
    const limits = { maxConcurrentTasks: 5 }
    await inShard(stub, async (shard) => {
      await shard.open(record, 10_000, limits, FAR)
      await shard.recordResults(record.taskUUID, [failure(0, created)], created)
      // Another attempt's createdAt: this task is not the one to forget.
      await shard.abandon(record.taskUUID, created + 1)
      expect((await shard.read(record.taskUUID))?.results).toHaveLength(1)
    })
    expect(await reservationOf(tenant, record.taskUUID)).toEqual([{ per_result: 10_000, open: 1 }])

    await inShard(stub, async (shard, state) => {
      await shard.abandon(record.taskUUID, created)
      expect(await shard.read(record.taskUUID)).toBeNull()
      expect(rows(state, 'SELECT COUNT(*) AS c FROM results')).toEqual([{ c: 0 }])
    })
    expect(await reservationOf(tenant, record.taskUUID)).toEqual([])

    await inShard(stub, async (shard) => {
      // The taskUUID is free again: a re-send starts afresh.
      expect(await shard.open(record, 10_000, limits, FAR)).toEqual({ kind: 'created' })
      expect(await shard.read(record.taskUUID)).toEqual({ task: record, results: [] })

      // A final or deleted task is never forgotten.
      const final = await task(tenant, 1, { createdAt: created })
      await shard.open(final, 10_000, {}, FAR)
      await shard.recordResults(final.taskUUID, [failure(0, created)], created)
      await shard.abandon(final.taskUUID, created)
      expect((await shard.read(final.taskUUID))?.results).toHaveLength(1)
      const deleted = await task(tenant, 1, { createdAt: created })
      await shard.open(deleted, 10_000, {}, FAR)
      await shard.remove(deleted.taskUUID)
      await shard.abandon(deleted.taskUUID, created)
      expect((await shard.read(deleted.taskUUID))?.task.deleted).toBe(true)
    })
    expect(await reservationOf(tenant, record.taskUUID)).toEqual([{ per_result: 10_000, open: 2 }])
  })
})
