/**
 * Budget threshold alerts, decided in the tenant's account object: each threshold of each budget
 * is claimed once per period, queued once, and kept for the next settlement when queuing fails.
 */
import { env } from 'cloudflare:workers'
import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { accountOf } from '../helpers'
import { at, tenantName } from './shard-fixtures'

const uuid = () => crypto.randomUUID()

describe('TenantAccount threshold alerts', () => {
  it('claims each threshold once per period, however often spend settles, and queues its event once', async () => {
    const tenant = tenantName('tacct')
    await runInDurableObject(accountOf(tenant), async (account) => {
      const { queued, batches } = countQueue(account)
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
      // One queue call per settlement that crossed something; none for the others.
      expect(batches()).toBe(3)
    })
  })

  it("sends a tenant budget's alert naming the tenant, keeps one whose queuing failed for the next settlement, and settles a budget without alerts", async () => {
    const tenant = tenantName('tacct')
    await runInDurableObject(accountOf(tenant), async (account) => {
      const { queued, batches, failNext } = countQueue(account)
      const now = at('2026-12-07T10:00:00Z')
      account.setTenantBudget(
        { budgetMicros: 100_000, budgetPeriod: 'day', alerts: { webhookURL: 'https://hooks.example.com/t', thresholds: [0.5] } },
        tenant,
      )
      // A key with a budget and no alerts settles like any other.
      const quiet = { keyId: 'key_quiet', budgetMicros: 500_000 }
      const [a, b] = [uuid(), uuid()]
      expect(await account.reserve(a, 30_000, 2, quiet, now, tenant)).toBeNull()
      await account.settle(a, [{ index: 0, micros: 30_000 }], now)
      expect(batches()).toBe(0)

      failNext()
      await account.settle(a, [{ index: 1, micros: 30_000 }], now) // 60 % of the tenant's budget: claimed, but the queue refuses
      expect(queued).toEqual([])
      expect(batches()).toBe(1)
      // The next settlement sends it, though it crossed nothing itself (an unbilled failure).
      expect(await account.reserve(b, 30_000, 1, quiet, now, tenant)).toBeNull()
      await account.settle(b, [{ index: 0, micros: 0 }], now)
      expect(queued).toEqual([
        {
          v: 1,
          kind: 'alert',
          tenant,
          id: 'bud_tenant_2026-12-07_50',
          url: 'https://hooks.example.com/t',
          event: { type: 'budget.threshold', tenant, threshold: 0.5, spentUSD: 0.06, budgetUSD: 0.1, periodStart: '2026-12-07' },
        },
      ])
    })
  })
})

/** The account's own queue binding replaced by one that records what it is sent, and can refuse once. */
function countQueue(account: unknown) {
  const queued: { id: string; event: Record<string, unknown> }[] = []
  let calls = 0
  let refuse = false
  const queue = {
    sendBatch: async (batch: { body: { id: string; event: Record<string, unknown> } }[]) => {
      calls++
      if (refuse) {
        refuse = false
        throw new Error('queue unavailable')
      }
      queued.push(...batch.map((b) => b.body))
    },
  }
  ;(account as { env: Env }).env = { ...env, DELIVERIES: queue } as unknown as Env
  return { queued, batches: () => calls, failNext: () => void (refuse = true) }
}
