/**
 * Local KV is strongly consistent, so it cannot show KV's real hazards. This runs the task
 * store over a KV that behaves like the global one: writes show up only after a delay, and a
 * miss is cached. Reads must stay correct: they ask the task's shard, and deliveries never act on half a record.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { requireConfig } from '../../../src/config/config'
import { buildServices } from '../../../src/services'
import { kvTaskKey } from '../../../src/lib/storage-keys'
import { BASE, firstDue, taskRecord } from '../helpers'

/** Writes become visible `lagMs` later; a missing key stays missing (cached) for `lagMs`. */
function laggingKv(inner: KVNamespace, clock: { now: number }, lagMs = 60_000) {
  const visibleAt = new Map<string, number>()
  const missCachedUntil = new Map<string, number>()
  const visible = (key: string) => (visibleAt.get(key) ?? 0) <= clock.now && (missCachedUntil.get(key) ?? 0) <= clock.now
  const getOne = async (key: string) => {
    if (!visible(key)) return null
    const value = await inner.get(key, 'json')
    if (value === null) missCachedUntil.set(key, clock.now + lagMs)
    return value
  }
  return {
    async get(key: string | string[]) {
      if (Array.isArray(key)) return new Map(await Promise.all(key.map(async (k) => [k, await getOne(k)] as const)))
      return getOne(key)
    },
    async put(key: string, value: string, options?: KVNamespacePutOptions) {
      visibleAt.set(key, clock.now + lagMs)
      await inner.put(key, value, options)
    },
    delete: (key: string) => inner.delete(key),
  } as unknown as KVNamespace
}

/** The Worker's services over a lagging KV (a shard writes through its own, which does not lag). */
const servicesOver = (clock: { now: number }) =>
  buildServices({ ...env, TASKS: laggingKv(env.TASKS, clock) }, requireConfig(env), { origin: BASE, waitUntil: () => undefined })

const JPG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8])

describe('task state over a lagging, miss-caching KV', () => {
  it('never reports stale status or loses a result', async () => {
    const clock = { now: Date.now() }
    const s = servicesOver(clock)
    const taskUUID = crypto.randomUUID()
    const task = taskRecord({
      tenant: 'tlagging',
      taskUUID,
      createdAt: clock.now,
      positivePrompt: 'a lag',
      includeCost: true,
      children: [
        { taskUUID: crypto.randomUUID(), seed: 1 },
        { taskUUID: crypto.randomUUID(), seed: 2 },
      ],
    })
    expect((await s.tenants.open(task, 30_000, {}, firstDue(task))).kind).toBe('created')
    // A read before anything is written caches the miss of the final record.
    expect((await s.view.describe('tlagging', taskUUID)).status).toBe('processing')

    for (const i of [0, 1])
      await env.IMAGES.put(`images/tlagging/${taskUUID}/${i}.jpg`, JPG, { httpMetadata: { contentType: 'image/jpeg' } })
    const item = (i: number) => ({ taskUUID: task.children[i]?.taskUUID ?? '', imageUUID: crypto.randomUUID(), seed: i + 1, cost: 0.03 })

    await s.recorder.record(task, [{ index: 0, item: item(0) }])
    const partial = await s.view.describe('tlagging', taskUUID)
    expect(partial.status).toBe('processing')
    expect((partial.results as unknown[]).length).toBe(1) // the object shows it

    const done = await s.recorder.record(task, [{ index: 1, item: item(1) }])
    expect(done.complete).toBe(true)
    // The KV write is still invisible, and the miss is still cached: the object answers.
    const read = await s.view.describe('tlagging', taskUUID)
    expect(read.status).toBe('succeeded')
    expect((read.results as { imageUUID: string }[]).map((r) => r.imageUUID)).toHaveLength(2)

    // A duplicate recorded meanwhile changes nothing, and writes no second KV value.
    const again = await s.recorder.record(task, [{ index: 1, item: { ...item(1), imageUUID: crypto.randomUUID() } }])
    expect(again.results[1]).toMatchObject({ imageUUID: (read.results as { imageUUID: string }[])[1]?.imageUUID })

    clock.now += 61_000 // KV has caught up
    const late = await s.view.describe('tlagging', taskUUID)
    const uuids = (view: Record<string, unknown>) => (view.results as { imageUUID: string }[]).map((r) => r.imageUUID)
    expect(late.status).toBe('succeeded')
    expect(uuids(late)).toEqual(uuids(read))
  })
})

describe('deliveries over a lagging KV', () => {
  it('retry while neither KV nor the shard has the URLs, and find them once KV shows the record', async () => {
    const clock = { now: Date.now() }
    const kv = laggingKv(env.TASKS, clock)
    const s = buildServices({ ...env, TASKS: kv }, requireConfig(env), { origin: BASE, waitUntil: () => undefined })
    const task = taskRecord({ tenant: 'tlagging', createdAt: clock.now, webhookURL: 'https://hooks.example/lag' })
    expect((await s.tenants.open(task, 30_000, {}, firstDue(task))).kind).toBe('created')
    // Before the task finishes the shard has the URLs (KV is not asked).
    expect(await s.tasks.loadWhole('tlagging', task.taskUUID)).toMatchObject({ task: { webhookURL: task.webhookURL } })
    // A read of the record here before it was written: this location caches the miss.
    expect(await kv.get(kvTaskKey('tlagging', task.taskUUID))).toBeNull()
    await s.tenants.recordResults('tlagging', task.taskUUID, [{ index: 0, ok: false, code: 'x', message: 'y', at: clock.now }])
    await s.tenants.settled(task) // the shard lets go of the URLs: only KV has them now
    expect((await s.tasks.load('tlagging', task.taskUUID))?.task.webhookURL).toBeUndefined()
    expect(await s.tasks.loadWhole('tlagging', task.taskUUID)).toBe('later')
    const decision = await s.deliverer.deliver({ v: 1, kind: 'webhook', tenant: 'tlagging', taskUUID: task.taskUUID, index: 0 })
    expect(decision).toEqual({ action: 'retry', delaySeconds: 60 })
    clock.now += 61_000
    expect(await s.tasks.loadWhole('tlagging', task.taskUUID)).toMatchObject({ task: { webhookURL: task.webhookURL } })
  })
})

describe('deliveries of a deleted task', () => {
  it('stop at once, though KV still serves the record it had', async () => {
    const task = taskRecord({ tenant: 'tlagging', webhookURL: 'https://hooks.example/gone' })
    const s = servicesOver({ now: Date.now() })
    await s.tenants.open(task, 30_000, {}, firstDue(task))
    await s.tenants.recordResults('tlagging', task.taskUUID, [{ index: 0, ok: false, code: 'x', message: 'y', at: Date.now() }])
    await s.tenants.settled(task)
    const record = await env.TASKS.get(kvTaskKey('tlagging', task.taskUUID))
    expect(record).not.toBeNull()
    // KV elsewhere may serve the record for a minute after the shard deleted it.
    const stale = { ...env.TASKS, get: async () => JSON.parse(record ?? 'null') } as unknown as KVNamespace
    const elsewhere = buildServices({ ...env, TASKS: stale }, requireConfig(env), { origin: BASE, waitUntil: () => undefined })
    expect(await elsewhere.tasks.loadWhole('tlagging', task.taskUUID)).toMatchObject({ task: { webhookURL: task.webhookURL } })
    await s.tenants.remove(task)
    expect((await elsewhere.tasks.loadWhole('tlagging', task.taskUUID)) as { task: { deleted?: boolean } }).toMatchObject({
      task: { deleted: true },
    })
    const decision = await elsewhere.deliverer.deliver({ v: 1, kind: 'webhook', tenant: 'tlagging', taskUUID: task.taskUUID, index: 0 })
    expect(decision).toEqual({ action: 'ack' })
  })
})
