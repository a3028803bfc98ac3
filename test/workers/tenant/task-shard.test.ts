/**
 * The tenant's ledger object driven directly, inside the object: its SQL keeps each promise —
 * one task per taskUUID, limits checked before reserving, each result recorded once, usage
 * settled at Runware's price, reconciliation scheduling and retention.
 */
import { env } from 'cloudflare:workers'
import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { TASK_RETENTION_SECONDS } from '../../../src/lib/storage-keys'
import type { ResultDraft, TaskRecord } from '../../../src/schemas/records'
import type { TenantLedger } from '../../../src/tenant/tenant-ledger'
import { ledgerOf, taskRecord } from '../helpers'

const DAY_MS = 86_400_000
const recheckMs = Number(env.RECONCILE_AFTER_SECONDS) * 1000
/** A due time a year ahead: the object's real alarm never fires during a test. */
const FAR = Date.now() + 365 * DAY_MS
const at = (iso: string) => Date.parse(iso)

let n = 0
/** A fresh tenant (and so a fresh object) for each test. */
const tenantName = () => `tledger${++n}_${crypto.randomUUID().slice(0, 8)}`

/** Runs `fn` inside `tenant`'s ledger object. */
const inLedger = <R>(tenant: string, fn: (ledger: TenantLedger, state: DurableObjectState) => R | Promise<R>) =>
  runInDurableObject(ledgerOf(tenant), fn)

/** A task of `children` results, one seed each (10, 11, …). */
const task = (tenant: string, children: number, overrides: Partial<TaskRecord> = {}) =>
  taskRecord({
    tenant,
    children: Array.from({ length: children }, (_, i) => ({ taskUUID: crypto.randomUUID(), seed: 10 + i })),
    ...overrides,
  })

type SuccessDraft = Extract<ResultDraft, { ok: true }>

const success = (index: number, now: number, extra: { cost?: number; seed?: number; imageUUID?: string } = {}): SuccessDraft => {
  const imageUUID = extra.imageUUID ?? crypto.randomUUID()
  return { index, ok: true, imageUUID, objectKey: `images/t/${imageUUID}/${index}.jpg`, at: now, ...extra }
}
const failure = (index: number, now: number): ResultDraft => ({ index, ok: false, code: 'providerTimeout', message: 'slow', at: now })

const rows = (state: DurableObjectState, query: string, ...bindings: (string | number)[]) =>
  state.storage.sql.exec<Record<string, SqlStorageValue>>(query, ...bindings).toArray()
const reservation = (state: DurableObjectState, taskUUID: string) =>
  rows(state, 'SELECT per_result, open FROM reservations WHERE task = ?', taskUUID)
const dueAt = (state: DurableObjectState, taskUUID: string) => rows(state, 'SELECT due_at FROM tasks WHERE task = ?', taskUUID)[0]?.due_at

describe('TenantLedger.open', () => {
  it('creates a task with its reservation; a second open of the taskUUID returns the stored task and its results', async () => {
    const tenant = tenantName()
    await inLedger(tenant, async (ledger, state) => {
      const now = at('2026-10-05T10:00:00Z')
      const record = task(tenant, 3, { createdAt: now })
      expect(await ledger.open(record, 20_000, {}, FAR)).toEqual({ kind: 'created' })
      expect(ledger.read(record.taskUUID)).toEqual({ task: record, results: [] })
      expect(reservation(state, record.taskUUID)).toEqual([{ per_result: 20_000, open: 3 }])
      expect(rows(state, 'SELECT state, created_at, due_at FROM tasks WHERE task = ?', record.taskUUID)).toEqual([
        { state: 'open', created_at: now, due_at: FAR },
      ])

      const first = success(0, now, { seed: 99 })
      ledger.recordResults(record.taskUUID, [first], now)
      // Another body, price and tighter limits under the same taskUUID: the stored task wins, and an
      // existing task is never refused (its reservation is already counted).
      const again = await ledger.open({ ...record, requestHash: 'other' }, 70_000, { maxConcurrentTasks: 1, budgetMicros: 1 }, FAR)
      expect(again).toEqual({ kind: 'existing', task: record, results: [first] })
      expect(reservation(state, record.taskUUID)).toEqual([{ per_result: 20_000, open: 2 }])
      expect(rows(state, 'SELECT COUNT(*) AS c FROM tasks')).toEqual([{ c: 1 }])
    })
  })
})

describe('TenantLedger refusals', () => {
  it('counts open reservations against maxConcurrentTasks, creates nothing when refused, and frees the slot when a task finishes', async () => {
    const tenant = tenantName()
    await inLedger(tenant, async (ledger, state) => {
      const now = at('2026-10-06T10:00:00Z')
      const limits = { maxConcurrentTasks: 2 }
      const [a, b, c] = [task(tenant, 1, { createdAt: now }), task(tenant, 1, { createdAt: now }), task(tenant, 1, { createdAt: now })]
      expect(await ledger.open(a, 1000, limits, FAR)).toEqual({ kind: 'created' })
      expect(await ledger.open(b, 1000, limits, FAR)).toEqual({ kind: 'created' })
      expect(await ledger.open(c, 1000, limits, FAR)).toEqual({ kind: 'refused', refusal: { reason: 'concurrency', limit: 2 } })
      expect(ledger.read(c.taskUUID)).toBeNull()
      expect(reservation(state, c.taskUUID)).toEqual([])
      expect(rows(state, 'SELECT COUNT(*) AS c FROM tasks')).toEqual([{ c: 2 }])

      // a finishes: its reservation goes, and with it its in-flight slot.
      expect(ledger.recordResults(a.taskUUID, [failure(0, now)], now)?.final).not.toBeNull()
      expect(await ledger.open(c, 1000, limits, FAR)).toEqual({ kind: 'created' })
    })
  })

  it('refuses a task when spent + reserved + needed exceeds the budget, with the figures, and admits it once a finished task frees its reservation', async () => {
    const tenant = tenantName()
    await inLedger(tenant, async (ledger) => {
      const now = at('2026-10-07T10:00:00Z')
      const limits = { budgetMicros: 200_000, budgetPeriod: 'month' as const }
      const a = task(tenant, 3, { createdAt: now })
      expect(await ledger.open(a, 30_000, limits, FAR)).toEqual({ kind: 'created' }) // reserves 90 000
      ledger.recordResults(a.taskUUID, [success(0, now, { cost: 0.01 })], now) // spends 10 000; 2 × 30 000 still reserved

      const b = task(tenant, 2, { createdAt: now })
      expect(await ledger.open(b, 80_000, limits, FAR)).toEqual({
        kind: 'refused',
        refusal: { reason: 'budget', budgetMicros: 200_000, spentMicros: 10_000, reservedMicros: 60_000, neededMicros: 160_000 },
      })
      expect(ledger.read(b.taskUUID)).toBeNull()

      // a finishes: one more success at the reservation's price (no cost reported), one failure.
      const done = ledger.recordResults(a.taskUUID, [success(1, now), failure(2, now)], now)
      expect(done?.final?.status).toBe('succeeded')
      // Now 40 000 spent + 0 reserved + 160 000 needed = exactly the budget: admitted.
      expect(await ledger.open(b, 80_000, limits, FAR)).toEqual({ kind: 'created' })
      // And the next micro-dollar is refused.
      const c = task(tenant, 1, { createdAt: now })
      expect(await ledger.open(c, 1, limits, FAR)).toMatchObject({
        kind: 'refused',
        refusal: { reason: 'budget', spentMicros: 40_000, reservedMicros: 160_000, neededMicros: 1 },
      })
    })
  })

  it("counts the month's earlier days against a month budget, and only today's spend against a day budget", async () => {
    const tenant = tenantName()
    await inLedger(tenant, async (ledger) => {
      const day1 = at('2026-11-01T12:00:00Z')
      const first = task(tenant, 1, { createdAt: day1 })
      expect(await ledger.open(first, 50_000, {}, FAR)).toEqual({ kind: 'created' })
      ledger.recordResults(first.taskUUID, [success(0, day1, { cost: 0.06 })], day1)
      expect(ledger.usage('2026-11-01', '2026-11-30')).toEqual([{ day: '2026-11-01', model: first.model, images: 1, costMicros: 60_000 }])

      const month = { budgetMicros: 100_000, budgetPeriod: 'month' as const }
      const daily = { budgetMicros: 100_000, budgetPeriod: 'day' as const }
      const refusedBy = (spentMicros: number) => ({
        kind: 'refused',
        refusal: { reason: 'budget', budgetMicros: 100_000, spentMicros, reservedMicros: 0, neededMicros: 50_000 },
      })

      // Later on day 1, a day budget counts the day's spend.
      const lateDay1 = task(tenant, 1, { createdAt: at('2026-11-01T23:59:00Z') })
      expect(await ledger.open(lateDay1, 50_000, daily, FAR)).toEqual(refusedBy(60_000))

      // On day 2 a month budget still counts day 1 …
      const day2 = at('2026-11-02T08:00:00Z')
      const monthly2 = task(tenant, 1, { createdAt: day2 })
      expect(await ledger.open(monthly2, 50_000, month, FAR)).toEqual(refusedBy(60_000))
      expect(ledger.read(monthly2.taskUUID)).toBeNull()
      // … while a day budget starts afresh.
      const daily2 = task(tenant, 1, { createdAt: day2 })
      expect(await ledger.open(daily2, 50_000, daily, FAR)).toEqual({ kind: 'created' })

      // A new month starts afresh too: 0 spent + 50 000 reserved (daily2) + 50 000 fits 100 000.
      const december = task(tenant, 1, { createdAt: at('2026-12-01T00:00:00Z') })
      expect(await ledger.open(december, 50_000, month, FAR)).toEqual({ kind: 'created' })
    })
  })
})

describe('TenantLedger.recordResults', () => {
  it("records each result once, settles a success at Runware's reported cost (else the reserved price), and indexes its image", async () => {
    const tenant = tenantName()
    await inLedger(tenant, async (ledger, state) => {
      const now = at('2026-10-20T23:30:00Z')
      const record = task(tenant, 3, { createdAt: now })
      await ledger.open(record, 40_000, {}, FAR)

      const priced = success(0, now, { cost: 0.05, seed: 7 })
      const unpriced = success(1, now) // no seed, no cost
      const first = ledger.recordResults(record.taskUUID, [priced, unpriced, success(7, now)], now)
      const unpricedRecord = { ...unpriced, seed: 11 } // the child's own seed fills in
      expect(first).toEqual({ task: record, results: [priced, unpricedRecord], claimed: [priced, unpricedRecord], final: null })
      expect(ledger.usage('2026-10-20', '2026-10-20')).toEqual([{ day: '2026-10-20', model: record.model, images: 2, costMicros: 90_000 }])
      expect(ledger.usage('2026-10-21', '2026-10-31')).toEqual([])
      expect(reservation(state, record.taskUUID)).toEqual([{ per_result: 40_000, open: 1 }])

      // A second report of index 0 changes nothing: not claimed, not charged, its image not indexed.
      const late = success(0, now + 1000, { cost: 0.5 })
      const second = ledger.recordResults(record.taskUUID, [late], now + 1000)
      expect(second).toEqual({ task: record, results: [priced, unpricedRecord], claimed: [], final: null })
      expect(ledger.usage('2026-10-20', '2026-10-20')).toEqual([{ day: '2026-10-20', model: record.model, images: 2, costMicros: 90_000 }])
      expect(reservation(state, record.taskUUID)).toEqual([{ per_result: 40_000, open: 1 }])

      expect(ledger.findImages([priced.imageUUID, unpriced.imageUUID, late.imageUUID, crypto.randomUUID()])).toEqual({
        [priced.imageUUID]: priced.objectKey,
        [unpriced.imageUUID]: unpriced.objectKey,
      })
    })
  })

  it('makes the task final on its last result (succeeded if any did, else failed), deletes the reservation, and then records nothing more', async () => {
    const tenant = tenantName()
    await inLedger(tenant, async (ledger, state) => {
      const now = at('2026-10-21T10:00:00Z')
      const mixed = task(tenant, 2, { createdAt: now })
      await ledger.open(mixed, 10_000, {}, FAR)
      const ok = success(0, now)
      expect(ledger.recordResults(mixed.taskUUID, [ok], now)?.final).toBeNull()
      const bad = failure(1, now + 5)
      const last = ledger.recordResults(mixed.taskUUID, [bad], now + 5)
      const results = [{ ...ok, seed: 10 }, bad]
      expect(last).toEqual({
        task: mixed,
        results,
        claimed: [bad],
        final: { ...mixed, status: 'succeeded', finishedAt: now + 5, results },
      })
      expect(reservation(state, mixed.taskUUID)).toEqual([])
      expect(rows(state, 'SELECT state, finished_at, due_at FROM tasks WHERE task = ?', mixed.taskUUID)).toEqual([
        { state: 'final', finished_at: now + 5, due_at: null },
      ])
      expect(ledger.read(mixed.taskUUID)?.task).toEqual({ ...mixed, status: 'succeeded', finishedAt: now + 5 })
      // Recording on a final task: no new result, and no second `final`.
      expect(ledger.recordResults(mixed.taskUUID, [success(1, now + 9)], now + 9)).toMatchObject({ claimed: [], final: null })

      const failed = task(tenant, 2, { createdAt: now })
      await ledger.open(failed, 10_000, {}, FAR)
      const end = ledger.recordResults(failed.taskUUID, [failure(1, now), failure(0, now)], now)
      expect(end?.final?.status).toBe('failed')
      expect(end?.claimed.map((r) => r.index)).toEqual([1, 0])
      expect(end?.results.map((r) => r.index)).toEqual([0, 1])
      // Failures cost nothing.
      expect(ledger.usage('2026-10-21', '2026-10-21')).toEqual([{ day: '2026-10-21', model: mixed.model, images: 1, costMicros: 10_000 }])
    })
  })

  it('returns null for an unknown or removed task', async () => {
    const tenant = tenantName()
    await inLedger(tenant, async (ledger, state) => {
      const now = at('2026-10-22T10:00:00Z')
      expect(ledger.recordResults(crypto.randomUUID(), [success(0, now)], now)).toBeNull()
      const record = task(tenant, 1, { createdAt: now })
      await ledger.open(record, 10_000, {}, FAR)
      await ledger.remove(record.taskUUID)
      expect(ledger.recordResults(record.taskUUID, [success(0, now)], now)).toBeNull()
      expect(rows(state, 'SELECT COUNT(*) AS c FROM results')).toEqual([{ c: 0 }])
      expect(ledger.usage('2026-10-22', '2026-10-22')).toEqual([])
    })
  })
})

describe('TenantLedger.remove', () => {
  it("marks the task deleted, drops its results, reservation and images (not others'), and keeps the taskUUID taken", async () => {
    const tenant = tenantName()
    await inLedger(tenant, async (ledger, state) => {
      const now = at('2026-10-23T10:00:00Z')
      const record = task(tenant, 2, { createdAt: now })
      await ledger.open(record, 10_000, {}, FAR)
      const made = success(0, now, { cost: 0.02 })
      ledger.recordResults(record.taskUUID, [made], now)
      const upload = crypto.randomUUID()
      ledger.addImage(upload, `uploads/${tenant}/${upload}`, now)
      const other = task(tenant, 1, { createdAt: now })
      await ledger.open(other, 10_000, {}, FAR)
      const otherImage = success(0, now)
      ledger.recordResults(other.taskUUID, [otherImage], now)

      await ledger.remove(record.taskUUID)
      expect(ledger.read(record.taskUUID)).toEqual({ task: { ...record, deleted: true }, results: [] })
      expect(rows(state, 'SELECT state, due_at FROM tasks WHERE task = ?', record.taskUUID)).toEqual([{ state: 'deleted', due_at: null }])
      expect(rows(state, 'SELECT COUNT(*) AS c FROM results WHERE task = ?', record.taskUUID)).toEqual([{ c: 0 }])
      expect(reservation(state, record.taskUUID)).toEqual([])
      expect(rows(state, 'SELECT COUNT(*) AS c FROM images WHERE task = ?', record.taskUUID)).toEqual([{ c: 0 }])
      expect(Object.keys(ledger.findImages([made.imageUUID, upload, otherImage.imageUUID])).sort()).toEqual(
        [upload, otherImage.imageUUID].sort(),
      )
      // The other task is untouched, and the spend already made is not refunded.
      expect(ledger.read(other.taskUUID)?.results).toHaveLength(1)
      expect(ledger.usage('2026-10-23', '2026-10-23')[0]).toMatchObject({ images: 2, costMicros: 30_000 })

      expect(await ledger.open(record, 10_000, {}, FAR)).toEqual({ kind: 'existing', task: { ...record, deleted: true }, results: [] })
      expect(ledger.sweep(FAR + 10 * recheckMs)).toEqual([]) // neither the deleted task nor the finished one is due
    })
  })
})

describe('TenantLedger.sweep and settled', () => {
  it('hands out due tasks oldest first and makes each due again one RECONCILE_AFTER later', async () => {
    const tenant = tenantName()
    await inLedger(tenant, async (ledger, state) => {
      const base = FAR
      const created = at('2026-10-24T10:00:00Z')
      const [a, b, later] = [
        task(tenant, 1, { createdAt: created }),
        task(tenant, 1, { createdAt: created }),
        task(tenant, 1, { createdAt: created }),
      ]
      const now = base + 2000
      // `later` falls due just after a and b are due again.
      const laterDue = now + recheckMs + 1
      await ledger.open(a, 0, {}, base + 1000)
      await ledger.open(b, 0, {}, base + 500)
      await ledger.open(later, 0, {}, laterDue)
      const message = (r: TaskRecord) => ({ v: 1, tenant, taskUUID: r.taskUUID })

      expect(ledger.sweep(base + 499)).toEqual([])
      expect(ledger.sweep(now)).toEqual([message(b), message(a)])
      expect(dueAt(state, a.taskUUID)).toBe(now + recheckMs)
      expect(dueAt(state, b.taskUUID)).toBe(now + recheckMs)
      expect(dueAt(state, later.taskUUID)).toBe(laterDue)
      expect(ledger.sweep(now)).toEqual([])
      expect(ledger.sweep(now + recheckMs - 1)).toEqual([])
      const again = ledger.sweep(now + recheckMs)
      expect(again).toHaveLength(2)
      expect(again).toEqual(expect.arrayContaining([message(a), message(b)]))
      expect(ledger.sweep(laterDue)).toEqual([message(later)])
      expect(dueAt(state, a.taskUUID)).toBe(now + 2 * recheckMs)
    })
  })

  it('clears a finished task from the schedule, keeps one with client deliveries until settled(), and ignores settled() on an open task', async () => {
    const tenant = tenantName()
    await inLedger(tenant, async (ledger, state) => {
      const base = FAR
      const created = at('2026-10-25T10:00:00Z')
      const plain = task(tenant, 1, { createdAt: created })
      const hooked = task(tenant, 1, { createdAt: created, webhookURL: 'https://client.example/hook' })
      const open = task(tenant, 1, { createdAt: created })
      for (const r of [plain, hooked, open]) await ledger.open(r, 0, {}, base + 1000)

      expect(ledger.recordResults(plain.taskUUID, [failure(0, base)], base)?.final).not.toBeNull()
      expect(dueAt(state, plain.taskUUID)).toBeNull()
      expect(ledger.recordResults(hooked.taskUUID, [failure(0, base)], base)?.final).not.toBeNull()
      expect(dueAt(state, hooked.taskUUID)).toBe(base + recheckMs)

      ledger.settled(hooked.taskUUID)
      expect(dueAt(state, hooked.taskUUID)).toBeNull()
      ledger.settled(open.taskUUID)
      expect(dueAt(state, open.taskUUID)).toBe(base + 1000)
      expect(ledger.sweep(base + 100 * recheckMs)).toEqual([{ v: 1, tenant, taskUUID: open.taskUUID }])
    })
  })
})

describe('TenantLedger.abandon', () => {
  it('forgets only an open task with the same createdAt, with its results and reservation', async () => {
    const tenant = tenantName()
    await inLedger(tenant, async (ledger, state) => {
      const created = at('2026-10-26T10:00:00Z')
      const record = task(tenant, 2, { createdAt: created })
      await ledger.open(record, 10_000, {}, FAR)
      ledger.recordResults(record.taskUUID, [failure(0, created)], created)

      // Another attempt's createdAt: this task is not the one to forget.
      ledger.abandon(record.taskUUID, created + 1)
      expect(ledger.read(record.taskUUID)?.results).toHaveLength(1)
      expect(reservation(state, record.taskUUID)).toEqual([{ per_result: 10_000, open: 1 }])

      ledger.abandon(record.taskUUID, created)
      expect(ledger.read(record.taskUUID)).toBeNull()
      expect(rows(state, 'SELECT COUNT(*) AS c FROM results WHERE task = ?', record.taskUUID)).toEqual([{ c: 0 }])
      expect(reservation(state, record.taskUUID)).toEqual([])
      // The taskUUID is free again: a re-send starts afresh.
      expect(await ledger.open(record, 10_000, {}, FAR)).toEqual({ kind: 'created' })

      // A final or deleted task is never forgotten.
      const final = task(tenant, 1, { createdAt: created })
      await ledger.open(final, 10_000, {}, FAR)
      ledger.recordResults(final.taskUUID, [failure(0, created)], created)
      ledger.abandon(final.taskUUID, created)
      expect(ledger.read(final.taskUUID)?.results).toHaveLength(1)
      const deleted = task(tenant, 1, { createdAt: created })
      await ledger.open(deleted, 10_000, {}, FAR)
      await ledger.remove(deleted.taskUUID)
      ledger.abandon(deleted.taskUUID, created)
      expect(ledger.read(deleted.taskUUID)?.task.deleted).toBe(true)
    })
  })
})

describe('TenantLedger alarm: retention', () => {
  it('forgets final and deleted tasks (and images) past TASK_RETENTION_SECONDS; open tasks and recent ones stay', async () => {
    const tenant = tenantName()
    await inLedger(tenant, async (ledger, state) => {
      const now = Date.now()
      const old = now - TASK_RETENTION_SECONDS * 1000 - DAY_MS
      const justInside = now - TASK_RETENTION_SECONDS * 1000 + 3_600_000
      // Every due time lies a year ahead, so the alarm hands nothing to the reconcile queue.
      const oldFinal = task(tenant, 1, { createdAt: old })
      const oldOpen = task(tenant, 2, { createdAt: old })
      const oldDeleted = task(tenant, 1, { createdAt: old })
      const recentFinal = task(tenant, 1, { createdAt: justInside })
      for (const r of [oldFinal, oldOpen, oldDeleted, recentFinal]) await ledger.open(r, 0, {}, FAR)
      const oldImage = success(0, old)
      ledger.recordResults(oldFinal.taskUUID, [oldImage], old)
      ledger.recordResults(oldOpen.taskUUID, [failure(0, old)], old)
      await ledger.remove(oldDeleted.taskUUID)
      ledger.recordResults(recentFinal.taskUUID, [failure(0, justInside)], justInside)
      const [oldUpload, newUpload] = [crypto.randomUUID(), crypto.randomUUID()]
      ledger.addImage(oldUpload, `uploads/${tenant}/${oldUpload}`, old)
      ledger.addImage(newUpload, `uploads/${tenant}/${newUpload}`, now)

      await ledger.alarm()

      expect(ledger.read(oldFinal.taskUUID)).toBeNull()
      expect(ledger.read(oldDeleted.taskUUID)).toBeNull()
      expect(rows(state, 'SELECT COUNT(*) AS c FROM results WHERE task = ?', oldFinal.taskUUID)).toEqual([{ c: 0 }])
      expect(ledger.read(oldOpen.taskUUID)?.results).toHaveLength(1)
      expect(ledger.read(recentFinal.taskUUID)?.results).toHaveLength(1)
      expect(Object.keys(ledger.findImages([oldImage.imageUUID, oldUpload, newUpload]))).toEqual([newUpload])
      // Nothing was due, so the schedule is untouched.
      expect(dueAt(state, oldOpen.taskUUID)).toBe(FAR)
    })
  })

  // Alarms and deletions must cost the same whatever the history: no statement of theirs scans a table.
  it('prunes and deletes through indexes, never a scan of the whole history', async () => {
    await inLedger(tenantName(), async (_ledger, state) => {
      const statements = [
        ["SELECT task FROM tasks WHERE state != 'open' AND created_at < ?", 1],
        ["DELETE FROM tasks WHERE state != 'open' AND created_at < ?", 1],
        ['DELETE FROM images WHERE created_at < ?', 1],
        ['DELETE FROM images WHERE task = ?', 'x'],
        ['SELECT MIN(due_at) AS v FROM tasks', undefined],
      ] as const
      for (const [sql, binding] of statements) {
        const plan = rows(state, `EXPLAIN QUERY PLAN ${sql}`, ...(binding === undefined ? [] : [binding])) as { detail: string }[]
        const details = plan.map((p) => p.detail).join('; ')
        expect(details, sql).not.toMatch(/^SCAN (tasks|images)$|; SCAN (tasks|images)$|SCAN (tasks|images)(;|$)/)
        expect(details, sql).toMatch(/USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY|SEARCH/)
      }
    })
  })
})
