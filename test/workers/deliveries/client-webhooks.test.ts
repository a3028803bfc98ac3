/** Client webhooks: Standard Webhooks signatures, retries, 410, dead letters, replay, rotation. */
import { env } from 'cloudflare:workers'
import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from 'cloudflare:test'
import { Webhook } from 'standardwebhooks'
import { describe, expect, inject, it, vi } from 'vitest'
import worker from '../../../src/index'
import { DELIVERY_QUEUE } from '../../../src/jobs/queue'
import { DeliveryLog } from '../../../src/deliveries/delivery-log'
import { KEY_A, KEY_B } from '../../secrets'
import { call, inference, postV1, setFault, tenantOf } from '../helpers'

interface Received {
  method: string
  path: string
  headers: Record<string, string>
  body: string
  bytes: number
  answered: number
}

const receiver = () => inject('receiverUrl')
const received = async (path: string): Promise<Received[]> => (await fetch(`${receiver()}/__received?path=${path}`)).json()
const auth = (key = KEY_A) => ({ authorization: `Bearer ${key}` })

async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 25_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    const value = await check()
    if (value !== undefined) return value
  }
  throw new Error('timed out')
}

const secretOf = async (key = KEY_A) =>
  ((await (await call('/v1/webhooks/secret', { headers: auth(key) })).json()) as { data: { secret: string } }).data.secret
const deliveries = async (taskUUID: string) =>
  (
    (await (await call(`/v1/tasks/${taskUUID}/deliveries`, { headers: auth() })).json()) as {
      data: { id: string; status: string; attempts: { status: number }[] }[]
    }
  ).data

/** Submits a sync task whose webhook goes to `path` on the receiver; returns the sync item. */
async function submit(path: string, overrides: Record<string, unknown> = {}) {
  const body = inference({ webhookURL: `${receiver()}${path}`, ...overrides })
  const res = await postV1([body])
  return { body, res }
}

describe('client webhooks', () => {
  it('signs each event per Standard Webhooks; tampered, wrongly keyed or stale events fail verification', async () => {
    const path = `/ok/${crypto.randomUUID()}/`
    const { body, res } = await submit(path, { numberResults: 2, includeCost: true })
    expect(res.status).toBe(200)
    const events = await waitFor(async () => ((await received(path)).length >= 2 ? received(path) : undefined))
    const secret = await secretOf()
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/)
    const wh = new Webhook(secret)
    for (const event of events) {
      const payload = wh.verify(event.body, event.headers) as Record<string, unknown>
      expect(Object.keys(payload)).toEqual(['taskType', 'taskUUID', 'imageUUID', 'imageURL', 'seed', 'cost'])
      expect(payload.taskUUID).toBe(body.taskUUID)
      expect(event.headers['webhook-event']).toBe('result.succeeded')
      expect(event.headers['webhook-id']).toMatch(new RegExp(`^evt_${body.taskUUID}_[01]$`))
    }
    // The webhook items are the sync items (apart from the freshly signed URL).
    const sorted = (items: Record<string, unknown>[]) =>
      items.map(({ imageURL: _u, ...rest }) => rest).sort((a, b) => String(a.imageUUID).localeCompare(String(b.imageUUID)))
    expect(sorted(events.map((e) => JSON.parse(e.body)))).toEqual(sorted(res.json.data ?? []))

    const [event] = events as [Received]
    expect(() => wh.verify(event.body.replace('"seed":', '"seed":1'), event.headers)).toThrow()
    const otherSecret = await secretOf(KEY_B)
    expect(() => new Webhook(otherSecret).verify(event.body, event.headers)).toThrow()
    const stale = new Date(Date.now() - 10 * 60_000)
    const staleHeaders = {
      ...event.headers,
      'webhook-timestamp': String(Math.floor(stale.getTime() / 1000)),
      'webhook-signature': wh.sign(event.headers['webhook-id'] ?? '', stale, event.body),
    }
    expect(() => wh.verify(event.body, staleHeaders)).toThrow(/too old/)
  })

  it('sends a failed result as {"errors":[…]} with webhook-event result.failed', async () => {
    const marker = `fails-${crypto.randomUUID()}`
    await setFault({ match: marker, failGenerationRate: 1 })
    const path = `/failed/${crypto.randomUUID()}/`
    const { body } = await submit(path, { positivePrompt: `a broken vase ${marker}` })
    const [event] = await waitFor(async () => ((await received(path)).length ? received(path) : undefined))
    const payload = new Webhook(await secretOf()).verify(event?.body ?? '', event?.headers ?? {})
    expect(event?.headers['webhook-event']).toBe('result.failed')
    expect(payload).toEqual({
      errors: [{ code: 'internalServerError', message: expect.any(String), taskType: 'imageInference', taskUUID: body.taskUUID }],
    })
  })

  it('retries a receiver that fails 3 times; attempt 4 carries the same webhook-id', async () => {
    const path = `/fail-3/${crypto.randomUUID()}/`
    const { body } = await submit(path)
    const events = await waitFor(async () => ((await received(path)).some((e) => e.answered === 200) ? received(path) : undefined), 28_000)
    expect(events.map((e) => e.answered)).toEqual([503, 503, 503, 200])
    expect(new Set(events.map((e) => e.headers['webhook-id'])).size).toBe(1)
    const [log] = await deliveries(body.taskUUID)
    expect(log).toMatchObject({ id: `evt_${body.taskUUID}_0`, status: 'delivered' })
    expect(log?.attempts.map((a) => a.status)).toEqual([503, 503, 503, 200])
  }, 30_000)

  it('stops at a 410', async () => {
    const path = `/status-410/${crypto.randomUUID()}/`
    const { body } = await submit(path)
    await waitFor(async () => ((await deliveries(body.taskUUID))[0]?.status === 'cancelled' ? true : undefined))
    await new Promise((r) => setTimeout(r, 2500))
    expect(await received(path)).toHaveLength(1)
  })

  it('dead-letters an event a receiver keeps refusing, shows it, and replays it once the receiver is healthy', async () => {
    const path = `/status-400/${crypto.randomUUID()}/`
    const { body } = await submit(path)
    const dead = await waitFor(async () => {
      const [log] = await deliveries(body.taskUUID)
      return log?.status === 'dead' ? log : undefined
    })
    expect(dead.attempts.map((a) => a.status)).toEqual([400, 400, 400])

    await fetch(`${receiver()}/__status`, { method: 'POST', body: JSON.stringify({ path, status: 200 }) })
    const replay = await call(`/v1/webhooks/deliveries/${dead.id}/replay`, { method: 'POST', headers: auth() })
    expect(replay.status).toBe(202)
    const delivered = await waitFor(async () => {
      const [log] = await deliveries(body.taskUUID)
      return log?.status === 'delivered' ? log : undefined
    })
    expect(delivered.attempts.at(-1)?.status).toBe(200)
    const events = await received(path)
    expect(events.at(-1)?.answered).toBe(200)
    expect(new Set(events.map((e) => e.headers['webhook-id']))).toEqual(new Set([dead.id]))
    expect((await call(`/v1/webhooks/deliveries/${dead.id}/replay`, { method: 'POST', headers: auth(KEY_B) })).status).toBe(404)
  })

  /** A task whose webhook receiver always answers 503, once its first attempt is logged. */
  async function failingOnce() {
    const { body } = await submit(`/status-503/${crypto.randomUUID()}/`)
    const tenant = await tenantOf(KEY_A)
    const id = `evt_${body.taskUUID}_0`
    const log = new DeliveryLog(env.IMAGES)
    const first = await waitFor(async () =>
      (await log.get(tenant, body.taskUUID, id))?.attempts.length ? log.get(tenant, body.taskUUID, id) : undefined,
    )
    return { body, tenant, id, log, first }
  }

  /** The queue handing the consumer that task's event again, as its `attempts`-th delivery. */
  const redelivery = (tenant: string, taskUUID: string, attempts: number) =>
    createMessageBatch(DELIVERY_QUEUE, [
      { id: 'm1', timestamp: new Date(), attempts, body: { v: 1, kind: 'webhook', tenant, taskUUID, index: 0 } },
    ])

  it('dead-letters a 5xx receiver once the 24-hour retry window has passed', async () => {
    const { body, tenant, id, log, first } = await failingOnce()
    // As if the first attempt had been 25 hours ago.
    const dayAgo = new Date(Date.now() - 25 * 3600_000).toISOString()
    if (first) await log.put(tenant, { ...first, windowStart: dayAgo })
    const batch = redelivery(tenant, body.taskUUID, 9)
    const ctx = createExecutionContext()
    await worker.queue(batch, env, ctx)
    await waitOnExecutionContext(ctx)
    const result = await getQueueResult(batch, ctx)
    expect(result.explicitAcks).toEqual(['m1'])
    expect(result.retryMessages).toEqual([])
    expect((await log.get(tenant, body.taskUUID, id))?.status).toBe('dead')
  })

  it('waits at most WEBHOOK_RETRY_MAX_SECONDS between attempts, however many came before', async () => {
    const { body, tenant, log, first } = await failingOnce()
    // Twelve failures already: doubling from 1 s would ask for over an hour.
    if (first) await log.put(tenant, { ...first, attempts: Array.from({ length: 12 }, () => first.attempts[0]!) })
    const capped = { ...env, WEBHOOK_RETRY_MAX_SECONDS: '20' }
    const batch = redelivery(tenant, body.taskUUID, 13)
    // getQueueResult() does not report delays, so watch the call itself.
    const retry = vi.spyOn(batch.messages[0]!, 'retry')
    const ctx = createExecutionContext()
    await worker.queue(batch, capped, ctx)
    await waitOnExecutionContext(ctx)
    expect(retry).toHaveBeenCalledOnce()
    const delay = retry.mock.calls[0]?.[0]?.delaySeconds
    // The cap plus at most 30 % jitter.
    expect(delay).toBeGreaterThanOrEqual(20)
    expect(delay).toBeLessThanOrEqual(26)
  })

  it('rotates the secret: for a grace window events carry both signatures', async () => {
    const old = await secretOf(KEY_B)
    const rotated = (await (await call('/v1/webhooks/secret/rotate', { method: 'POST', headers: auth(KEY_B) })).json()) as {
      data: { secret: string; previous: { secret: string; expiresAt: string } }
    }
    expect(rotated.data.previous.secret).toBe(old)
    expect(rotated.data.secret).not.toBe(old)
    expect(await secretOf(KEY_B)).toBe(rotated.data.secret)
    const path = `/rotated/${crypto.randomUUID()}/`
    expect((await postV1([inference({ webhookURL: `${receiver()}${path}` })], KEY_B)).status).toBe(200)
    const [event] = await waitFor(async () => ((await received(path)).length ? received(path) : undefined))
    expect(event?.headers['webhook-signature']?.split(' ')).toHaveLength(2)
    expect(() => new Webhook(rotated.data.secret).verify(event?.body ?? '', event?.headers ?? {})).not.toThrow()
    expect(() => new Webhook(old).verify(event?.body ?? '', event?.headers ?? {})).not.toThrow()
  })

  it('copies each image to the client uploadEndpoint and reports the outcome in the task', async () => {
    const path = `/uploads/${crypto.randomUUID()}/`
    const body = inference({ uploadEndpoint: `${receiver()}${path}`, outputFormat: 'PNG' })
    expect((await postV1([body])).status).toBe(200)
    const [put] = await waitFor(async () => ((await received(path)).length ? received(path) : undefined))
    expect(put?.method).toBe('PUT')
    expect(put?.headers['content-type']).toBe('image/png')
    const task = await waitFor(async () => {
      const t = (await (await call(`/v1/tasks/${body.taskUUID}`, { headers: auth() })).json()) as {
        data: { results: { upload?: { status: string } }[] }
      }
      return t.data.results[0]?.upload?.status === 'delivered' ? t : undefined
    })
    const stored = await env.IMAGES.head(`images/${await tenantOf(KEY_A)}/${body.taskUUID}/0.png`)
    expect(put?.bytes).toBe(stored?.size)
    expect(task.data.results[0]?.upload).toEqual({ status: 'delivered', attempts: 1 })
  })
})

describe('webhookURL safety', () => {
  const production = { ...env, ENVIRONMENT: 'production' }
  const rejected: [string, string][] = [
    ['http://10.0.0.1/hook', 'must use https'],
    ['https://10.0.0.1/hook', 'special-purpose address'],
    ['http://169.254.169.254/latest/meta-data', 'must use https'],
    ['https://169.254.169.254/latest/meta-data', 'special-purpose address'],
    ['https://[::1]/hook', 'special-purpose address'],
    ['https://[fd00::1]/hook', 'special-purpose address'],
    ['https://192.168.1.10/hook', 'special-purpose address'],
    ['https://127.0.0.1/hook', 'special-purpose address'],
    ['https://localhost/hook', 'must not point at localhost'],
    ['ftp://example.com/hook', 'must use https'],
    ['https://user:pw@example.com/hook', 'credentials'],
    [`https://example.com/${'a'.repeat(2100)}`, 'longer than 2048 characters'],
    ['http://localhost:3000/hook', 'only in development'],
  ]
  it.each(rejected.map(([url, reason]) => [url.length > 60 ? `${url.slice(0, 40)}… (${url.length} chars)` : url, url, reason]))(
    'refuses %s in production, creating no task',
    async (_label, url, reason) => {
      const body = inference({ webhookURL: url })
      const res = await worker.fetch(
        new Request('http://gw/v1', { method: 'POST', headers: auth(), body: JSON.stringify([body]) }),
        production,
        createExecutionContext(),
      )
      expect(res.status).toBe(400)
      const { errors } = (await res.json()) as { errors: { code: string; parameter: string; message: string }[] }
      expect(errors[0]).toMatchObject({ code: 'invalidWebhookURL', parameter: 'webhookURL' })
      expect(errors[0]?.message).toContain(reason)
      expect((await call(`/v1/tasks/${body.taskUUID}`, { headers: auth() })).status).toBe(404)
    },
  )

  it('checks uploadEndpoint the same way, and allows http://localhost only in development', async () => {
    const bad = await postV1([inference({ uploadEndpoint: 'https://10.1.2.3/put' })])
    expect(bad.json.errors?.[0]).toMatchObject({ code: 'invalidUploadEndpoint', parameter: 'uploadEndpoint' })
    const dev = await postV1([inference({ webhookURL: 'http://localhost:9/hook', deliveryMethod: 'async' })])
    expect(dev.status).toBe(200)
    const ok = await worker.fetch(
      new Request('http://gw/v1', {
        method: 'POST',
        headers: auth(),
        body: JSON.stringify([inference({ webhookURL: 'https://hooks.example.com/in', deliveryMethod: 'async' })]),
      }),
      production,
      createExecutionContext(),
    )
    expect(ok.status).toBe(200)
  })
})
