/**
 * What one request costs in binding calls, counted by wrapping every binding the Worker gets:
 * a poll reads one shard object and nothing else, and a finished task is written to KV at most
 * once in its lifetime, by its shard (docs/performance.md, the cost model).
 */
import { env } from 'cloudflare:workers'
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, inject, it, vi } from 'vitest'
import worker from '../../../src/index'
import { imageKey, kvTaskKey } from '../../../src/lib/storage-keys'
import { childTaskUUID } from '../../../src/lib/ids'
import type { TaskShard } from '../../../src/tenant/task-shard'
import { KEY_A, TEST_SECRETS } from '../../secrets'
import { BASE, call, inference, postV1, setFault, shardOf, tenantOf, upstreamRequests } from '../helpers'

const auth = { authorization: `Bearer ${KEY_A}` }

/** Wraps an object so each method call is counted under `name.method`. */
function counting<T extends object>(name: string, target: T, calls: string[]): T {
  return new Proxy(target, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t) as unknown
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        // Called through the target: an RPC stub's methods have no `apply` of their own.
        const result = (t as Record<PropertyKey, (...a: unknown[]) => unknown>)[prop]!(...args)
        calls.push(`${name}.${String(prop)}`)
        return result
      }
    },
  })
}

/** The Worker's env with every storage, object, queue and rate-limit binding counted. */
function countedEnv(calls: string[]): Env {
  const wrapped: Record<string, unknown> = { ...env }
  for (const [name, binding] of Object.entries(env)) {
    if (typeof binding !== 'object' || binding === null) continue
    if (name === 'SHARDS' || name === 'ACCOUNTS' || name === 'SOCKETS') {
      // Stubs come from get(): count the calls made on them, not the lookups.
      const ns = binding as DurableObjectNamespace
      wrapped[name] = new Proxy(ns, {
        get(t, prop) {
          const value = Reflect.get(t, prop, t) as unknown
          if (prop !== 'get' || typeof value !== 'function') return typeof value === 'function' ? value.bind(t) : value
          return (...args: unknown[]) => counting(name, ns.get(...(args as [DurableObjectId])), calls)
        },
      })
    } else if (name !== 'ASSETS') wrapped[name] = counting(name, binding, calls)
  }
  return wrapped as unknown as Env
}

/** One request with its binding calls counted, and its subrequests as `fetch` entries. */
async function countedFetch(path: string, init: RequestInit = {}): Promise<{ status: number; calls: string[] }> {
  const calls: string[] = []
  const ctx = createExecutionContext()
  const fetches = vi.spyOn(globalThis, 'fetch')
  try {
    const res = await worker.fetch(new Request(`${BASE}${path}`, init), countedEnv(calls), ctx)
    await res.arrayBuffer()
    await waitOnExecutionContext(ctx)
    for (let i = 0; i < fetches.mock.calls.length; i++) calls.push('fetch')
    return { status: res.status, calls: calls.map((c) => c.replace(/^RATE_LIMIT_\d+/, 'RATE_LIMIT')).sort() }
  } finally {
    fetches.mockRestore()
  }
}

const JPG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8])

const storage = (calls: string[]) => calls.filter((c) => !c.startsWith('RATE_LIMIT'))

describe('binding calls per request', () => {
  it('a poll of a processing task makes one storage read: its shard, no KV, no R2', async () => {
    const marker = `poll-${crypto.randomUUID()}`
    await setFault({ match: marker, dropWebhookRate: 1, failUploadRate: 1 })
    const body = inference({ positivePrompt: `a kettle on the boil ${marker}`, deliveryMethod: 'async' })
    expect((await postV1([body])).status).toBe(200)
    const polled = await countedFetch(`/v1/tasks/${body.taskUUID}`, { headers: auth })
    expect(polled.status).toBe(200)
    expect(storage(polled.calls)).toEqual(['SHARDS.read'])
    expect(polled.calls.filter((c) => c.startsWith('RATE_LIMIT'))).toHaveLength(1)
    // getResponse, as Runware's SDKs poll, costs the same.
    const viaGetResponse = await countedFetch('/v1', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify([{ taskType: 'getResponse', taskUUID: body.taskUUID }]),
    })
    expect(viaGetResponse.status).toBe(200)
    expect(storage(viaGetResponse.calls)).toEqual(['SHARDS.read'])
  })

  it('a poll of a finished task reads its shard only', async () => {
    const body = inference({ positivePrompt: 'a finished kettle' })
    expect((await postV1([body])).status).toBe(200)
    const polled = await countedFetch(`/v1/tasks/${body.taskUUID}`, { headers: auth })
    expect(polled.status).toBe(200)
    expect(storage(polled.calls)).toEqual(['SHARDS.read'])
  })
})

describe('usage by key', () => {
  it('reads the keys it names in one bulk KV read, never a list of every tenant’s keys', async () => {
    const admin = { authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}`, 'content-type': 'application/json' }
    const tenant = `t${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`
    const keys: { id: string; key: string }[] = []
    for (const name of ['web', 'mobile']) {
      const res = await call('/admin/keys', { method: 'POST', headers: admin, body: JSON.stringify({ name, tenant }) })
      keys.push(((await res.json()) as { data: { id: string; key: string } }).data)
    }
    const [web, mobile] = keys as [{ id: string; key: string }, { id: string; key: string }]
    // Another tenant's key, which must be neither read nor shown.
    await call('/admin/keys', { method: 'POST', headers: admin, body: JSON.stringify({ name: 'elsewhere' }) })
    for (const k of [web, mobile, web]) expect((await postV1([inference()], k.key)).status).toBe(200)

    const counted = await countedFetch('/v1/usage?groupBy=key', { headers: { authorization: `Bearer ${web.key}` } })
    expect(counted.status).toBe(200)
    expect(counted.calls.filter((c) => c.startsWith('TASKS.'))).toEqual(['TASKS.get', 'TASKS.getWithMetadata'])
    const shown = await call('/v1/usage?groupBy=key', { headers: { authorization: `Bearer ${web.key}` } })
    const groups = ((await shown.json()) as { data: { groups: { keyId: string; name: string; images: number }[] } }).data.groups
    expect(groups.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { keyId: mobile.id, name: 'mobile', images: 1, costUSD: 0.03 },
      { keyId: web.id, name: 'web', images: 2, costUSD: 0.06 },
    ])
  })
})

describe('a task’s lifetime, call by call', () => {
  // The figures docs/performance.md's cost model multiplies out: each is a billed operation.
  it('an async two-result task: create, an upload and a webhook per image, a poll', async () => {
    const marker = `life-${crypto.randomUUID()}`
    await setFault({ match: marker, dropWebhookRate: 1, failUploadRate: 1 })
    const body = inference({ positivePrompt: `a lighthouse ${marker}`, deliveryMethod: 'async', numberResults: 2 })
    const created = await countedFetch('/v1', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify([body]),
    })
    expect(created.status).toBe(200)
    expect(created.calls).toEqual(['RATE_LIMIT.limit', 'SHARDS.open', 'fetch'])
    // Runware puts each image to its upload URL (R2, presigned, in production), then calls the webhook.
    const tenant = await tenantOf(KEY_A)
    const [sent] = await upstreamRequests(marker)
    const children = await Promise.all([0, 1].map((i) => childTaskUUID(tenant, body.taskUUID, i)))
    for (const [index, child] of children.entries()) {
      const key = imageKey(tenant, body.taskUUID.toLowerCase(), index, 'JPG')
      await env.IMAGES.put(key, JPG, { httpMetadata: { contentType: 'image/jpeg' } })
      const url = new URL(String(sent?.body.find((c) => c.taskUUID === child)?.webhookURL))
      const hooked = await countedFetch(`${url.pathname}${url.search}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ taskType: 'imageInference', taskUUID: child, imageUUID: crypto.randomUUID(), seed: 7, cost: 0.03 }),
      })
      expect(hooked.status).toBe(200)
      expect(hooked.calls).toEqual(['IMAGES.head', 'SHARDS.recordResults'])
    }
    const polled = await countedFetch(`/v1/tasks/${body.taskUUID}`, { headers: auth })
    expect(polled.calls).toEqual(['RATE_LIMIT.limit', 'SHARDS.read'])
    expect(((await (await call(`/v1/tasks/${body.taskUUID}`, { headers: auth })).json()) as { data: { status: string } }).data.status).toBe(
      'succeeded',
    )
  })
})

describe('KV writes in a task’s lifetime', () => {
  /** Spies on KV puts of the task's record, in the Worker and in its shard object (which may hold its own env). */
  async function recordWrites(tenant: string, taskUUID: string): Promise<() => { total: number; byShard: number }> {
    const key = kvTaskKey(tenant, taskUUID)
    const worker = vi.spyOn(env.TASKS, 'put')
    let shard: ReturnType<typeof vi.spyOn> | null = null
    await runInDurableObject(shardOf(tenant, taskUUID), (instance: TaskShard) => {
      const own = (instance as unknown as { env: Env }).env.TASKS
      shard = own === env.TASKS ? worker : vi.spyOn(own, 'put')
    })
    const ofTask = (spy: ReturnType<typeof vi.spyOn> | null) => (spy?.mock.calls ?? []).filter((c: unknown[]) => c[0] === key).length
    return () => ({ total: ofTask(worker) + (shard === worker ? 0 : ofTask(shard)), byShard: ofTask(shard) })
  }

  it('a task without client deliveries is never written to KV, however often it is read', async () => {
    const body = inference({ positivePrompt: 'an unwritten kettle' })
    const writes = await recordWrites(await tenantOf(KEY_A), body.taskUUID.toLowerCase())
    expect((await postV1([body])).status).toBe(200)
    for (let i = 0; i < 3; i++) expect((await call(`/v1/tasks/${body.taskUUID}`, { headers: auth })).status).toBe(200)
    expect((await postV1([{ taskType: 'getResponse', taskUUID: body.taskUUID }])).status).toBe(200)
    expect(writes()).toEqual({ total: 0, byShard: 0 })
  })

  it('a task with a webhookURL is written once, by its shard, when it finishes', async () => {
    const webhookURL = `${inject('receiverUrl')}/kettle`
    const body = inference({ positivePrompt: 'a written kettle', webhookURL })
    const tenant = await tenantOf(KEY_A)
    const writes = await recordWrites(tenant, body.taskUUID.toLowerCase())
    expect((await postV1([body])).status).toBe(200)
    for (let i = 0; i < 3; i++) expect((await call(`/v1/tasks/${body.taskUUID}`, { headers: auth })).status).toBe(200)
    // The reconciler's look at the finished task (its deliveries verified) writes nothing more.
    await shardOf(tenant, body.taskUUID.toLowerCase()).settled(body.taskUUID.toLowerCase())
    expect(writes()).toEqual({ total: 1, byShard: 1 })
    expect(await env.TASKS.get(kvTaskKey(tenant, body.taskUUID.toLowerCase()), 'json')).toMatchObject({ webhookURL })
  })
})
