/** Usage and budgets per key within a shared tenant, and a tenant's own budget (issue 21). */
import { Webhook } from 'standardwebhooks'
import { describe, expect, inject, it } from 'vitest'
import { TEST_SECRETS } from '../../secrets'
import { env } from 'cloudflare:workers'
import { runInDurableObject } from 'cloudflare:test'
import { requireConfig } from '../../../src/config/config'
import { ShardMap } from '../../../src/tenant/shard-map'
import { setting } from '../../../src/tenant/shard-rows'
import { TenantClient } from '../../../src/tenant/tenant-client'
import { accountOf, call, inference, postV1, taskRecord } from '../helpers'

const admin = (path: string, init: RequestInit = {}) =>
  call(`/admin${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}`, 'content-type': 'application/json', ...init.headers },
  })

async function createKey(body: Record<string, unknown>): Promise<{ id: string; key: string; tenant: string }> {
  const res = await admin('/keys', { method: 'POST', body: JSON.stringify(body) })
  expect(res.status).toBe(201)
  return ((await res.json()) as { data: { id: string; key: string; tenant: string } }).data
}

const freshTenant = () => `t${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`
const image = (key: string, overrides: Record<string, unknown> = {}) => postV1([inference({ includeCost: true, ...overrides })], key)

type Group = { keyId: string | null; name: string | null; day?: string; images: number; costUSD: number }
type Usage = { images: number; costUSD: number; groups: Group[]; budgets: Record<string, unknown>[] }

async function usage(path: string, key?: string): Promise<Usage> {
  const res = key ? await call(path, { headers: { authorization: `Bearer ${key}` } }) : await admin(path)
  expect(res.status).toBe(200)
  return ((await res.json()) as { data: Usage }).data
}

describe('usage per key', () => {
  it('counts two keys of one tenant apart: 2 images and $0.06 each, 4 and $0.12 in all', async () => {
    const tenant = freshTenant()
    const [a, b] = [await createKey({ name: 'web', tenant }), await createKey({ name: 'mobile', tenant })]
    for (const k of [a, b, a, b]) expect((await image(k.key)).status).toBe(200)

    const byKey = await usage(`/tenants/${tenant}/usage?groupBy=key`)
    expect(byKey.images).toBe(4)
    expect(byKey.costUSD).toBeCloseTo(0.12, 10)
    const sorted = [...byKey.groups].sort((x, y) => String(x.name).localeCompare(String(y.name)))
    expect(sorted).toEqual([
      { keyId: b.id, name: 'mobile', images: 2, costUSD: 0.06 },
      { keyId: a.id, name: 'web', images: 2, costUSD: 0.06 },
    ])
    // Named by id and name, never by secret.
    expect(JSON.stringify(byKey)).not.toContain(a.key)

    // A client key sees its own tenant the same way; day and key together give each day's split.
    const own = await usage('/v1/usage?groupBy=day,key', a.key)
    const today = new Date().toISOString().slice(0, 10)
    expect(own.groups.filter((g) => g.day === today).map((g) => g.images)).toEqual([2, 2])
    expect((await usage('/v1/usage?groupBy=model', b.key)).groups).toEqual([{ model: 'imagineart:1@5', images: 4, costUSD: 0.12 }])
  })

  it('refuses a bad groupBy by name', async () => {
    const { key } = await createKey({ name: 'x' })
    for (const groupBy of ['tenant', 'key,key', '']) {
      const res = await call(`/v1/usage?groupBy=${groupBy}`, { headers: { authorization: `Bearer ${key}` } })
      expect(res.status, groupBy).toBe(400)
      expect(((await res.json()) as { errors: { parameter: string }[] }).errors[0]?.parameter).toMatch(/^groupBy/)
    }
  })
})

describe('key budgets in a shared tenant', () => {
  it('refuse the third image of a $0.06 key, naming its budget and reset, while the other key goes on', async () => {
    const tenant = freshTenant()
    const limited = await createKey({ name: 'limited', tenant, budgetUSD: 0.06 })
    const free = await createKey({ name: 'free', tenant })
    expect((await image(limited.key)).status).toBe(200)
    expect((await image(free.key)).status).toBe(200)
    expect((await image(limited.key)).status).toBe(200)
    const third = await image(limited.key)
    expect(third.status).toBe(402)
    const error = third.json.errors?.[0] as Record<string, string>
    expect(error).toMatchObject({ code: 'insufficientCredits', budget: 'key' })
    expect(error.message).toContain("This API key's monthly budget of $0.06")
    const now = new Date()
    expect(error.resetsAt).toBe(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString())
    expect(error.message).toContain(error.resetsAt)
    // The other key's spend never counted against it, and it keeps generating.
    for (let i = 0; i < 3; i++) expect((await image(free.key)).status).toBe(200)
  })

  it('dispatch exactly 10 of 20 concurrent $0.03 requests against a $0.30 key budget', async () => {
    const tenant = freshTenant()
    const key = await createKey({ name: 'burst', tenant, budgetUSD: 0.3 })
    const other = await createKey({ name: 'bystander', tenant, budgetUSD: 0.03 })
    expect((await image(other.key)).status).toBe(200)
    const answers = await Promise.all(Array.from({ length: 20 }, () => image(key.key)))
    expect(answers.filter((a) => a.status === 200)).toHaveLength(10)
    expect(answers.filter((a) => a.status === 402)).toHaveLength(10)
    const byKey = await usage(`/tenants/${tenant}/usage?groupBy=key`)
    expect(byKey.groups.find((g) => g.keyId === key.id)).toMatchObject({ images: 10, costUSD: 0.3 })
    const budgets = byKey.budgets.filter((b) => b.keyId === key.id)
    expect(budgets).toMatchObject([{ name: 'burst', budgetUSD: 0.3, spentUSD: 0.3, reservedUSD: 0, used: 1, budgetPeriod: 'month' }])
  })

  it('keep maxConcurrentTasks per key', async () => {
    const tenant = freshTenant()
    const one = await createKey({ name: 'one at a time', tenant, maxConcurrentTasks: 1 })
    const other = await createKey({ name: 'other', tenant, maxConcurrentTasks: 1 })
    // Async, and Runware's webhooks cannot reach this gateway: each task holds its slot.
    expect((await image(one.key, { deliveryMethod: 'async' })).status).toBe(200)
    expect((await image(one.key, { deliveryMethod: 'async' })).status).toBe(429)
    expect((await image(other.key, { deliveryMethod: 'async' })).status).toBe(200)
  })
})

describe('PATCH /admin/keys/{id}', () => {
  it('changes a key’s budget and alerts, and null removes them', async () => {
    const key = await createKey({ name: 'grows', tenant: freshTenant(), budgetUSD: 0.03 })
    expect((await image(key.key)).status).toBe(200)
    expect((await image(key.key)).status).toBe(402)
    const patch = (body: unknown) => admin(`/keys/${key.id}`, { method: 'PATCH', body: JSON.stringify(body) })
    // The receiver takes the alert this spend sends (0.8 of $0.06).
    const webhookURL = `${inject('receiverUrl')}/patched-alerts/${crypto.randomUUID()}/`
    const raised = await patch({ budgetUSD: 0.06, alerts: { webhookURL, thresholds: [0.8] } })
    expect(raised.status).toBe(200)
    expect(((await raised.json()) as { data: Record<string, unknown> }).data).toMatchObject({
      budgetUSD: 0.06,
      alerts: { webhookURL, thresholds: [0.8] },
    })
    expect((await image(key.key)).status).toBe(200)
    expect((await image(key.key)).status).toBe(402)
    const removed = await patch({ budgetUSD: null, alerts: null })
    expect(((await removed.json()) as { data: Record<string, unknown> }).data).not.toHaveProperty('budgetUSD')
    expect((await image(key.key)).status).toBe(200)
    // Validated like a create, naming the parameter; an unknown key is 404.
    const bad = await patch({ alerts: { webhookURL: 'http://example.com/x', thresholds: [0.5] } })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { errors: { parameter: string }[] }).errors[0]?.parameter).toBe('alerts.webhookURL')
    expect((await admin('/keys/key_nope', { method: 'PATCH', body: '{}' })).status).toBe(404)
  })
})

describe('a tenant budget', () => {
  it('counts every key of the tenant, with or without limits, and names itself in the 402', async () => {
    const tenant = freshTenant()
    const [a, b] = [await createKey({ name: 'a', tenant }), await createKey({ name: 'b', tenant })]
    const put = await admin(`/tenants/${tenant}/budget`, { method: 'PUT', body: JSON.stringify({ budgetUSD: 0.09, budgetPeriod: 'day' }) })
    expect(put.status).toBe(200)
    for (const k of [a, b, a]) expect((await image(k.key)).status).toBe(200)
    const refused = await image(b.key)
    expect(refused.status).toBe(402)
    expect(refused.json.errors?.[0]).toMatchObject({ code: 'insufficientCredits', budget: 'tenant' })
    expect(String(refused.json.errors?.[0]?.message)).toContain("This key's tenant's daily budget of $0.09")
    const tenantBudget = (await usage(`/tenants/${tenant}/usage`)).budgets.find((x) => x.keyId === null)
    expect(tenantBudget).toMatchObject({ budgetUSD: 0.09, spentUSD: 0.09, budgetPeriod: 'day' })

    expect((await admin(`/tenants/${tenant}/budget`, { method: 'DELETE' })).status).toBe(200)
    expect((await image(b.key)).status).toBe(200)
  })

  it("set after spend, counts the period's spend so far: a key's without limits, and a limited key's once", async () => {
    const tenant = freshTenant()
    const [free, limited] = [await createKey({ name: 'free', tenant }), await createKey({ name: 'capped', tenant, maxConcurrentTasks: 5 })]
    // Before any budget: the free key's two images never reach the account; the capped key's one does.
    for (const k of [free, free, limited]) expect((await image(k.key)).status).toBe(200)
    const put = await admin(`/tenants/${tenant}/budget`, { method: 'PUT', body: JSON.stringify({ budgetUSD: 0.12, budgetPeriod: 'day' }) })
    expect(put.status).toBe(200)
    const tenantBudget = async () => (await usage(`/tenants/${tenant}/usage`)).budgets.find((x) => x.keyId === null)
    expect(await tenantBudget()).toMatchObject({ spentUSD: 0.09, reservedUSD: 0 })
    expect((await image(free.key)).status).toBe(200)
    const refused = await image(limited.key)
    expect(refused.status).toBe(402)
    expect(refused.json.errors?.[0]).toMatchObject({ code: 'insufficientCredits', budget: 'tenant' })
    expect(await tenantBudget()).toMatchObject({ spentUSD: 0.12 })
    // Removed and set again, it counts what was spent while there was none, and nothing twice.
    expect((await admin(`/tenants/${tenant}/budget`, { method: 'DELETE' })).status).toBe(200)
    expect((await image(free.key)).status).toBe(200)
    await admin(`/tenants/${tenant}/budget`, { method: 'PUT', body: JSON.stringify({ budgetUSD: 1, budgetPeriod: 'month' }) })
    expect(await tenantBudget()).toMatchObject({ spentUSD: 0.15 })
  })

  it("given to a key after it spent, counts the key's spend this period so far, and no other key's", async () => {
    const tenant = freshTenant()
    const [key, other] = [await createKey({ name: 'later', tenant }), await createKey({ name: 'other', tenant })]
    for (const k of [key, key, other]) expect((await image(k.key)).status).toBe(200)
    const patched = await admin(`/keys/${key.id}`, { method: 'PATCH', body: JSON.stringify({ budgetUSD: 0.09, budgetPeriod: 'day' }) })
    expect(patched.status).toBe(200)
    // Shown at once, before the key's next task, with what it spent.
    const standing = async () => (await usage(`/tenants/${tenant}/usage`)).budgets.find((x) => x.keyId === key.id)
    expect(await standing()).toMatchObject({ budgetUSD: 0.09, budgetPeriod: 'day', spentUSD: 0.06, name: 'later' })
    expect((await image(key.key)).status).toBe(200)
    const refused = await image(key.key)
    expect(refused.status).toBe(402)
    expect(refused.json.errors?.[0]).toMatchObject({ code: 'insufficientCredits', budget: 'key' })
    expect(await standing()).toMatchObject({ spentUSD: 0.09 })
    // Removed, it is gone from the table at once too.
    await admin(`/keys/${key.id}`, { method: 'PATCH', body: JSON.stringify({ budgetUSD: null }) })
    expect(await standing()).toBeUndefined()
  })

  it('reaches every shard the tenant is planned to have, and a shard no one told asks the account', async () => {
    const tenant = freshTenant()
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)
    // A growth to 6 shards tomorrow: shards 4 and 5 exist only from then.
    const plan = requireConfig({ ...env, TENANT_SHARDS: `4, ${tenant}=6@${tomorrow}` } as Env).TENANT_SHARDS
    const tenants = new TenantClient(env.SHARDS, env.ACCOUNTS, new ShardMap(plan))
    await tenants.setTenantBudget(tenant, { budgetMicros: 1_000_000, budgetPeriod: 'month' })
    const flagOf = (index: number) =>
      runInDurableObject(env.SHARDS.get(env.SHARDS.idFromName(`${tenant}/${index}`)), (_shard, state) =>
        setting(state.storage.sql, 'budgeted'),
      )
    expect(await Promise.all([0, 1, 2, 3, 4, 5].map(flagOf))).toEqual([true, true, true, true, true, true])
    // Shard 6 comes only with a later change of plan, which no PUT told: its first task asks the account.
    expect(await flagOf(6)).toBeNull()
    const shard6 = env.SHARDS.get(env.SHARDS.idFromName(`${tenant}/6`))
    const record = taskRecord({ tenant, taskUUID: crypto.randomUUID() })
    expect(await shard6.open(record, 30_000, {}, Date.now() + 600_000)).toEqual({ kind: 'created' })
    expect(await flagOf(6)).toBe(true)
    const reserved = await runInDurableObject(accountOf(tenant), (_account, state) =>
      state.storage.sql.exec('SELECT task FROM reservations').toArray(),
    )
    expect(reserved).toEqual([{ task: record.taskUUID }])
  })

  it('validates the budget and its alerts, naming each parameter', async () => {
    const tenant = freshTenant()
    const res = await admin(`/tenants/${tenant}/budget`, {
      method: 'PUT',
      body: JSON.stringify({ budgetUSD: -1, alerts: { webhookURL: 'https://10.0.0.1/hook', thresholds: [0, 2] } }),
    })
    expect(res.status).toBe(400)
    const parameters = ((await res.json()) as { errors: { parameter: string }[] }).errors.map((e) => e.parameter)
    expect(parameters).toEqual(expect.arrayContaining(['budgetUSD', 'alerts.webhookURL', 'alerts.thresholds[0]', 'alerts.thresholds[1]']))
  })
})

describe('budget threshold alerts', () => {
  it('sends one signed budget.threshold event per threshold crossed, never twice, and a 402 after the budget', async () => {
    const path = `/alerts/${crypto.randomUUID()}/`
    const key = await createKey({
      name: 'alerted',
      tenant: freshTenant(),
      budgetUSD: 0.09,
      alerts: { webhookURL: `${inject('receiverUrl')}${path}?token=alert-secret-42`, thresholds: [1.0, 0.5] },
    })
    for (let i = 0; i < 3; i++) expect((await image(key.key)).status).toBe(200)
    const fourth = await image(key.key)
    expect(fourth.status).toBe(402)
    expect(fourth.json.errors?.[0]).toMatchObject({ budget: 'key' })

    type Hit = { headers: Record<string, string>; body: string }
    const hits = async () => (await (await fetch(`${inject('receiverUrl')}/__received?path=${path}`)).json()) as Hit[]
    for (const deadline = Date.now() + 20_000; (await hits()).length < 2 && Date.now() < deadline;)
      await new Promise((r) => setTimeout(r, 200))
    // Time for a duplicate to show, if one were coming.
    await new Promise((r) => setTimeout(r, 1500))
    const received = await hits()
    expect(received).toHaveLength(2)

    const secret = (
      (await (await call('/v1/webhooks/secret', { headers: { authorization: `Bearer ${key.key}` } })).json()) as {
        data: { secret: string }
      }
    ).data.secret
    const periodStart = `${new Date().toISOString().slice(0, 7)}-01`
    const events = received.map((hit) => new Webhook(secret).verify(hit.body, hit.headers) as Record<string, unknown>)
    expect(events.sort((a, b) => Number(a.threshold) - Number(b.threshold))).toEqual([
      { type: 'budget.threshold', keyId: key.id, threshold: 0.5, spentUSD: 0.06, budgetUSD: 0.09, periodStart },
      { type: 'budget.threshold', keyId: key.id, threshold: 1, spentUSD: 0.09, budgetUSD: 0.09, periodStart },
    ])
    expect(received.map((h) => h.headers['webhook-event'])).toEqual(['budget.threshold', 'budget.threshold'])
    const ids = received.map((h) => h.headers['webhook-id']).sort()
    expect(ids).toEqual([`bud_${key.id}_${periodStart}_100`, `bud_${key.id}_${periodStart}_50`])

    // Logged, and replayable like every other event: the same webhook-id again.
    const auth = { authorization: `Bearer ${key.key}` }
    const log = ((await (await call('/v1/usage/alerts', { headers: auth })).json()) as { data: { id: string; status: string }[] }).data
    expect(log.map((r) => [r.id, r.status]).sort()).toEqual(ids.map((id) => [id, 'delivered']))
    // The log shows the target without its query string (where secrets go), and never the message.
    expect(JSON.stringify(log)).not.toContain('alert-secret-42')
    expect(JSON.stringify(log)).not.toContain('"message"')
    expect((await call(`/v1/webhooks/deliveries/${ids[0]}/replay`, { method: 'POST', headers: auth })).status).toBe(202)
    for (const deadline = Date.now() + 20_000; (await hits()).length < 3 && Date.now() < deadline;)
      await new Promise((r) => setTimeout(r, 200))
    expect((await hits()).map((h) => h.headers['webhook-id'])).toContain(ids[0])
    // The replay's attempt is logged once the consumer is done with it (and before the test's storage goes).
    type Logged = { id: string; status: string; attempts: unknown[] }
    const replayed = async () =>
      ((await (await call('/v1/usage/alerts', { headers: auth })).json()) as { data: Logged[] }).data.find((r) => r.id === ids[0])
    for (const deadline = Date.now() + 20_000; (await replayed())?.attempts.length !== 2 && Date.now() < deadline;)
      await new Promise((r) => setTimeout(r, 200))
    expect(await replayed()).toMatchObject({ status: 'delivered', attempts: [{ status: 200 }, { status: 200 }] })
  })
})
