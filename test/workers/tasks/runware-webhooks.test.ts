/** Runware's webhooks: token-checked, any of the three body shapes, idempotent under duplicates. */
import { env } from 'cloudflare:workers'
import { describe, expect, inject, it } from 'vitest'
import { requireConfig } from '../../../src/config/config'
import { buildServices } from '../../../src/services'
import { usageReport } from '../../../src/tenant/budgets'
import { KEY_A, TEST_SECRETS } from '../../secrets'
import { BASE, call, emulatorUrl, hook, inference, postV1, tenantOf, upstreamItem, upstreamRequests } from '../helpers'

interface Child {
  taskUUID: string
  webhookURL: string
}

/** Submits an async task; returns the child tasks the gateway dispatched, in result order. */
async function submit(numberResults: number, key = KEY_A): Promise<{ taskUUID: string; children: Child[] }> {
  const marker = `hook-${crypto.randomUUID()}`
  const body = inference({ positivePrompt: `a heron ${marker}`, numberResults, deliveryMethod: 'async' })
  expect((await postV1([body], key)).status).toBe(200)
  const [request] = await upstreamRequests(marker)
  const children = (request?.body ?? []).map((t) => ({ taskUUID: String(t.taskUUID), webhookURL: String(t.webhookURL) }))
  return { taskUUID: body.taskUUID, children }
}

async function task(taskUUID: string) {
  const res = await call(`/v1/tasks/${taskUUID}`, { headers: { authorization: `Bearer ${KEY_A}` } })
  return (await res.json()) as { data: { status: string; results: Record<string, unknown>[] } }
}

const services = () => buildServices(env, requireConfig(env), { origin: BASE, waitUntil: () => undefined })

/** The task as its tenant's object holds it. */
async function stored(taskUUID: string) {
  return services().tenants.read(await tenantOf(KEY_A), taskUUID)
}

/** Images KEY_A's tenant has been charged for today. */
async function imagesCharged(): Promise<number> {
  const today = new Date().toISOString().slice(0, 10)
  return usageReport(await services().tenants.usage(await tenantOf(KEY_A), today, today)).images
}

describe('POST /webhooks/runware', () => {
  it('refuses a forged token, or a genuine token moved to another result, and changes nothing', async () => {
    const { taskUUID, children } = await submit(2)
    const item = await upstreamItem(children[0]!.taskUUID)
    const forged = children[0]!.webhookURL.replace(/token=[^&]+/, `token=${'x'.repeat(43)}`)
    const moved = children[1]!.webhookURL.replace(/token=[^&]+/, /token=([^&]+)/.exec(children[0]!.webhookURL)![0])
    const missing = children[0]!.webhookURL.replace(/\?token=[^&]+/, '')
    for (const url of [forged, moved, missing]) {
      const res = await hook(url, item)
      expect(res.status).toBe(401)
      expect(((await res.json()) as { errors: unknown[] }).errors).toMatchObject([
        { code: 'invalidWebhookToken', message: 'The webhook token is not valid for this task' },
      ])
    }
    const state = (await task(taskUUID)).data
    expect(state.status).toBe('processing')
    expect(state.results).toEqual([])
    expect((await stored(taskUUID))?.results).toEqual([])
    expect((await env.IMAGES.list({ prefix: `images/` })).objects.filter((o) => o.key.includes(taskUUID))).toEqual([])
  })

  it('records flat, {data:[…]} and {errors:[…]} bodies once each, whatever the duplicates', async () => {
    const { taskUUID, children } = await submit(3)
    const [a, b, c] = children as [Child, Child, Child]
    const chargedBefore = await imagesCharged()
    const itemA = await upstreamItem(a.taskUUID)
    const itemB = await upstreamItem(b.taskUUID)

    // The upload never landed (the gateway's host is unreachable here): it copies from imageURL.
    const flat = await Promise.all([hook(a.webhookURL, itemA), hook(a.webhookURL, itemA), hook(a.webhookURL, itemA)])
    expect(flat.map((r) => r.status)).toEqual([200, 200, 200])
    expect(await Promise.all(flat.map((r) => r.json()))).toEqual([{ ok: true }, { ok: true }, { ok: true }])
    const wrapped = await Promise.all([hook(b.webhookURL, { data: [itemB] }), hook(b.webhookURL, { data: [itemB] })])
    expect(wrapped.map((r) => r.status)).toEqual([200, 200])
    expect((await task(taskUUID)).data.status).toBe('processing')

    const failure = {
      errors: [{ code: 'providerTimeout', message: 'The provider timed out', taskType: 'imageInference', taskUUID: c.taskUUID }],
    }
    expect((await hook(c.webhookURL, failure)).status).toBe(200)
    expect((await hook(c.webhookURL, itemA)).status).toBe(200) // another child's item: ignored

    const final = (await task(taskUUID)).data
    expect(final.status).toBe('succeeded')
    expect(final.results.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'failed'])
    expect(final.results[0]).toMatchObject({ imageUUID: itemA.imageUUID, seed: itemA.seed })
    expect(final.results[1]).toMatchObject({ imageUUID: itemB.imageUUID, seed: itemB.seed })
    expect(final.results[2]).toMatchObject({ error: { code: 'providerTimeout' } })
    // Each result recorded once, whatever the number of deliveries: two images charged, not five.
    expect((await stored(taskUUID))?.results.map((r) => r.index)).toEqual([0, 1, 2])
    expect((await imagesCharged()) - chargedBefore).toBe(2)

    // A late duplicate after finalization changes nothing.
    expect((await hook(a.webhookURL, { ...itemA, imageUUID: crypto.randomUUID() })).status).toBe(200)
    expect((await task(taskUUID)).data.results[0]).toMatchObject({ imageUUID: itemA.imageUUID })
  })

  it("settles Runware's reported cost, not the estimate, in usage and in the remaining budget", async () => {
    const created = await call('/admin/keys', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'reported cost', budgetUSD: 0.1 }),
    })
    const { key } = ((await created.json()) as { data: { key: string } }).data
    const { children } = await submit(1, key)
    const item = { ...(await upstreamItem(children[0]!.taskUUID)), cost: 0.05 }
    expect((await hook(children[0]!.webhookURL, item)).status).toBe(200)
    const usage = (
      (await (await call('/v1/usage', { headers: { authorization: `Bearer ${key}` } })).json()) as {
        data: { costUSD: number; budgets: { spentUSD: number; reservedUSD: number }[] }
      }
    ).data
    expect(usage.costUSD).toBe(0.05)
    expect(usage.budgets).toMatchObject([{ spentUSD: 0.05, reservedUSD: 0 }])
    // $0.05 left: one more $0.03 image fits, a second would not.
    expect((await postV1([inference({ deliveryMethod: 'async' })], key)).status).toBe(200)
    expect((await postV1([inference({ deliveryMethod: 'async' })], key)).status).toBe(402)
  })

  it('refuses to copy an image from a host that is not Runware’s: nothing fetched, nothing recorded', async () => {
    const { taskUUID, children } = await submit(1)
    const path = `/not-runware/${crypto.randomUUID()}.jpg`
    const item = { ...(await upstreamItem(children[0]!.taskUUID)), imageURL: `${inject('receiverUrl')}${path}` }
    const res = await hook(children[0]!.webhookURL, item)
    // Not stored, so Runware is asked to retry: the upload may still land.
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('5')
    expect(((await res.json()) as { errors: unknown[] }).errors).toMatchObject([
      { code: 'imageNotStored', message: 'The image is not stored yet; retry' },
    ])
    expect((await (await fetch(`${inject('receiverUrl')}/__received?path=${path}`)).json()) as unknown[]).toEqual([])
    expect((await stored(taskUUID))?.results).toEqual([])
    expect((await task(taskUUID)).data.status).toBe('processing')
  })

  it("follows no redirect from an imageURL on Runware's own host", async () => {
    const { taskUUID, children } = await submit(1)
    const item = await upstreamItem(children[0]!.taskUUID)
    const redirect = `${emulatorUrl()}/__emulator/redirect?to=${encodeURIComponent(String(item.imageURL))}`
    const res = await hook(children[0]!.webhookURL, { ...item, imageURL: redirect })
    expect(res.status).toBe(503)
    expect((await stored(taskUUID))?.results).toEqual([])
    // The image itself, named directly, is copied.
    expect((await hook(children[0]!.webhookURL, item)).status).toBe(200)
    expect((await stored(taskUUID))?.results).toHaveLength(1)
  })

  it("stores nothing from Runware's image host when it drops the connection, answers an error status, or sends no image", async () => {
    const { taskUUID, children } = await submit(1)
    const item = await upstreamItem(children[0]!.taskUUID)
    const image = String(item.imageURL)
    for (const imageURL of [`${image}?drop=1`, `${image}?status=503`, `${emulatorUrl()}/__emulator/stats`]) {
      const res = await hook(children[0]!.webhookURL, { ...item, imageURL })
      expect(res.status).toBe(503)
      expect((await stored(taskUUID))?.results).toEqual([])
    }
    expect((await env.IMAGES.list({ prefix: 'images/' })).objects.filter((o) => o.key.includes(taskUUID))).toEqual([])
  })

  it('takes a conflictTaskUUID error on a webhook as no result: the task stays open, and a later real item records it', async () => {
    const { taskUUID, children } = await submit(1)
    const child = children[0]!
    const conflict = {
      errors: [
        { code: 'conflictTaskUUID', message: 'The taskUUID was already used', taskType: 'imageInference', taskUUID: child.taskUUID },
      ],
    }
    const res = await hook(child.webhookURL, conflict)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, ignored: 'no result for this task' })
    expect((await stored(taskUUID))?.results).toEqual([])
    expect((await task(taskUUID)).data.status).toBe('processing')
    expect((await hook(child.webhookURL, await upstreamItem(child.taskUUID))).status).toBe(200)
    const done = (await task(taskUUID)).data
    expect(done.status).toBe('succeeded')
    expect(done.results).toMatchObject([{ index: 0, status: 'succeeded' }])
  })

  it("ignores an item or an error for another child on a child's webhook", async () => {
    const { taskUUID, children } = await submit(2)
    const [first, second] = children as [Child, Child]
    const error = { errors: [{ code: 'providerTimeout', message: 'timed out', taskType: 'imageInference', taskUUID: second.taskUUID }] }
    for (const body of [await upstreamItem(second.taskUUID), error]) {
      const res = await hook(first.webhookURL, body)
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ ok: true, ignored: 'no result for this task' })
    }
    expect((await stored(taskUUID))?.results).toEqual([])
  })

  it('copies nothing into a task deleted since: a late webhook leaves its images gone', async () => {
    const { taskUUID, children } = await submit(1)
    const child = children[0]!
    const item = await upstreamItem(child.taskUUID)
    expect((await hook(child.webhookURL, item)).status).toBe(200)
    expect((await call(`/v1/tasks/${taskUUID}`, { method: 'DELETE', headers: { authorization: `Bearer ${KEY_A}` } })).status).toBe(200)
    const late = await hook(child.webhookURL, item)
    expect(late.status).toBe(200)
    expect(await late.json()).toEqual({ ok: true, ignored: 'unknown task' })
    expect((await env.IMAGES.list({ prefix: 'images/' })).objects.filter((o) => o.key.includes(taskUUID))).toEqual([])
  })
})
