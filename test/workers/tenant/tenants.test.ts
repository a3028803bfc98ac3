/** Managed keys, per-key rate limits, in-flight limits, hard budgets, usage and audit. */
import { env } from 'cloudflare:workers'
import { createExecutionContext } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import worker from '../../../src/index'
import { KEY_A, KEY_B, TEST_SECRETS } from '../../secrets'
import { call, inference, postV1, setFault, upstreamRequests } from '../helpers'

const admin = (path: string, init: RequestInit = {}) =>
  call(`/admin${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}`, 'content-type': 'application/json', ...init.headers },
  })

interface CreatedKey {
  id: string
  key: string
  tenant: string
  prefix: string
}

async function createKey(body: Record<string, unknown>): Promise<CreatedKey> {
  const res = await admin('/keys', { method: 'POST', body: JSON.stringify(body) })
  expect(res.status).toBe(201)
  return ((await res.json()) as { data: CreatedKey }).data
}

const ping = (key: string) => postV1([{ taskType: 'ping', ping: true }], key)

/** Waits until the current rate-limit minute has room for a burst, so it can't straddle two windows. */
async function startOfWindow(): Promise<void> {
  const into = Date.now() % 60_000
  if (into > 50_000) await new Promise((r) => setTimeout(r, 60_000 - into + 200))
}

describe('managed keys', () => {
  afterEach(() => vi.restoreAllMocks())

  it('are created, work at once, list without secrets, stop when disabled, and rotate', async () => {
    const logs: string[] = []
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void logs.push(String(line)))
    const created = await createKey({ name: 'mobile app' })
    expect(created.key).toMatch(/^ie_live_[0-9a-f]{48}$/)
    expect(created.prefix).toBe(created.key.slice(0, 12))
    expect((await ping(created.key)).status).toBe(200)

    const list = (await (await admin('/keys')).json()) as { data: Record<string, unknown>[] }
    const listed = list.data.find((k) => k.id === created.id)
    expect(listed).toMatchObject({ name: 'mobile app', tenant: created.tenant, disabled: false })
    expect(JSON.stringify(list)).not.toContain(created.key)

    const rotated = ((await (await admin(`/keys/${created.id}/rotate`, { method: 'POST' })).json()) as { data: CreatedKey }).data
    expect(rotated.key).not.toBe(created.key)
    expect(rotated.tenant).toBe(created.tenant)
    expect((await ping(created.key)).status).toBe(401)
    expect((await ping(rotated.key)).status).toBe(200)

    expect((await admin(`/keys/${created.id}/disable`, { method: 'POST' })).status).toBe(200)
    expect((await ping(rotated.key)).status).toBe(401)

    // Every key action is audited, and no audit line carries a key.
    const audits = logs.filter((l) => l.includes('"msg":"audit"')).map((l) => JSON.parse(l) as { action: string })
    expect(audits.map((a) => a.action)).toEqual(['key.create', 'key.rotate', 'key.disable'])
    for (const line of logs) {
      expect(line).not.toContain(created.key)
      expect(line).not.toContain(rotated.key)
    }
  })

  it('names every invalid parameter of an admin request and a usage query, not just the first', async () => {
    const created = await admin('/keys', {
      method: 'POST',
      body: JSON.stringify({ name: '', rateLimitPerMinute: 7, budgetPeriod: 'year' }),
    })
    expect(created.status).toBe(400)
    const { errors } = (await created.json()) as { errors: { code: string; parameter: string }[] }
    expect(errors.map((e) => e.parameter).sort()).toEqual(['budgetPeriod', 'name', 'rateLimitPerMinute'])
    const usage = await call('/v1/usage?from=yesterday&to=soon', { headers: { authorization: `Bearer ${KEY_A}` } })
    expect(usage.status).toBe(400)
    expect(((await usage.json()) as { errors: { parameter: string }[] }).errors.map((e) => e.parameter)).toEqual(['from', 'to'])
  })

  it('gives the admin API 401 without the token, and no admin API at all without ADMIN_TOKEN', async () => {
    expect((await call('/admin/keys')).status).toBe(401)
    expect((await call('/admin/keys', { headers: { authorization: `Bearer ${KEY_A}` } })).status).toBe(401)
    const noAdmin = { ...env, ADMIN_TOKEN: '' }
    const res = await worker.fetch(
      new Request('http://gw/admin/keys', { headers: { authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}` } }),
      noAdmin,
      createExecutionContext(),
    )
    expect(res.status).toBe(404)
  })

  it('validates what a key may be given', async () => {
    const res = await admin('/keys', { method: 'POST', body: JSON.stringify({ name: 'x', rateLimitPerMinute: 7 }) })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { errors: Record<string, unknown>[] }).errors[0]).toMatchObject({
      parameter: 'rateLimitPerMinute',
      allowedValues: [5, 30, 60, 300, 600, 1200],
    })
  })
})

describe('rate limits', () => {
  it('answers the 6th request of a 5/min key with 429, Retry-After and RateLimit headers; other keys are unaffected', async () => {
    const limited = await createKey({ name: 'five a minute', rateLimitPerMinute: 5 })
    await startOfWindow()
    const answers = []
    for (let i = 0; i < 6; i++) answers.push(await ping(limited.key))
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429])
    const refused = answers[5]
    expect(refused?.json.errors?.[0]?.code).toBe('rateLimitExceeded')
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(refused?.headers.get('ratelimit-limit')).toBe('5')
    expect(refused?.headers.get('ratelimit-remaining')).toBe('0')
    expect(answers[0]?.headers.get('ratelimit-policy')).toBe('5;w=60')
    // The same limit applies across the API, and other keys carry on.
    expect((await call(`/v1/tasks/${crypto.randomUUID()}`, { headers: { authorization: `Bearer ${limited.key}` } })).status).toBe(429)
    expect((await ping(KEY_B)).status).toBe(200)
    const other = await createKey({ name: 'another five', rateLimitPerMinute: 5 })
    expect((await ping(other.key)).status).toBe(200)
  })
})

describe('budgets', () => {
  it('$0.30 and 20 concurrent $0.03 requests: exactly 10 go upstream, 10 get 402 first, and usage settles at $0.30', async () => {
    const logs: string[] = []
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void logs.push(String(line)))
    const key = await createKey({ name: 'thirty cents', budgetUSD: 0.3, budgetPeriod: 'day' })
    const marker = `budget-${crypto.randomUUID()}`
    await setFault({ match: marker, latencyMs: 200 })
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => postV1([inference({ positivePrompt: `coin ${i} ${marker}` })], key.key)),
    )
    const statuses = answers.map((a) => a.status).sort()
    expect(statuses.filter((s) => s === 200)).toHaveLength(10)
    expect(statuses.filter((s) => s === 402)).toHaveLength(10)
    for (const refused of answers.filter((a) => a.status === 402)) {
      expect(refused.json.errors?.[0]).toMatchObject({ code: 'insufficientCredits', taskType: 'imageInference' })
    }
    expect(await upstreamRequests(marker)).toHaveLength(10)

    const usage = (await (await call('/v1/usage', { headers: { authorization: `Bearer ${key.key}` } })).json()) as {
      data: { images: number; costUSD: number; days: { model: string; images: number; costUSD: number }[] }
    }
    expect(usage.data.images).toBe(10)
    expect(usage.data.costUSD).toBeCloseTo(0.3, 10)
    expect(usage.data.days[0]).toMatchObject({ model: 'imagineart:1@5', images: 10 })
    expect(logs.filter((l) => l.includes('"action":"budget.reject"'))).toHaveLength(10)

    // Spent is spent: the next request is refused before any upstream call.
    expect((await postV1([inference({ positivePrompt: `one more ${marker}` })], key.key)).status).toBe(402)
    expect(await upstreamRequests(marker)).toHaveLength(10)
  })

  it('releases the reservation of a failed result, so failures cost nothing', async () => {
    const key = await createKey({ name: 'six cents', budgetUSD: 0.06, budgetPeriod: 'day' })
    const marker = `refund-${crypto.randomUUID()}`
    await setFault({ match: marker, failGenerationRate: 1 })
    expect((await postV1([inference({ positivePrompt: `a dud ${marker}`, numberResults: 2 })], key.key)).status).toBe(502)
    const ok = await postV1([inference({ numberResults: 2 })], key.key)
    expect(ok.status).toBe(200)
  })
})

describe('in-flight limits', () => {
  it('refuses a task over maxConcurrentTasks with 429 until one finishes', async () => {
    const key = await createKey({ name: 'two at once', maxConcurrentTasks: 2 })
    const marker = `slowpoke-${crypto.randomUUID()}`
    await setFault({ match: marker, latencyMs: 1500 })
    const answers = await Promise.all(
      Array.from({ length: 4 }, (_, i) => postV1([inference({ positivePrompt: `snail ${i} ${marker}` })], key.key)),
    )
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 429, 429])
    expect(answers.find((a) => a.status === 429)?.json.errors?.[0]?.code).toBe('tooManyConcurrentTasks')
    expect((await postV1([inference()], key.key)).status).toBe(200)
  })
})

describe('tenant isolation', () => {
  it("hides A's tasks, deliveries and usage from B, with 404s that reveal nothing", async () => {
    const a = await createKey({ name: 'tenant a' })
    const b = await createKey({ name: 'tenant b' })
    const body = inference({ webhookURL: 'http://127.0.0.1:1/hook' })
    expect((await postV1([body], a.key)).status).toBe(200)
    const as = (key: string, path: string, method = 'GET') => call(path, { method, headers: { authorization: `Bearer ${key}` } })
    expect((await as(a.key, `/v1/tasks/${body.taskUUID}`)).status).toBe(200)
    expect((await as(b.key, `/v1/tasks/${body.taskUUID}`)).status).toBe(404)
    expect((await as(b.key, `/v1/tasks/${body.taskUUID}/deliveries`)).status).toBe(404)
    expect((await as(b.key, `/v1/webhooks/deliveries/evt_${body.taskUUID}_0/replay`, 'POST')).status).toBe(404)
    expect((await as(b.key, `/v1/tasks/${body.taskUUID}`, 'DELETE')).status).toBe(404)
    expect((await postV1([{ taskType: 'getResponse', taskUUID: body.taskUUID }], b.key)).status).toBe(404)
    const usage = async (key: string) => ((await (await as(key, '/v1/usage')).json()) as { data: { images: number } }).data.images
    expect(await usage(a.key)).toBe(1)
    expect(await usage(b.key)).toBe(0)
    const adminUsage = (await (await admin(`/tenants/${a.tenant}/usage`)).json()) as { data: { images: number } }
    expect(adminUsage.data.images).toBe(1)
  })
})
