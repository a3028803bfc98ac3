/**
 * A tenant's account object: what must be exact across all of its shards. In-flight slots and
 * budgets are checked against open reservations and settled spend, each result settles once,
 * and a shard reserves for, and settles, the limited tasks it holds.
 */
import { env } from 'cloudflare:workers'
import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { accountOf } from '../helpers'
import { aShard, at, DAY_MS, failure, FAR, reservationOf, rows, success, task, tenantName } from './shard-fixtures'

const uuid = () => crypto.randomUUID()
const spendOf = (tenant: string) =>
  runInDurableObject(accountOf(tenant), (_account, state) => rows(state, 'SELECT day, cost FROM key_spend ORDER BY day'))

describe('TenantAccount.reserve', () => {
  it('counts open reservations against maxConcurrentTasks and frees a slot when a task settles its last result', async () => {
    const tenant = tenantName('tacct')
    const account = accountOf(tenant)
    const now = at('2026-10-06T10:00:00Z')
    const limits = { maxConcurrentTasks: 2 }
    const [a, b, c] = [uuid(), uuid(), uuid()]
    expect(await account.reserve(a, 1000, 2, limits, now)).toBeNull()
    expect(await account.reserve(b, 1000, 1, {}, now)).toBeNull() // a task without a slot limit still holds one
    expect(await account.reserve(c, 1000, 1, limits, now)).toEqual({ reason: 'concurrency', limit: 2 })
    expect(await reservationOf(tenant, c)).toEqual([])

    // A second reserve of a held task is a no-op, whatever the limits.
    expect(await account.reserve(a, 9999, 5, { maxConcurrentTasks: 0, budgetMicros: 0 }, now)).toBeNull()
    expect(await reservationOf(tenant, a)).toEqual([{ per_result: 1000, open: 2 }])

    await account.settle(a, [{ index: 0, micros: 1000 }], now)
    expect(await account.reserve(c, 1000, 1, limits, now)).toEqual({ reason: 'concurrency', limit: 2 })
    await account.settle(a, [{ index: 1, micros: 0 }], now)
    expect(await reservationOf(tenant, a)).toEqual([])
    expect(await account.reserve(c, 1000, 1, limits, now)).toBeNull()
  })

  it('refuses a task when spent + reserved + needed exceeds the budget, with the figures, and admits it once settling frees the reservation', async () => {
    const tenant = tenantName('tacct')
    const account = accountOf(tenant)
    const now = at('2026-10-07T10:00:00Z')
    const limits = { budgetMicros: 200_000, budgetPeriod: 'month' as const }
    const [a, b, c] = [uuid(), uuid(), uuid()]
    expect(await account.reserve(a, 30_000, 3, limits, now)).toBeNull() // reserves 90 000
    await account.settle(a, [{ index: 0, micros: 10_000 }], now) // spends 10 000; 2 × 30 000 still reserved

    expect(await account.reserve(b, 80_000, 2, limits, now)).toEqual({
      reason: 'budget',
      scope: 'key',
      budgetPeriod: 'month',
      resetsAt: '2026-11-01T00:00:00.000Z',
      budgetMicros: 200_000,
      spentMicros: 10_000,
      reservedMicros: 60_000,
      neededMicros: 160_000,
    })
    expect(await reservationOf(tenant, b)).toEqual([])

    // a finishes: one more success at the reserved price, one unbilled failure.
    await account.settle(
      a,
      [
        { index: 1, micros: 30_000 },
        { index: 2, micros: 0 },
      ],
      now,
    )
    // Now 40 000 spent + 0 reserved + 160 000 needed = exactly the budget: admitted.
    expect(await account.reserve(b, 80_000, 2, limits, now)).toBeNull()
    // And the next micro-dollar is refused.
    expect(await account.reserve(c, 1, 1, limits, now)).toEqual({
      reason: 'budget',
      scope: 'key',
      budgetPeriod: 'month',
      resetsAt: '2026-11-01T00:00:00.000Z',
      budgetMicros: 200_000,
      spentMicros: 40_000,
      reservedMicros: 160_000,
      neededMicros: 1,
    })
  })

  it("counts the month's earlier days against a month budget, and only today's spend against a day budget", async () => {
    const tenant = tenantName('tacct')
    const account = accountOf(tenant)
    const day1 = at('2026-11-01T12:00:00Z')
    const first = uuid()
    expect(await account.reserve(first, 50_000, 1, {}, day1)).toBeNull()
    await account.settle(first, [{ index: 0, micros: 60_000 }], day1)
    expect(await spendOf(tenant)).toEqual([{ day: '2026-11-01', cost: 60_000 }])

    const month = { budgetMicros: 100_000, budgetPeriod: 'month' as const }
    const daily = { budgetMicros: 100_000, budgetPeriod: 'day' as const }
    const refused = (spentMicros: number, budgetPeriod: 'day' | 'month', resetsAt: string) => ({
      reason: 'budget',
      scope: 'key',
      budgetPeriod,
      resetsAt,
      budgetMicros: 100_000,
      spentMicros,
      reservedMicros: 0,
      neededMicros: 50_000,
    })

    // Later on day 1, a day budget counts the day's spend.
    expect(await account.reserve(uuid(), 50_000, 1, daily, at('2026-11-01T23:59:00Z'))).toEqual(
      refused(60_000, 'day', '2026-11-02T00:00:00.000Z'),
    )
    // On the last day of the month a month budget still counts day 1 …
    const day30 = at('2026-11-30T08:00:00Z')
    expect(await account.reserve(uuid(), 50_000, 1, month, day30)).toEqual(refused(60_000, 'month', '2026-12-01T00:00:00.000Z'))
    // … while a day budget starts afresh.
    const daily30 = uuid()
    expect(await account.reserve(daily30, 50_000, 1, daily, day30)).toBeNull()
    await account.release(daily30)
    // A budget without a period is a month budget.
    expect(await account.reserve(uuid(), 50_000, 1, { budgetMicros: 100_000 }, day30)).toEqual(
      refused(60_000, 'month', '2026-12-01T00:00:00.000Z'),
    )

    // A new month starts afresh too: 0 spent + 0 reserved + 100 000 needed fits 100 000.
    expect(await account.reserve(uuid(), 50_000, 2, month, at('2026-12-01T00:00:00Z'))).toBeNull()
  })

  it('forgets a reservation no shard settled within two days', async () => {
    const tenant = tenantName('tacct')
    const account = accountOf(tenant)
    const now = at('2026-10-08T10:00:00Z')
    const limits = { maxConcurrentTasks: 1 }
    const [lost, next] = [uuid(), uuid()]
    expect(await account.reserve(lost, 1000, 1, limits, now)).toBeNull()
    expect(await account.reserve(next, 1000, 1, limits, now + DAY_MS)).toEqual({ reason: 'concurrency', limit: 1 })
    expect(await account.reserve(next, 1000, 1, limits, now + 2 * DAY_MS + 1)).toBeNull()
    expect(await reservationOf(tenant, lost)).toEqual([])
  })
})

describe('TenantAccount.settle and release', () => {
  it('settles each result index once, however often or in whatever batch it is told', async () => {
    const tenant = tenantName('tacct')
    const account = accountOf(tenant)
    const now = at('2026-10-09T10:00:00Z')
    const task = uuid()
    expect(await account.reserve(task, 10_000, 3, {}, now)).toBeNull()
    await account.settle(task, [{ index: 0, micros: 7_000 }], now)
    await account.settle(task, [{ index: 0, micros: 7_000 }], now)
    await account.settle(
      task,
      [
        { index: 1, micros: 8_000 },
        { index: 1, micros: 8_000 },
        { index: 0, micros: 7_000 },
      ],
      now,
    )
    expect(await spendOf(tenant)).toEqual([{ day: '2026-10-09', cost: 15_000 }])
    expect(await reservationOf(tenant, task)).toEqual([{ per_result: 10_000, open: 1 }])
    await account.settle(task, [{ index: 2, micros: 1_000 }], now)
    expect(await reservationOf(tenant, task)).toEqual([])
    // Told again after the reservation is gone: nothing is counted twice.
    await account.settle(
      task,
      [
        { index: 2, micros: 1_000 },
        { index: 0, micros: 7_000 },
      ],
      now,
    )
    expect(await spendOf(tenant)).toEqual([{ day: '2026-10-09', cost: 16_000 }])
  })

  it('frees a released reservation unsettled, keeping what was already spent', async () => {
    const tenant = tenantName('tacct')
    const account = accountOf(tenant)
    const now = at('2026-10-10T10:00:00Z')
    const limits = { maxConcurrentTasks: 1, budgetMicros: 100_000 }
    const [a, b] = [uuid(), uuid()]
    expect(await account.reserve(a, 40_000, 2, limits, now)).toBeNull()
    await account.settle(a, [{ index: 0, micros: 40_000 }], now)
    expect(await account.reserve(b, 10_000, 1, limits, now)).toEqual({ reason: 'concurrency', limit: 1 })
    await account.release(a)
    expect(await reservationOf(tenant, a)).toEqual([])
    expect(await account.reserve(b, 70_000, 1, limits, now)).toMatchObject({ reason: 'budget', spentMicros: 40_000, reservedMicros: 0 })
    expect(await account.reserve(b, 60_000, 1, limits, now)).toBeNull()
  })
})

describe('TenantAccount through a shard', () => {
  it('reserves for a limited task the shard opens, and settles as the shard records its results', async () => {
    const tenant = tenantName('tacct')
    const shard = aShard(tenant)
    const now = at('2026-10-11T10:00:00Z')
    const limits = { budgetMicros: 200_000, budgetPeriod: 'month' as const }
    const record = await task(tenant, 3, { createdAt: now })
    expect(await shard.open(record, 50_000, limits, FAR)).toEqual({ kind: 'created' })
    expect(await reservationOf(tenant, record.taskUUID)).toEqual([{ per_result: 50_000, open: 3 }])
    // A second task of 60 000 does not fit 200 000 with 150 000 reserved.
    const other = await task(tenant, 1, { createdAt: now })
    expect(await shard.open(other, 60_000, limits, FAR)).toEqual({
      kind: 'refused',
      refusal: {
        reason: 'budget',
        scope: 'key',
        budgetPeriod: 'month',
        resetsAt: '2026-11-01T00:00:00.000Z',
        budgetMicros: 200_000,
        spentMicros: 0,
        reservedMicros: 150_000,
        neededMicros: 60_000,
      },
    })

    // Runware's cost, then the reserved price, then an unbilled failure; index 0 reported twice.
    await shard.recordResults(record.taskUUID, [success(record, 0, now, { cost: 0.02 })], now)
    await shard.recordResults(record.taskUUID, [success(record, 0, now, { cost: 0.02 }), success(record, 1, now)], now)
    expect(await reservationOf(tenant, record.taskUUID)).toEqual([{ per_result: 50_000, open: 1 }])
    expect(await spendOf(tenant)).toEqual([{ day: '2026-10-11', cost: 70_000 }])
    expect((await shard.recordResults(record.taskUUID, [failure(2, now)], now))?.final?.status).toBe('succeeded')
    expect(await reservationOf(tenant, record.taskUUID)).toEqual([])

    // 70 000 spent, nothing reserved: 130 000 fits exactly, one micro-dollar more does not.
    expect(await shard.open(other, 130_001, limits, FAR)).toMatchObject({
      kind: 'refused',
      refusal: { spentMicros: 70_000, reservedMicros: 0, neededMicros: 130_001 },
    })
    expect(await shard.open(other, 130_000, limits, FAR)).toEqual({ kind: 'created' })
  })
})

describe('TenantAccount threshold alerts', () => {
  it('claims each threshold once per period, however often spend settles, and queues its event once', async () => {
    const tenant = tenantName('tacct')
    await runInDurableObject(accountOf(tenant), async (account) => {
      const queued: { id: string; event: Record<string, unknown> }[] = []
      const queue = {
        sendBatch: async (batch: { body: { id: string; event: Record<string, unknown> } }[]) =>
          void queued.push(...batch.map((b) => b.body)),
      }
      // The account's own queue binding, counted.
      ;(account as unknown as { env: Env }).env = { ...env, DELIVERIES: queue } as unknown as Env
      const limits = {
        keyId: 'key_alerted',
        budgetMicros: 90_000,
        budgetPeriod: 'month' as const,
        alerts: { webhookURL: 'https://hooks.example.com/budget', thresholds: [0.5, 1] },
      }
      const now = at('2026-12-05T10:00:00Z')
      for (let i = 0; i < 3; i++) {
        const t = uuid()
        expect(await account.reserve(t, 30_000, 1, limits, now, tenant)).toBeNull()
        // Told twice, as a shard may: counted once.
        await Promise.all([account.settle(t, [{ index: 0, micros: 30_000 }], now), account.settle(t, [{ index: 0, micros: 30_000 }], now)])
      }
      expect(queued.map((m) => m.id)).toEqual(['bud_key_alerted_2026-12-01_50', 'bud_key_alerted_2026-12-01_100'])
      expect(queued.map((m) => m.event)).toEqual([
        { type: 'budget.threshold', keyId: 'key_alerted', threshold: 0.5, spentUSD: 0.06, budgetUSD: 0.09, periodStart: '2026-12-01' },
        { type: 'budget.threshold', keyId: 'key_alerted', threshold: 1, spentUSD: 0.09, budgetUSD: 0.09, periodStart: '2026-12-01' },
      ])
      // A new month starts afresh: the same thresholds can be crossed again.
      const january = at('2027-01-02T10:00:00Z')
      const t = uuid()
      expect(await account.reserve(t, 60_000, 1, limits, january, tenant)).toBeNull()
      await account.settle(t, [{ index: 0, micros: 60_000 }], january)
      expect(queued.map((m) => m.id).slice(2)).toEqual(['bud_key_alerted_2027-01-01_50'])
    })
  })
})
