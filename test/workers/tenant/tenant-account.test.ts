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
    expect(await account.reserve(a, 1000, 2, limits, now, tenant)).toBeNull()
    expect(await account.reserve(b, 1000, 1, {}, now, tenant)).toBeNull() // a task without a slot limit still holds one
    expect(await account.reserve(c, 1000, 1, limits, now, tenant)).toEqual({ reason: 'concurrency', limit: 2 })
    expect(await reservationOf(tenant, c)).toEqual([])

    // A second reserve of a held task is a no-op, whatever the limits.
    expect(await account.reserve(a, 9999, 5, { maxConcurrentTasks: 0, budgetMicros: 0 }, now, tenant)).toBeNull()
    expect(await reservationOf(tenant, a)).toEqual([{ per_result: 1000, open: 2 }])

    await account.settle(a, [{ index: 0, micros: 1000 }], now)
    expect(await account.reserve(c, 1000, 1, limits, now, tenant)).toEqual({ reason: 'concurrency', limit: 2 })
    await account.settle(a, [{ index: 1, micros: 0 }], now)
    expect(await reservationOf(tenant, a)).toEqual([])
    expect(await account.reserve(c, 1000, 1, limits, now, tenant)).toBeNull()
  })

  it('refuses a task when spent + reserved + needed exceeds the budget, with the figures, and admits it once settling frees the reservation', async () => {
    const tenant = tenantName('tacct')
    const account = accountOf(tenant)
    const now = at('2026-10-07T10:00:00Z')
    const limits = { budgetMicros: 200_000, budgetPeriod: 'month' as const }
    const [a, b, c] = [uuid(), uuid(), uuid()]
    expect(await account.reserve(a, 30_000, 3, limits, now, tenant)).toBeNull() // reserves 90 000
    await account.settle(a, [{ index: 0, micros: 10_000 }], now) // spends 10 000; 2 × 30 000 still reserved

    expect(await account.reserve(b, 80_000, 2, limits, now, tenant)).toEqual({
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
    expect(await account.reserve(b, 80_000, 2, limits, now, tenant)).toBeNull()
    // And the next micro-dollar is refused.
    expect(await account.reserve(c, 1, 1, limits, now, tenant)).toEqual({
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
    expect(await account.reserve(first, 50_000, 1, {}, day1, tenant)).toBeNull()
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
    expect(await account.reserve(uuid(), 50_000, 1, daily, at('2026-11-01T23:59:00Z'), tenant)).toEqual(
      refused(60_000, 'day', '2026-11-02T00:00:00.000Z'),
    )
    // On the last day of the month a month budget still counts day 1 …
    const day30 = at('2026-11-30T08:00:00Z')
    expect(await account.reserve(uuid(), 50_000, 1, month, day30, tenant)).toEqual(refused(60_000, 'month', '2026-12-01T00:00:00.000Z'))
    // … while a day budget starts afresh.
    const daily30 = uuid()
    expect(await account.reserve(daily30, 50_000, 1, daily, day30, tenant)).toBeNull()
    await account.release(daily30)
    // A budget without a period is a month budget.
    expect(await account.reserve(uuid(), 50_000, 1, { budgetMicros: 100_000 }, day30, tenant)).toEqual(
      refused(60_000, 'month', '2026-12-01T00:00:00.000Z'),
    )

    // A new month starts afresh too: 0 spent + 0 reserved + 100 000 needed fits 100 000.
    expect(await account.reserve(uuid(), 50_000, 2, month, at('2026-12-01T00:00:00Z'), tenant)).toBeNull()
  })

  it('forgets a reservation no shard settled within two days', async () => {
    const tenant = tenantName('tacct')
    const account = accountOf(tenant)
    const now = at('2026-10-08T10:00:00Z')
    const limits = { maxConcurrentTasks: 1 }
    const [lost, next] = [uuid(), uuid()]
    expect(await account.reserve(lost, 1000, 1, limits, now, tenant)).toBeNull()
    expect(await account.reserve(next, 1000, 1, limits, now + DAY_MS, tenant)).toEqual({ reason: 'concurrency', limit: 1 })
    expect(await account.reserve(next, 1000, 1, limits, now + 2 * DAY_MS + 1, tenant)).toBeNull()
    expect(await reservationOf(tenant, lost)).toEqual([])
  })
})

describe('TenantAccount.settle and release', () => {
  it('settles each result index once, however often or in whatever batch it is told', async () => {
    const tenant = tenantName('tacct')
    const account = accountOf(tenant)
    const now = at('2026-10-09T10:00:00Z')
    const task = uuid()
    expect(await account.reserve(task, 10_000, 3, {}, now, tenant)).toBeNull()
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
    expect(await account.reserve(a, 40_000, 2, limits, now, tenant)).toBeNull()
    await account.settle(a, [{ index: 0, micros: 40_000 }], now)
    expect(await account.reserve(b, 10_000, 1, limits, now, tenant)).toEqual({ reason: 'concurrency', limit: 1 })
    await account.release(a)
    expect(await reservationOf(tenant, a)).toEqual([])
    expect(await account.reserve(b, 70_000, 1, limits, now, tenant)).toMatchObject({
      reason: 'budget',
      spentMicros: 40_000,
      reservedMicros: 0,
    })
    expect(await account.reserve(b, 60_000, 1, limits, now, tenant)).toBeNull()
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

describe('TenantAccount storage', () => {
  it("lists budgets by scope, keys by id and then the tenant's, each standing in its own period", async () => {
    const tenant = tenantName('tacct')
    const account = accountOf(tenant)
    const now = at('2026-12-03T10:00:00Z')
    await account.setTenantBudget({ budgetMicros: 900_000, budgetPeriod: 'month' }, tenant)
    expect(await account.reserve(uuid(), 1_000, 1, { keyId: 'key_b', budgetMicros: 500_000 }, now, tenant)).toBeNull()
    expect(await account.reserve(uuid(), 1_000, 1, { keyId: 'key_a', budgetMicros: 500_000, budgetPeriod: 'day' }, now, tenant)).toBeNull()
    const listed = (await account.budgets(now)).map((b) => [b.keyId, b.budgetPeriod, b.periodStart, b.reservedMicros])
    expect(listed).toEqual([
      ['key_a', 'day', '2026-12-03', 1_000],
      ['key_b', 'month', '2026-12-01', 1_000],
      [null, 'month', '2026-12-01', 2_000],
    ])
  })

  it('writes no spend row for a result that cost nothing, and keeps 40 days of spend', async () => {
    const tenant = tenantName('tacct')
    const account = accountOf(tenant)
    const day1 = at('2026-09-01T10:00:00Z')
    const a = uuid()
    expect(await account.reserve(a, 10_000, 2, {}, day1, tenant)).toBeNull()
    await account.settle(a, [{ index: 0, micros: 0 }], day1) // an unbilled failure
    expect(await spendOf(tenant)).toEqual([])
    await account.settle(a, [{ index: 1, micros: 5_000 }], day1)
    const spendOn = async (days: number) => {
      const [t, now] = [uuid(), day1 + days * DAY_MS]
      expect(await account.reserve(t, 1_000, 1, {}, now, tenant)).toBeNull()
      await account.settle(t, [{ index: 0, micros: 1_000 }], now)
    }
    await spendOn(39)
    expect(await spendOf(tenant)).toEqual([
      { day: '2026-09-01', cost: 5_000 },
      { day: '2026-10-10', cost: 1_000 },
    ])
    await spendOn(41) // 2026-09-01 is now more than 40 days back
    expect(await spendOf(tenant)).toEqual([
      { day: '2026-10-10', cost: 1_000 },
      { day: '2026-10-12', cost: 1_000 },
    ])
  })

  it("runs a key's transitions one after another, answers an unknown key with no record, and forgets the key once they are done", async () => {
    await runInDurableObject(accountOf(tenantName('tacct')), async (account) => {
      const queue = (account as unknown as { keyQueue: Map<string, unknown> }).keyQueue
      // KV held shut for every read after the first: the second transition waits inside its read.
      let reads = 0
      let open!: () => void
      const gate = new Promise<void>((resolve) => (open = resolve))
      const kv = new Proxy(env.TASKS, {
        get: (target, name) =>
          name === 'get'
            ? async (...args: Parameters<KVNamespace['get']>) => {
                if (reads++ > 0) await gate
                return target.get(...args)
              }
            : Reflect.get(target, name),
      })
      ;(account as unknown as { env: Env }).env = { ...env, TASKS: kv }
      const tick = () => new Promise((resolve) => setTimeout(resolve, 0))
      const missing = `key_${uuid()}`
      const [first, second] = [account.keyTransition(missing, 'rotate'), account.keyTransition(missing, 'disable')]
      expect(await first).toEqual({ record: null })
      await tick()
      expect(reads).toBe(2) // the second began only after the first had finished
      expect(queue.size).toBe(1) // and is still the key's place in line
      open()
      expect(await second).toEqual({ record: null })
      await tick()
      expect(queue.size).toBe(0)
    })
  })
})
